/// Metrics, the weight map and the distance transform, on small cases with known answers.
module CropCat.Tests.MetricsTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Data
open CropCat.Training
open CropCat.Numerics

/// The weight map by brute force: distances to every pixel of every instance, two smallest per pixel.
/// w_c = N / (K n_c) is computed here from the counts, not by WeightMap.ClassWeights.
let private bruteWeights (classes: int[]) (instances: int[]) h w (w0: float) (sigma: float) =
    let counts = classes |> Array.countBy id |> dict

    let wc c =
        float classes.Length / float (counts.Count * counts[c])

    let ids = instances |> Array.filter ((<>) 0) |> Array.distinct

    let pixelsOf =
        ids
        |> Array.map (fun id -> [|
            for j in 0 .. h * w - 1 do
                if instances[j] = id then
                    j
        |])

    Array.init (h * w) (fun i ->
        let x, y = i % w, i / w
        let baseW = wc classes[i]

        if classes[i] <> 0 || ids.Length < 2 then
            float32 baseW
        else
            let ds =
                pixelsOf
                |> Array.map (fun js ->
                    let mutable best = infinity

                    for j in js do
                        let dx, dy = float (j % w - x), float (j / w - y)
                        best <- min best (dx * dx + dy * dy)

                    sqrt best)
                |> Array.sort

            float32 (baseW + w0 * exp (-((ds[0] + ds[1]) ** 2.0) / (2.0 * sigma * sigma))))

[<Tests>]
let metrics =
    testList "Metrics" [
        test "IoU, Dice and pixel error of a hand-made case" {
            // truth 1 1 1 0 / prediction 1 1 0 0 0... : fg tp=2 fp=1 fn=1, bg tp=1 fp=1 fn=1
            let truth = [| 1; 1; 1; 0; 0 |]
            let pred = [| 1; 1; 0; 1; 0 |]
            let s = Metrics.Score(truth, pred, 2)
            Expect.floatClose Accuracy.veryHigh s.IoU[1] 0.5 "fg IoU 2/4"
            Expect.floatClose Accuracy.veryHigh s.Dice[1] (4.0 / 6.0) "fg Dice 4/6"
            Expect.floatClose Accuracy.veryHigh s.IoU[0] (1.0 / 3.0) "bg IoU 1/3"
            Expect.floatClose Accuracy.veryHigh s.PixelError 0.4 "2 of 5 wrong"
        }

        test "a class absent from truth and prediction has NaN scores, not 0 or 1" {
            let s = Metrics.Score([| 0; 0 |], [| 0; 0 |], 3)
            Expect.isTrue (Double.IsNaN s.IoU[2]) "absent class"
            Expect.equal s.IoU[0] 1.0 "perfect background"
        }

        test "Rand error counts pixel pairs: 0 when perfect, 1/2 for two merged or one split cell, true background ignored" {
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 2; 2; 0 |], [| 5; 5; 7; 7; 0 |])) 0.0 "relabelled but perfect"
            // Merge: 4 pairs agree, 4 true and 12 predicted pairs: 1 - 2*4/(4+12).
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 2; 2 |], [| 1; 1; 1; 1 |])) 0.5 "merge: P=1/3, R=1"
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 1; 1 |], [| 1; 1; 2; 2 |])) 0.5 "split: P=1, R=1/3"
            // True background is ignored, whatever is predicted there.
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 0; 0; 0 |], [| 1; 1; 1; 1; 2 |])) 0.0 "background ignored"
            // As in scikit-image, predicted 0 is a segment like any other in label maps.
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1 |], [| 0; 0 |])) 0.0 "label 0 predicted is a segment"
            Expect.equal (Metrics.RandError([| 0; 0 |], [| 1; 2 |])) 0.0 "no true cell: nothing to get wrong"
            Expect.equal (Metrics.RandError([| 1; 2 |], [| 1; 2 |])) 0.0 "no pair anywhere: 0 (scikit-image: NaN)"
        }

        test "Rand error of class maps: a missed cell is split into single pixels, not a segment" {
            Expect.floatClose Accuracy.veryHigh (Metrics.RandErrorOfClasses([| 1; 1 |], [| 0; 0 |], 1, 2)) 1.0 "missed: no pair kept"
            // Two cells that each lose one rim pixel to the background: not a merge of the two rims.
            let truth = [| 1; 1; 1; 0; 2; 2; 2 |]
            let pred = [| 1; 1; 0; 0; 0; 1; 1 |]
            Expect.floatClose Accuracy.veryHigh (Metrics.RandErrorOfClasses(truth, pred, 1, 7)) 0.5 "1 - 2*2/(6 + 2)"
        }

        test "Rand error of class maps uses the predicted foreground's 4-connected components" {
            // Truth: two cells split by a background column; a prediction that closes the gap merges them.
            let truth = [| 1; 0; 2; 1; 0; 2 |]
            Expect.floatClose Accuracy.veryHigh (Metrics.RandErrorOfClasses(truth, [| 1; 0; 1; 1; 0; 1 |], 2, 3)) 0.0 "gap kept"
            Expect.isGreaterThan (Metrics.RandErrorOfClasses(truth, [| 1; 1; 1; 1; 0; 1 |], 2, 3)) 0.1 "gap closed"
        }

        test "4-connected components keep diagonal neighbours apart" {
            let ids = Components.Label([| true; false; false; true |], 2, 2)
            Expect.equal ids [| 1; 0; 0; 2 |] "two components"
        }
    ]

