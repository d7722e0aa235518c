/// The loss library (Core.CSharp/Training/Objectives): PyTorch golden values and gradients, finite differences,
/// invalid pixels, the text form and refusals.
module CropCat.Tests.ObjectiveTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Dsl
open CropCat.Training
open CropCat.Tests.TestUtil

/// One batch of loss inputs as plain arrays, the form the fixture and the generators share.
type private Batch = {
    Shape: int64[]
    Logits: float[]
    Target: int64[]
    Weights: float[] option
    Valid: float[] option
}

let private pixelShape (b: Batch) = [| b.Shape[0]; b.Shape[2]; b.Shape[3] |]

let private doubles (a: float[]) (shape: int64[]) = torch.tensor(a).reshape shape

let private labels (a: int64[]) (shape: int64[]) = torch.tensor(a).reshape shape

/// Value and logit gradient of `o` on `b` in `dtype`.
let private evaluate (dtype: torch.ScalarType) (o: Objective) (b: Batch) =
    use _ = torch.NewDisposeScope()

    use x = (doubles b.Logits b.Shape).to_type(dtype).requires_grad_ (true)

    let t = labels b.Target (pixelShape b)

    let opt (a: float[] option) =
        a
        |> Option.map (fun a -> (doubles a (pixelShape b)).to_type dtype)
        |> Option.toObj

    let loss = o.Compute(x, t, opt b.Weights, opt b.Valid)
    loss.backward ()
    loss.to_type(torch.float64).item<float> (), x.grad.to_type(torch.float64).data<float>().ToArray()

let private maxAbsDiff (a: float[]) (b: float[]) =
    Array.map2 (fun x y -> abs (x - y)) a b |> Array.fold max 0.0

// ---- the PyTorch fixture ---------------------------------------------------------------------

type private GoldenLoss = {
    Text: string
    Value: float
    Grad: float[]
}

let private floats (n: JsonNode) =
    n.AsArray() |> Seq.map (fun v -> v.GetValue<float>()) |> Array.ofSeq

let private golden =
    lazy
        (let dir = committedDir "fixtures/losses" "golden.json"
         let root = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "golden.json")))

         [
             for c in root["cases"].AsArray() do
                 let optional (key: string) =
                     match c[key] with
                     | null -> None
                     | n -> Some(floats n)

                 let batch = {
                     Shape = c["shape"].AsArray() |> Seq.map (fun v -> v.GetValue<int64>()) |> Array.ofSeq
                     Logits = floats c["logits"]
                     Target = c["target"].AsArray() |> Seq.map (fun v -> v.GetValue<int64>()) |> Array.ofSeq
                     Weights = optional "weights"
                     Valid = optional "valid"
                 }

                 let losses = [
                     for l in c["losses"].AsArray() ->
                         {
                             Text = l["loss"].GetValue<string>()
                             Value = l["value"].GetValue<float>()
                             Grad = floats l["grad"]
                         }
                 ]

                 c["name"].GetValue<string>(), batch, losses
         ])

/// Runs every fixture loss in `dtype`; returns (case, loss, value diff, max gradient diff).
let private goldenDiffs dtype = [
    for name, batch, losses in golden.Force() do
        for l in losses do
            let v, g = evaluate dtype (Objective.Parse l.Text) batch
            name, l.Text, abs (v - l.Value), maxAbsDiff g l.Grad
]

let private checkGolden dtype (label: string) =
    let diffs = goldenDiffs dtype
    Expect.isGreaterThanOrEqual diffs.Length 70 "every fixture loss was run"

    // Per loss family (the name before any parenthesis), the worst difference: the closing note's table.
    diffs
    |> List.groupBy (fun (_, text, _, _) -> Text.RegularExpressions.Regex.Replace(text, @"\([^()]*\)", ""))
    |> List.iter (fun (family, rows) ->
        let worst = rows |> List.map (fun (_, _, dv, dg) -> max dv dg) |> List.max
        printfn "objective golden %s %-16s max |diff| %.3g" label family worst)

    for case, text, dv, dg in diffs do
        Expect.isLessThanOrEqual dv 1e-5 $"{case} {text}: value differs from PyTorch by {dv}"
        Expect.isLessThanOrEqual dg 1e-5 $"{case} {text}: gradient differs from PyTorch by {dg}"

