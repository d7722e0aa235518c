/// Metrics, the weight map and the distance transform, on small cases with known answers.
module CropCat.Tests.MetricsTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Data
open CropCat.Training

/// The weight map by brute force: distances to every pixel of every instance, two smallest per pixel.
let private bruteWeights (classes: int[]) (instances: int[]) h w (w0: float) (sigma: float) =
    let wc = WeightMap.ClassWeights(classes, true)
    let ids = instances |> Array.filter ((<>) 0) |> Array.distinct

    Array.init (h * w) (fun i ->
        let x, y = i % w, i / w
        let baseW = wc[classes[i]]

        if classes[i] <> 0 || ids.Length < 2 then
            float32 baseW
        else
            let ds =
                ids
                |> Array.map (fun id ->
                    seq {
                        for j in 0 .. h * w - 1 do
                            if instances[j] = id then
                                let dx, dy = float (j % w - x), float (j / w - y)
                                yield sqrt (dx * dx + dy * dy)
                    }
                    |> Seq.min)
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

        test "Rand error: 0 when perfect, 1/3 for two merged cells, 1/3 for a split cell, 0.6 for a missed cell" {
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 2; 2; 0 |], [| 5; 5; 7; 7; 0 |])) 0.0 "relabelled but perfect"
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 2; 2 |], [| 1; 1; 1; 1 |])) (1.0 / 3.0) "merge: P=1/2, R=1"
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1; 1; 1 |], [| 1; 1; 2; 2 |])) (1.0 / 3.0) "split: P=1, R=1/2"
            Expect.floatClose Accuracy.veryHigh (Metrics.RandError([| 1; 1 |], [| 0; 0 |])) 0.6 "missed: P=1, R=1/4"
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