/// Tests/golden/rand_expected.json, written by rand_fixture.py with scikit-image.
let private randFixture () =
    let rec up (d: DirectoryInfo) =
        if isNull d then
            failwith "Tests/golden/rand_expected.json not found above the test program or the working directory"
        else
            let p = Path.Combine(d.FullName, "Tests", "golden", "rand_expected.json")
            if File.Exists p then p else up d.Parent

    let path =
        try
            up (DirectoryInfo AppContext.BaseDirectory)
        with _ ->
            up (DirectoryInfo Environment.CurrentDirectory)

    JsonNode.Parse(File.ReadAllText path)

let private ints (n: JsonNode) =
    n.AsArray() |> Seq.map (fun v -> v.GetValue<int>()) |> Array.ofSeq

/// The largest |CropCat - scikit-image| over the fixture's cases of one kind, and their number.
let private goldenGap (kind: string) (score: JsonNode -> float) =
    let root = randFixture ()
    let cases = root[kind].AsArray() |> List.ofSeq

    let gaps =
        cases |> List.map (fun c -> abs (score c - c["expected"].GetValue<float>()))

    List.max gaps, cases.Length

[<Tests>]
let randGolden =
    testList "Metrics.RandGolden" [
        test "Rand error of label maps equals scikit-image's adapted_rand_error within 1e-9" {
            let gap, n =
                goldenGap "labels" (fun c -> Metrics.RandError(ints c["truth"], ints c["predicted"]))

            Expect.equal n 40 "cases"
            Expect.isLessThanOrEqual gap 1e-9 $"largest difference over {n} cases"
        }

        test "Rand error of class maps equals scikit-image on their 4-connected components, background pixels single" {
            let gap, n =
                goldenGap "classes" (fun c ->
                    Metrics.RandErrorOfClasses(ints c["truth"], ints c["classes"], c["height"].GetValue<int>(), c["width"].GetValue<int>()))

            Expect.equal n 30 "cases"
            Expect.isLessThanOrEqual gap 1e-9 $"largest difference over {n} cases"
        }
    ]

