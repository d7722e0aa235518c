/// Properties of the shape algebra that need no network: the valid-size solver against brute force,
/// centre crops, and up/down steps.
module CropCat.Tests.PropertiesShapes

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Dsl
open CropCat.Layers
open CropCat.Shapes
open CropCat.Tests.DslGenerators

/// Case counts: each property's maxTest is its number of generated cases.
let solverCases = 40
let cropCases = 100
let upDownCases = 30

let private config n = {
    FsCheckConfig.defaultConfig with
        maxTest = n
}

/// Sound and complete up to 1024: the listed sizes are exactly those inference accepts, with the
/// listed output size. The brute force is the test's, never the solver's.
/// Same shape and the same values.
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && a.eq(b).all().item<bool> ()

let private solverMatchesBruteForce (net: Net) =
    match ValidSizes.solve net with
    | Ok s ->
        [ 1..1024 ]
        |> List.forall (fun n ->
            match ShapeCheck.infer net n, ValidSizes.outputOf s n with
            | Ok i, Some out -> i.Output.Height = out && i.Output.Width = out
            | Error _, None -> true
            | _ -> false)
        |> Prop.label $"%A{s.Progressions}"
    | Error e when e.Reason.StartsWith "no input size works" ->
        [ 1..1024 ]
        |> List.forall (fun n -> Result.isError (ShapeCheck.infer net n))
        |> Prop.label e.Message
    | Error e -> false |> Prop.label $"the solver refused a generated description: {e.Message}"

[<Tests>]
let solver =
    testList "Properties.valid sizes" [
        testPropertyWithConfig (config solverCases) "sound and complete up to 1024 (depth 1-5)"
        <| Prop.forAll (arbNet 5) solverMatchesBruteForce

        testPropertyWithConfig (config solverCases) "nearest and inputFor agree with the listed sizes"
        <| Prop.forAll (Arb.zip (arbNet 4, Arb.fromGen (Gen.choose (1, 1024)))) (fun (net, n) ->
            match ValidSizes.solve net with
            | Error _ -> true |> Prop.classify true "no sizes"
            | Ok s ->
                let m = ValidSizes.nearest s n
                let valid = [ 1 .. 2 * 1024 ] |> List.filter (ValidSizes.contains s)
                let best = valid |> List.minBy (fun v -> abs (v - n), -v)

                let covering = valid |> List.tryFind (fun v -> (ValidSizes.outputOf s v).Value >= n)

                (m = best && ValidSizes.inputFor s n |> Option.map fst = covering)
                |> Prop.classify false "no sizes")
    ]

[<Tests>]
let centreCrop =
    let genCrop =
        gen {
            let! h = Gen.choose (1, 12)
            let! w = Gen.choose (1, 12)
            let! h1 = Gen.choose (1, h)
            let! w1 = Gen.choose (1, w)
            let! h2 = Gen.choose (1, h1)
            let! w2 = Gen.choose (1, w1)
            return h, w, h1, w1, h2, w2
        }

    testList "Properties.centre crop" [
        testPropertyWithConfig (config cropCases) "target size, values at floor((H-h)/2), crop of a crop is one crop"
        <| Prop.forAll (Arb.fromGen genCrop) (fun (h, w, h1, w1, h2, w2) ->
            CropCat.Runtime.NativeRuntime.EnsureLoaded()
            use _ = torch.NewDisposeScope()
            let x = torch.rand ([| 1L; 2L; int64 h; int64 w |])
            let c1 = Crop.Center(x, h1, w1)

            let slice =
                x.narrow(2, int64 ((h - h1) / 2), int64 h1).narrow (3, int64 ((w - w1) / 2), int64 w1)

            let twice = Crop.Center(c1, h2, w2)
            // Two crops are one crop at the summed offsets; they equal the direct centre crop
            // unless both margins on an axis are odd (floor offsets then drift by one pixel).
            let oh = (h - h1) / 2 + (h1 - h2) / 2
            let ow = (w - w1) / 2 + (w1 - w2) / 2
            let once = x.narrow(2, int64 oh, int64 h2).narrow (3, int64 ow, int64 w2)
            let bothOdd a b = a % 2 = 1 && b % 2 = 1
            let direct = Crop.Center(x, h2, w2)

            (c1.shape = [| 1L; 2L; int64 h1; int64 w1 |] |> Prop.label "target size")
            .&. (same c1 slice |> Prop.label "values at the floor offset")
            .&. (same twice once |> Prop.label "crop of a crop is one crop")
            .&. ((bothOdd (h - h1) (h1 - h2) || bothOdd (w - w1) (w1 - w2) || same twice direct)
                 |> Prop.label "equals the direct crop unless both margins are odd"))
    ]

[<Tests>]
let upDown =
    let genStep =
        gen {
            let! half = Gen.choose (1, 24)
            let! c = Gen.choose (1, 3)
            let! c' = Gen.choose (1, 3)
            let! mode = Gen.elements [ UpMode.Transposed; UpMode.Bilinear ]
            return half, c, c', mode
        }

    testList "Properties.up and down" [
        testPropertyWithConfig (config upDownCases) "up doubles, pool halves even sizes, up after down restores them"
        <| Prop.forAll (Arb.fromGen genStep) (fun (half, c, c', mode) ->
            CropCat.Runtime.NativeRuntime.EnsureLoaded()
            let n = 2 * half
            let up = Up("up", "up", 2, c, c', mode)
            let down = MaxPoolDown("down")
            use _ = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let x = torch.rand ([| 1L; int64 c; int64 half; int64 half |])
            let even = torch.rand ([| 1L; int64 c; int64 n; int64 n |])
            let upped = up.Forward x
            let pooled = down.Forward even
            let back = up.Forward pooled
            let rule = ShapeRules.Up2x(Shape(c, half, half), c, c')

            (upped.shape = [| 1L; int64 c'; int64 n; int64 n |] |> Prop.label "up doubles")
            .&. (rule.Value = Shape(c', n, n) |> Prop.label "the rule says the same")
            .&. (pooled.shape = [| 1L; int64 c; int64 half; int64 half |]
                 |> Prop.label "pool halves")
            .&. (ShapeRules.MaxPool2x2(Shape(c, n, n), PoolMode.Strict).Value = Shape(c, half, half)
                 |> Prop.label "pool rule")
            .&. (back.shape = [| 1L; int64 c'; int64 n; int64 n |]
                 |> Prop.label "up after down restores")
            .&. (not (ShapeRules.MaxPool2x2(Shape(c, n + 1, n + 1), PoolMode.Strict).IsOk)
                 |> Prop.label "odd refused"))
    ]