// ---- random batches and the catalogue ----------------------------------------------------------

/// A random batch from `seed`: N in 1..2, H, W in 2..4, K = `classes`; when masked, the last pixel and about 30%
/// of the others (never the first) are invalid, with weight 0 there.
let private randomBatch (classes: int) (masked: bool) (seed: int) =
    let r = Random seed
    let n, h, w = r.Next(1, 3), r.Next(2, 5), r.Next(2, 5)
    let pixels = n * h * w

    let gauss () =
        sqrt (-2.0 * log (1.0 - r.NextDouble())) * cos (2.0 * Math.PI * r.NextDouble())

    let valid =
        Array.init pixels (fun i ->
            if masked && i > 0 && (i = pixels - 1 || r.NextDouble() < 0.3) then
                0.0
            else
                1.0)

    {
        Shape = [| int64 n; int64 classes; int64 h; int64 w |]
        Logits = Array.init (pixels * classes) (fun _ -> 1.5 * gauss ())
        Target = Array.init pixels (fun _ -> int64 (r.Next(0, max classes 2)))
        Weights = Some(Array.init pixels (fun i -> valid[i] * (0.2 + 2.0 * r.NextDouble())))
        Valid = if masked then Some valid else None
    }

/// Every loss with non-default parameters too, for the head with `classes` channels.
let private catalogue classes : Objective list = [
    if classes = 1 then
        Loss.bce
        Loss.bceWithPosWeight 3.0
    else
        Loss.wce
    Loss.dice
    Dice(Smooth = 0.0)
    Loss.jaccard
    Loss.focal 2.0
    Loss.focalBalanced 0.5 0.25
    Loss.tversky 0.3 0.7
    Loss.focalTversky 0.7 0.3 1.5
    Loss.lovasz
    Loss.lovaszBatch
    (if classes = 1 then Loss.bce else Loss.wce) + 0.5 * Loss.dice
]

/// Central differences of `o` on `b` at logit `i`, in double precision.
let private centralDifference (o: Objective) (b: Batch) (i: int) =
    let h = 1e-6

    let at d =
        let l = Array.copy b.Logits
        l[i] <- l[i] + d
        fst (evaluate torch.float64 o { b with Logits = l })

    (at h - at (-h)) / (2.0 * h)

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 15
}

// ---- the text form -------------------------------------------------------------------------------

let private genNumber =
    Gen.oneof [
        Gen.elements [ 0.0; 0.25; 0.5; 1.0; 2.0; 1e-7 ]
        Gen.choose (0, 1000000) |> Gen.map (fun i -> float i / 997.0)
    ]

let private genFraction =
    Gen.choose (0, 1000) |> Gen.map (fun i -> float i / 1000.0)

let private genIgnore = Gen.elements [ None; Some 255; Some -100 ]

let private genClassWeights =
    Gen.oneof [
        Gen.constant None
        gen {
            let! k = Gen.choose (1, 4)
            let! ws = Gen.arrayOfLength k (Gen.choose (1, 100) |> Gen.map (fun i -> float i / 10.0))
            return Some(ClassWeights ws)
        }
    ]

let private genBasic: Gen<Objective> =
    gen {
        let! ignore = genIgnore
        let! smooth = genNumber
        let! cw = genClassWeights
        let! a = genFraction
        let! b = genNumber
        let! g = genNumber
        let! flag = Gen.elements [ true; false ]

        let! o =
            Gen.elements [
                WeightedCrossEntropy() :> BasicObjective
                BinaryCrossEntropy()
                BinaryCrossEntropy(PosWeight = b + 0.5)
                Dice(Smooth = smooth, ClassWeights = Option.toObj cw)
                Jaccard(Smooth = smooth, ClassWeights = Option.toObj cw)
                Tversky(Alpha = a, Beta = b, Smooth = smooth)
                FocalTversky(Alpha = b, Beta = a, Gamma = g + 0.01, ClassWeights = Option.toObj cw)
                Focal(Gamma = g)
                Focal(Gamma = g, Alpha = a)
                Lovasz(PerImage = flag)
            ]

        return o.WithIgnoreIndex(Option.toNullable ignore) :> Objective
    }