[<Tests>]
let weightMap =
    let instanceMaps =
        gen {
            let! h = Gen.choose (3, 14)
            let! w = Gen.choose (3, 14)

            let! ids =
                Gen.arrayOfLength (h * w) (Gen.frequency [ 5, Gen.constant 0; 1, Gen.constant 1; 1, Gen.constant 2; 1, Gen.constant 3 ])

            return h, w, ids
        }
        |> Arb.fromGen

    // One cell near the top-left and one near the bottom-right corner of an image of 40-64 px, so that some
    // pixels lie farther than the 29 px cutoff from the second cell; then up to four more, touching or not.
    let defaultCases =
        gen {
            let! h = Gen.choose (40, 64)
            let! w = Gen.choose (40, 64)
            let! extra = Gen.choose (0, 4)

            let box =
                Gen.zip (Gen.zip (Gen.choose (0, h - 1)) (Gen.choose (0, w - 1))) (Gen.zip (Gen.choose (1, 9)) (Gen.choose (1, 9)))

            let! boxes = Gen.listOfLength extra box
            let! corner = Gen.zip (Gen.choose (1, 6)) (Gen.choose (1, 6))
            let ids = Array.zeroCreate (h * w)

            let paint id (y0, x0) (bh, bw) =
                for y in y0 .. min (h - 1) (y0 + bh - 1) do
                    for x in x0 .. min (w - 1) (x0 + bw - 1) do
                        ids[y * w + x] <- id

            paint 1 (1, 1) corner
            paint 2 (h - 1 - fst corner, w - 1 - snd corner) corner
            boxes |> List.iteri (fun k (at, size) -> paint (k + 3) at size)
            return h, w, ids
        }
        |> Arb.fromGen

    testList "Training.WeightMap" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 60
            }
            "1-D squared distance transform equals brute force"
        <| fun (vals: int[]) ->
            let f =
                vals
                |> Array.map (fun v ->
                    if v % 3 = 0 then
                        DistanceTransform.Infinity
                    else
                        float (abs v % 50))

            let d = Array.zeroCreate f.Length

            DistanceTransform.Squared1D(
                ReadOnlySpan f,
                Span d,
                Span(Array.zeroCreate (max 1 f.Length)),
                Span(Array.zeroCreate (f.Length + 1))
            )

            let brute =
                Array.init f.Length (fun q -> f |> Array.mapi (fun p fp -> float ((q - p) * (q - p)) + fp) |> Array.min)

            Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-6 * max 1.0 (abs b)) d brute

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 40
                    arbitrary = []
            }
            "the weight map equals a brute-force reference"
        <| Prop.forAll instanceMaps (fun (h, w, ids) ->
            let classes = ids |> Array.map (fun i -> if i > 0 then 1 else 0)
            let fast = WeightMap.Compute(classes, ids, h, w, WeightMapOptions(Sigma = 2.0))
            let brute = bruteWeights classes ids h w 10.0 2.0
            Array.forall2 (fun (a: float32) b -> abs (a - b) <= 1e-4f) fast brute)

        test "the defaults are the paper's: w0 = 10, sigma = 5, and distances are cut at 29 px" {
            let o = WeightMapOptions()
            Expect.equal (o.W0, o.Sigma) (10.0, 5.0) "w0, sigma"
            Expect.isTrue (o.BalanceClasses && o.BorderTerm) "class balance and border term on"
            // 10 exp(-R^2 / 50) = 1e-6 at R = 28.4.
            Expect.equal o.CutoffRadius 29 "cutoff radius"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 25
                    arbitrary = []
            }
            "with the defaults, on images larger than the cutoff, the weight map equals a brute-force reference"
        <| Prop.forAll defaultCases (fun (h, w, ids) ->
            let classes = ids |> Array.map (fun i -> if i > 0 then 1 else 0)
            let fast = WeightMap.Compute(classes, ids, h, w)
            let brute = bruteWeights classes ids h w 10.0 5.0
            // float32 weights up to about 20; the cut-off term is below 1e-6.
            let worst = Array.map2 (fun (a: float32) b -> abs (a - b)) fast brute |> Array.max
            (worst <= 2e-5f) |> Prop.label $"{h}x{w}: largest difference {worst}")

        test "class weights balance the classes: mean 1, inversely proportional to frequency" {
            let wc = WeightMap.ClassWeights([| 0; 0; 0; 1 |])
            Expect.floatClose Accuracy.veryHigh wc[0] (4.0 / 6.0) "background"
            Expect.floatClose Accuracy.veryHigh wc[1] 2.0 "foreground"
        }

        test "the border term is largest in the gap between two touching cells" {
            // Two 3-wide cells with a 1-px gap at x = 3 in a 9-px wide image.
            let w, h = 9, 5

            let ids =
                Array.init (w * h) (fun i ->
                    let x = i % w in

                    if x < 3 then 1
                    elif x > 3 && x < 7 then 2
                    else 0)

            let classes = ids |> Array.map (fun i -> min i 1)
            let wm = WeightMap.Compute(classes, ids, h, w)
            Expect.isGreaterThan wm[2 * w + 3] (wm[2 * w + 8] + 5.0f) "gap pixel outweighs the far background"
        }
    ]