let rec private genObjective depth : Gen<Objective> =
    if depth = 0 then
        genBasic
    else
        Gen.frequency [
            2, genBasic
            1,
            gen {
                let! k = Gen.choose (1, 3)
                let! terms = Gen.listOfLength k (Gen.zip genNumber (genObjective (depth - 1)))
                return WeightedSum(terms |> List.map WeightedTerm) :> Objective
            }
        ]

let private refuses (f: unit -> unit) (fragments: string list) (what: string) =
    let e = Expect.throwsC f id

    for s in fragments do
        Expect.stringContains e.Message s $"{what}: message names '{s}'"

[<Tests>]
let tests =
    testList "Objectives" [
        test "every loss matches PyTorch's reference formulas in double precision (value and gradient <= 1e-5)" {
            init ()
            checkGolden torch.float64 "float64"
        }

        test "every loss matches PyTorch's reference formulas in single precision too (<= 1e-5)" {
            init ()
            checkGolden torch.float32 "float32"
        }

        test "the fixture's loss texts read back to equal objectives, written without default parameters" {
            for _, _, losses in golden.Force() do
                for l in losses do
                    let o = Objective.Parse l.Text
                    Expect.equal (Objective.Parse(string o)) o $"{l.Text} round trip"
                    Expect.isFalse ((string o).Contains "alpha=0.3,beta=0.7") $"{o}: defaults are left out"
        }

        testPropertyWithConfig config "gradients equal central differences (double precision, binary and 3-class, masked)"
        <| fun (seed: int) ->
            init ()

            for classes in [ 1; 3 ] do
                let b = randomBatch classes true seed
                let r = Random(seed + classes)

                for o in catalogue classes do
                    let _, grad = evaluate torch.float64 o b

                    for _ in 1..6 do
                        let i = r.Next b.Logits.Length
                        let fd = centralDifference o b i
                        let tol = 1e-6 + 1e-5 * abs fd

                        Expect.isLessThanOrEqual
                            (abs (grad[i] - fd))
                            tol
                            $"{o} on K={classes}, seed {seed}, logit {i}: autograd {grad[i]} vs {fd}"

        testPropertyWithConfig config "logits, targets and weights at invalid pixels change neither value nor gradient"
        <| fun (seed: int) ->
            init ()

            for classes in [ 1; 3 ] do
                let b = randomBatch classes true seed
                let valid = b.Valid.Value
                let r = Random(seed * 7 + 1)
                let perPixel = valid.Length
                let hw = int (b.Shape[2] * b.Shape[3])
                let pixelOfLogit j = (j / (classes * hw)) * hw + j % hw

                let changed = {
                    b with
                        Logits =
                            b.Logits
                            |> Array.mapi (fun j x ->
                                if valid[pixelOfLogit j] = 0.0 then
                                    40.0 * (r.NextDouble() - 0.5)
                                else
                                    x)
                        Target =
                            b.Target
                            |> Array.mapi (fun p t ->
                                if valid[p] = 0.0 then
                                    int64 (r.Next(0, max classes 2))
                                else
                                    t)
                        Weights = Some(Array.init perPixel (fun p -> if valid[p] = 0.0 then 5.0 else b.Weights.Value[p]))
                }

                for o in catalogue classes do
                    let v1, g1 = evaluate torch.float64 o b
                    let v2, g2 = evaluate torch.float64 o changed
                    Expect.floatClose Accuracy.veryHigh v2 v1 $"{o}, K={classes}: value"
                    Expect.isLessThanOrEqual (maxAbsDiff g1 g2) 1e-12 $"{o}, K={classes}: gradient"

                    for j in 0 .. g1.Length - 1 do
                        if valid[pixelOfLogit j] = 0.0 then
                            Expect.equal g1[j] 0.0 $"{o}, K={classes}: gradient at an invalid pixel"

        test "an ignore index acts as the valid mask" {
            init ()

            for classes, seed in List.allPairs [ 1; 3 ] [ 5..9 ] do
                let b = randomBatch classes true seed
                Expect.contains b.Valid.Value 0.0 $"seed {seed} has pixels to ignore"

                let ignored = {
                    b with
                        Target = Array.mapi (fun p t -> if b.Valid.Value[p] = 0.0 then 255L else t) b.Target
                        Valid = None
                }

                for o in catalogue classes do
                    let v1, g1 = evaluate torch.float64 o b
                    let v2, g2 = evaluate torch.float64 (Loss.ignoring 255 o) ignored
                    Expect.floatClose Accuracy.veryHigh v2 v1 $"{o}: value"
                    Expect.isLessThanOrEqual (maxAbsDiff g1 g2) 1e-12 $"{o}: gradient"
        }

        test "FromKind gives the values and gradients of Losses.Compute" {
            init ()
            let b = randomBatch 3 false 3

            for kind in Enum.GetValues<LossKind>() do
                use _ = torch.NewDisposeScope()
                let x = (doubles b.Logits b.Shape).requires_grad_ true
                let t = labels b.Target (pixelShape b)
                let w = doubles b.Weights.Value (pixelShape b)
                let old = Losses.Compute(kind, x, t, w)
                old.backward ()
                let oldGrad = x.grad.data<float>().ToArray()
                let v, g = evaluate torch.float64 (Objective.FromKind kind) b
                Expect.floatClose Accuracy.veryHigh v (old.item<float> ()) $"{kind}: value"
                Expect.isLessThanOrEqual (maxAbsDiff g oldGrad) 1e-12 $"{kind}: gradient"
        }

        test "a loss frees every intermediate tensor" {
            init ()
            let b = randomBatch 3 true 9
            // Outside any dispose scope of the test's own, so that only the loss's disposal keeps the count flat.
            use x = (doubles b.Logits b.Shape).to_type(torch.float32).requires_grad_ true
            use t = labels b.Target (pixelShape b)
            use w = (doubles b.Weights.Value (pixelShape b)).to_type torch.float32
            use v = (doubles b.Valid.Value (pixelShape b)).to_type torch.float32

            // Each loss alone too: a sum's own scope would hide its terms' leaks.
            let all =
                Objective.Parse "wce+dice(class_weights=[1,2,3])+focal+tversky+focal-tversky+jaccard+lovasz"
                :: catalogue 3

            settle ()
            let live = torch.Tensor.TotalCount

            for o in all do
                for _ in 1..5 do
                    use loss = o.Compute(x, t, w, v)
                    loss.backward ()

                Expect.equal torch.Tensor.TotalCount live $"{o}: live tensors after 5 evaluations, without a collection"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 300
            }
            "Parse (o.ToString()) = o"
        <| fun () ->
            Prop.forAll (Arb.fromGen (genObjective 2)) (fun o ->
                let text = string o
                let back = Objective.Parse text
                Expect.equal back o $"'{text}' reads back"
                Expect.equal (string back) text "and writes the same text")

        test "the documented texts read as the combinators build them" {
            Expect.equal (Objective.Parse "bce+dice") (Loss.bce + Loss.dice) "bce+dice"
            Expect.equal (Objective.Parse " 0.5 * focal + lovasz ") (0.5 * Loss.focal 2.0 + Loss.lovasz) "0.5*focal+lovasz"
            Expect.equal (Objective.Parse "wce") Loss.wce "wce"
            Expect.equal (Objective.Parse "tversky(alpha=0.3,beta=0.7)") (Loss.tversky 0.3 0.7) "tversky"
            Expect.equal (Objective.Parse "focal(gamma=2)") (Loss.focal 2.0) "focal(gamma=2) is the default"
            Expect.equal (Objective.Parse "focal(gamma=1.5)") (Loss.focal 1.5) "focal(gamma=1.5)"
            Expect.equal (string (0.5 * Loss.focal 1.5 + Loss.lovasz)) "0.5*focal(gamma=1.5)+lovasz" "written"
            Expect.equal (string (Loss.bce + Loss.dice + Loss.lovaszBatch)) "bce+dice+lovasz(per_image=false)" "sums flatten"
            Expect.equal (string (2.0 * (Loss.bce + Loss.dice) + Loss.jaccard)) "2*(bce+dice)+jaccard" "nested sum"
            Expect.equal (string (Loss.ignoring 255 (Loss.bce + Loss.dice))) "bce(ignore_index=255)+dice(ignore_index=255)" "ignoring"
            Expect.equal (Objective.Parse "dice(class_weights=[0,1,1])") (Loss.diceWeighted [ 0.0; 1.0; 1.0 ]) "class weights"
            Expect.equal (Objective.FromKind LossKind.WeightedCrossEntropyPlusDice) (Objective.Parse "wce+dice") "FromKind"
            Expect.notEqual (Objective.Parse "tversky") (Objective.Parse "focal-tversky(gamma=1)") "distinct types differ"
        }

        test "unknown names and parameters are refused with the known ones listed" {
            refuses
                (fun () -> Objective.Parse "bce+dise" |> ignore)
                [ "dise"; "wce, bce, dice, jaccard, tversky, focal-tversky, focal, lovasz" ]
                "unknown loss"

            refuses
                (fun () -> Objective.Parse "focal(beta=1)" |> ignore)
                [ "focal"; "'beta'"; "gamma, alpha, ignore_index" ]
                "unknown parameter"

            refuses (fun () -> Objective.Parse "focal(alpha=2)" |> ignore) [ "focal"; "alpha" ] "alpha out of range"
            refuses (fun () -> Objective.Parse "lovasz(per_image=1)" |> ignore) [ "per_image"; "true or false" ] "bool"
            refuses (fun () -> Objective.Parse "0.5*" |> ignore) [ "position" ] "syntax"
            refuses (fun () -> Objective.Parse "bce dice" |> ignore) [ "unexpected 'd'" ] "trailing"
            refuses (fun () -> Objective.Parse "-1*bce" |> ignore) [ "finite number >= 0" ] "negative weight"
        }

        test "each loss refuses a head it does not take, naming itself and the shape" {
            init ()
            let three = randomBatch 3 false 1
            let one = randomBatch 1 false 1
            let shape (b: Batch) = "[" + String.Join(", ", b.Shape) + "]"
            refuses (fun () -> evaluate torch.float64 Loss.bce three |> ignore) [ "bce"; shape three; "sigmoid" ] "bce on K=3"

            refuses
                (fun () -> evaluate torch.float64 (Loss.bceWithPosWeight 2.0) three |> ignore)
                [ "bce"; shape three ]
                "bce(pos_weight) on K=3"

            refuses (fun () -> evaluate torch.float64 Loss.wce one |> ignore) [ "wce"; shape one; "softmax" ] "wce on K=1"
            refuses (fun () -> evaluate torch.float64 (Loss.wce + Loss.dice) one |> ignore) [ "wce" ] "a sum refuses through its term"

            refuses
                (fun () -> evaluate torch.float64 (Loss.diceWeighted [ 1.0; 2.0 ]) three |> ignore)
                [ "dice"; "2 class_weights"; "3 channel" ]
                "class weights of the wrong length"

            refuses
                (fun () ->
                    evaluate torch.float64 Loss.dice {
                        three with
                            Target = Array.map (fun _ -> 3L) three.Target
                    }
                    |> ignore)
                [ "dice"; "0..2" ]
                "labels out of range"

            refuses
                (fun () -> evaluate torch.float64 (Loss.ignoring 1 (Loss.focal 2.0)) one |> ignore)
                [ "focal"; "ignore_index 1" ]
                "ignore index is a class"

            refuses
                (fun () ->
                    Loss.bce.Compute(torch.zeros (2L, 1L, 4L, 4L), torch.zeros (2L, 4L, 3L, dtype = torch.int64))
                    |> ignore)
                [ "bce"; "[2, 4, 3]"; "[2, 1, 4, 4]" ]
                "target shape"

            refuses
                (fun () ->
                    Loss.bce.Compute(torch.zeros (2L, 1L, 4L, 4L), torch.zeros (2L, 4L, 4L))
                    |> ignore)
                [ "bce"; "int64" ]
                "float target"
        }
    ]
