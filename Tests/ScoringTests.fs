/// The competition metrics of Training/Scoring: per-class precision and recall, object-level mean average
/// precision (TGS, DSB 2018) and the 95th-percentile Hausdorff distance, each against a brute-force
/// reference written here or a hand-made case with known answers.
module CropCat.Tests.ScoringTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Training

// ---------------------------------------------------------------- mAP, by brute force

/// Thresholds as exact decimals, so that an IoU of exactly k/20 compares as the definition says.
let private decimalThresholds = [| for k in 10..19 -> decimal k / 20M |]

/// TP at each threshold by brute force: per-pair pixel counts, then the largest one-to-one matching of
/// pairs with IoU > t found by trying every matching (no use of the uniqueness argument).
let private bruteTruePositives (truth: int[]) (pred: int[]) =
    let counted = [|
        for k in 0 .. truth.Length - 1 do
            if truth[k] >= 0 then
                k
    |]

    let idsOf (m: int[]) =
        counted |> Array.map (fun k -> m[k]) |> Array.filter ((<>) 0) |> Array.distinct

    let tIds, pIds = idsOf truth, idsOf pred

    let iou a b =
        let inter =
            counted |> Array.filter (fun k -> truth[k] = a && pred[k] = b) |> Array.length

        let union =
            counted |> Array.filter (fun k -> truth[k] = a || pred[k] = b) |> Array.length

        decimal inter / decimal union

    let ious =
        Array.init tIds.Length (fun i -> Array.init pIds.Length (fun j -> iou tIds[i] pIds[j]))

    let tp =
        decimalThresholds
        |> Array.map (fun t ->
            let rec best i (used: Set<int>) =
                if i = tIds.Length then
                    0
                else
                    let skip = best (i + 1) used

                    [
                        for j in 0 .. pIds.Length - 1 do
                            if not (used.Contains j) && ious[i][j] > t then
                                1 + best (i + 1) (used.Add j)
                    ]
                    |> List.fold max skip

            best 0 Set.empty)

    tIds.Length, pIds.Length, tp

let private bruteAveragePrecision truth pred =
    let nt, np, tp = bruteTruePositives truth pred

    let precision =
        tp
        |> Array.map (fun tp ->
            if nt + np = 0 then
                1.0
            else
                float tp / float (tp + (np - tp) + (nt - tp)))

    Array.average precision

/// A small map of a few random rectangles (later ones paint over earlier ones, so shapes are not all boxes).
let private paintRects h w (rects: (int * int * int * int * int) list) (start: int[]) =
    let m = Array.copy start

    for (id, y0, x0, bh, bw) in rects do
        for y in y0 .. min (h - 1) (y0 + bh - 1) do
            for x in x0 .. min (w - 1) (x0 + bw - 1) do
                m[y * w + x] <- id

    m

/// Truth and prediction of 3..12 x 3..12 pixels: truth of up to 5 rectangles, some pixels ignored (-1);
/// prediction either independent rectangles, or the truth with ids permuted and up to 3 rectangles painted
/// over it (so that IoUs near 1 and near every threshold occur).
let private instancePairs =
    gen {
        let! h = Gen.choose (3, 12)
        let! w = Gen.choose (3, 12)

        let rect maxId =
            gen {
                let! id = Gen.choose (0, maxId)
                let! y0 = Gen.choose (0, h - 1)
                let! x0 = Gen.choose (0, w - 1)
                let! bh = Gen.choose (1, h)
                let! bw = Gen.choose (1, w)
                return id, y0, x0, bh, bw
            }

        let! nTruth = Gen.choose (0, 5)
        let! truthRects = Gen.listOfLength nTruth (rect 5)
        let! ignoreRects = Gen.choose (0, 1)
        let! ignored = Gen.listOfLength ignoreRects (rect 0)
        let truth0 = paintRects h w truthRects (Array.zeroCreate (h * w))

        let truth =
            paintRects h w (ignored |> List.map (fun (_, y, x, bh, bw) -> -1, y, x, bh, bw)) truth0

        let! derived = Gen.elements [ true; false ]
        let! nPred = Gen.choose (0, if derived then 3 else 5)
        let! predRects = Gen.listOfLength nPred (rect 7)
        let! shift = Gen.choose (1, 40)
        // Ids permuted (and large, to take the id map's renumbering) so that equal ids mean nothing.
        let relabelled = truth0 |> Array.map (fun v -> if v > 0 then v * 7 + shift else 0)

        let pred =
            paintRects h w predRects (if derived then relabelled else Array.zeroCreate (h * w))

        return h, w, truth, pred
    }

let private withDenseLimit (limit: int64) f =
    let saved = InstanceOverlap.DenseLimit
    InstanceOverlap.DenseLimit <- limit

    try
        f ()
    finally
        InstanceOverlap.DenseLimit <- saved

let private propertyConfig n = {
    FsCheckConfig.defaultConfig with
        maxTest = n
        arbitrary = []
}

let private agreesWithBrute (h, w, truth: int[], pred: int[]) =
    let fast = ObjectScores.Breakdown(truth, pred, h, w)
    let nt, np, tp = bruteTruePositives truth pred
    let brute = bruteAveragePrecision truth pred

    (fast.TrueObjects = nt
     && fast.PredictedObjects = np
     && fast.TruePositives = tp
     && abs (fast.AveragePrecision - brute) <= 1e-12)
    |> Prop.label
        $"{h}x{w}: objects {fast.TrueObjects}/{fast.PredictedObjects} vs {nt}/{np}, TP {fast.TruePositives} vs {tp}, AP {fast.AveragePrecision} vs {brute}"

[<Tests>]
let averagePrecision =
    testList "Scoring.AveragePrecision" [
        testPropertyWithConfig (propertyConfig 300) "mAP equals a brute-force reference (all one-to-one matchings) on random instance maps"
        <| Prop.forAll (Arb.fromGen instancePairs) agreesWithBrute

        testPropertyWithConfig
            (propertyConfig 100)
            "the sparse pair table (thousands of objects) and the dictionary of huge ids give the same answers"
        <| Prop.forAll (Arb.fromGen instancePairs) (fun (h, w, truth, pred) ->
            // Ids near 1e8 are too large for the array id map of a small image.
            let huge = pred |> Array.map (fun v -> if v > 0 then v * 1_000_003 else 0)
            withDenseLimit 0L (fun () -> agreesWithBrute (h, w, truth, huge)))

        test "TGS's empty images: none/none scores 1, objects on one side only score 0" {
            let empty = Array.zeroCreate 12
            let one = Array.init 12 (fun i -> if i < 4 then 1 else 0)
            Expect.equal (ObjectScores.AveragePrecision(empty, empty, 3, 4)) 1.0 "no truth, nothing predicted"
            Expect.equal (ObjectScores.AveragePrecision(empty, one, 3, 4)) 0.0 "no truth, something predicted"
            Expect.equal (ObjectScores.AveragePrecision(one, empty, 3, 4)) 0.0 "truth, nothing predicted"
            Expect.equal (ObjectScores.Breakdown(empty, empty, 3, 4).Precision) (Array.create 10 1.0) "1 at every threshold"
        }

        test "a hand-made image with IoUs 0.8, 0.6 (exactly a threshold), a miss and a false object" {
            let h, w = 10, 10
            let rect id y0 y1 x0 x1 = id, y0, x0, y1 - y0 + 1, x1 - x0 + 1
            // A: 2x10 = 20 px, P covers 16 of it: IoU 0.8. B: 20 px, Q covers 12: IoU 0.6. C: unmatched truth.
            let truth =
                paintRects h w [ rect 1 0 1 0 9; rect 2 4 5 0 9; rect 3 8 9 0 3 ] (Array.zeroCreate (h * w))
            // R lies on background: a false positive.
            let pred =
                paintRects h w [ rect 11 0 1 0 7; rect 12 4 5 0 5; rect 13 7 7 6 9 ] (Array.zeroCreate (h * w))

            let b = ObjectScores.Breakdown(truth, pred, h, w)
            // 0.8 > t for t <= 0.75 (6 thresholds); 0.6 > t for t = 0.5, 0.55 only: 0.6 is not above 0.6.
            Expect.equal b.TruePositives [| 2; 2; 1; 1; 1; 1; 0; 0; 0; 0 |] "TP"
            Expect.equal b.FalsePositives (b.TruePositives |> Array.map (fun tp -> 3 - tp)) "FP"
            Expect.equal b.FalseNegatives (b.TruePositives |> Array.map (fun tp -> 3 - tp)) "FN"
            // 2 / (2 + 1 + 1) twice, 1 / (1 + 2 + 2) four times, 0 four times.
            Expect.floatClose Accuracy.veryHigh b.AveragePrecision ((2.0 * 0.5 + 4.0 * 0.2) / 10.0) "AP"
            Expect.floatClose Accuracy.veryHigh (ObjectScores.AveragePrecision(truth, pred, h, w)) 0.18 "AP alone"
        }

        test "one true object split into two halves is missed at every threshold" {
            let truth = Array.create 8 1
            let pred = [| 1; 1; 1; 1; 2; 2; 2; 2 |]
            // Each half has IoU exactly 0.5, not above it: 1 FN and 2 FP everywhere.
            let b = ObjectScores.Breakdown(truth, pred, 1, 8)
            Expect.equal b.TruePositives (Array.zeroCreate 10) "no hit"
            Expect.equal b.AveragePrecision 0.0 "score"
        }

        test "ignored truth pixels (< 0) count for neither map" {
            let truth = [| -1; -1; 0; 0 |]
            let pred = [| 5; 5; 0; 0 |]
            Expect.equal (ObjectScores.AveragePrecision(truth, pred, 2, 2)) 1.0 "object only in padding: none/none"
            Expect.equal (ObjectScores.AveragePrecision([| 1; -1; 0; 0 |], [| 1; 1; 0; 0 |], 2, 2)) 1.0 "half in padding: IoU 1"
        }

        test "thresholds are 0.5 to 0.95 by 0.05" {
            Expect.sequenceEqual ObjectScores.Thresholds [ for k in 10..19 -> float k / 20.0 ] "thresholds"
        }

        test "a binary prediction's objects are its 4-connected components" {
            // Two blobs touching only at a corner are two objects; the truth has them as two.
            let truth = [| 1; 0; 0; 2 |]
            let ids = ObjectScores.Instances([| true; false; false; true |], 2, 2)
            Expect.equal (ObjectScores.AveragePrecision(truth, ids, 2, 2)) 1.0 "two objects, both hit"
            // Merged into one object, it has IoU exactly 1/2 with each: not above 0.5, so nothing is hit.
            Expect.equal (ObjectScores.AveragePrecision(truth, Array.map (fun v -> min v 1) truth, 2, 2)) 0.0 "one merged object"
        }

        test "the data set's score is the mean over images, each image weighing the same" {
            let m = MeanAveragePrecision()
            Expect.isTrue (Double.IsNaN m.Value) "no image yet"
            m.Add([| 0; 0 |], [| 0; 0 |], 1, 2) |> ignore
            m.Add([| 1; 2 |], [| 0; 0 |], 1, 2) |> ignore
            m.Add([| 1; 1 |], [| 3; 3 |], 1, 2) |> ignore
            Expect.equal m.Images 3 "images"
            Expect.floatClose Accuracy.veryHigh m.Value (2.0 / 3.0) "(1 + 0 + 1) / 3"
            Expect.equal (m.PrecisionAt()) (Array.create 10 (2.0 / 3.0)) "per threshold"
        }

        test "mismatched sizes and negative predicted ids are refused" {
            Expect.throwsT<ArgumentException> (fun () -> ObjectScores.AveragePrecision([| 0; 0 |], [| 0 |], 1, 2) |> ignore) "sizes"
            Expect.throwsT<ArgumentException> (fun () -> ObjectScores.AveragePrecision([| 0; 0 |], [| 0; -1 |], 1, 2) |> ignore) "negative"
        }
    ]

// ---------------------------------------------------------------- precision and recall

[<Tests>]
let classScores =
    testList "Scoring.ClassScores" [
        test "precision and recall of a known confusion matrix; NaN where undefined" {
            // Truth 0: 5 right, 1 as 1. Truth 1: 2 as 0, 3 right, 1 as 2. Truth 3: 2 as 0. Class 4 absent.
            // One ignored pixel (truth -1) predicted 1 must not count.
            let pairs =
                [ 0, 0, 5; 0, 1, 1; 1, 0, 2; 1, 1, 3; 1, 2, 1; 3, 0, 2; -1, 1, 1 ]
                |> List.collect (fun (t, p, n) -> List.replicate n (t, p))

            let truth = pairs |> List.map fst |> Array.ofList
            let pred = pairs |> List.map snd |> Array.ofList
            let s = ClassScoring.Score(truth, pred, 5)
            let close = Expect.floatClose Accuracy.veryHigh
            close s.Precision[0] (5.0 / 9.0) "precision 0: 5 of 9 predicted"
            close s.Precision[1] 0.75 "precision 1: 3 of 4 predicted (ignored pixel left out)"
            close s.Precision[2] 0.0 "precision 2: predicted once, wrongly"
            Expect.isTrue (Double.IsNaN s.Precision[3]) "precision 3: never predicted"
            close s.Recall[0] (5.0 / 6.0) "recall 0"
            close s.Recall[1] 0.5 "recall 1"
            Expect.isTrue (Double.IsNaN s.Recall[2]) "recall 2: absent from truth"
            close s.Recall[3] 0.0 "recall 3: present, never found"
            Expect.isTrue (Double.IsNaN s.Precision[4] && Double.IsNaN s.Recall[4]) "class 4 absent from both"
            // IoU and Dice are ConfusionMatrix's own: class 1 has TP 3, FP 1, FN 3.
            close s.IoU[1] (3.0 / 7.0) "IoU 1"
            close s.Dice[1] (6.0 / 10.0) "Dice 1"
            close s.PixelError (6.0 / 14.0) "6 of 14 counted pixels wrong"
        }
    ]

// ---------------------------------------------------------------- Hausdorff, by brute force

/// Edge pixels as defined for HD: in the mask, with a 4-neighbour off the image or off the mask.
let private bruteEdges (m: bool[]) h w = [
    for y in 0 .. h - 1 do
        for x in 0 .. w - 1 do
            let on yy xx =
                yy >= 0 && yy < h && xx >= 0 && xx < w && m[yy * w + xx]

            if on y x && not (on (y - 1) x && on (y + 1) x && on y (x - 1) && on y (x + 1)) then
                yield float y, float x
]

/// Percentile by linear interpolation between ranks, numpy's default.
let private brutePercentile (p: float) (xs: float list) =
    let s = List.sort xs |> Array.ofList
    let pos = p / 100.0 * float (s.Length - 1)
    let lo = int (floor pos)
    let hi = int (ceil pos)
    s[lo] + (s[hi] - s[lo]) * (pos - float lo)

let private bruteHausdorff p (a: bool[]) (b: bool[]) h w =
    let ea, eb = bruteEdges a h w, bruteEdges b h w

    match ea, eb with
    | [], [] -> 0.0
    | [], _
    | _, [] -> infinity
    | _ ->
        let directed src dst =
            src
            |> List.map (fun (y, x) ->
                dst
                |> List.map (fun (v, u) -> sqrt ((y - v) ** 2.0 + (x - u) ** 2.0))
                |> List.min)
            |> brutePercentile p

        max (directed ea eb) (directed eb ea)

let private maskPairs =
    gen {
        let! h = Gen.choose (1, 10)
        let! w = Gen.choose (1, 10)
        let! density = Gen.choose (0, 10)
        let cell = Gen.map (fun r -> r < density) (Gen.choose (0, 9))
        let! a = Gen.arrayOfLength (h * w) cell
        let! b = Gen.arrayOfLength (h * w) cell
        return h, w, a, b
    }

[<Tests>]
let hausdorff =
    testList "Scoring.Hausdorff" [
        testPropertyWithConfig (propertyConfig 300) "HD95 and HD equal a brute-force reference over all pairs of edge pixels"
        <| Prop.forAll (Arb.fromGen maskPairs) (fun (h, w, a, b) ->
            let fast95 = HausdorffDistance.Percentile95(a, b, h, w)
            let fast100 = HausdorffDistance.Compute(a, b, h, w)
            let brute95 = bruteHausdorff 95.0 a b h w
            let brute100 = bruteHausdorff 100.0 a b h w

            let same x y =
                (Double.IsPositiveInfinity x && Double.IsPositiveInfinity y)
                || abs (x - y) <= 1e-9

            (same fast95 brute95 && same fast100 brute100)
            |> Prop.label $"{h}x{w}: HD95 {fast95} vs {brute95}, HD {fast100} vs {brute100}")

        test "two single pixels 3 down and 4 across are 5 apart" {
            let a = Array.init 25 (fun i -> i = 0)
            let b = Array.init 25 (fun i -> i = 3 * 5 + 4)
            Expect.floatClose Accuracy.veryHigh (HausdorffDistance.Percentile95(a, b, 5, 5)) 5.0 "HD95"
            Expect.floatClose Accuracy.veryHigh (HausdorffDistance.Percentile95(b, a, 5, 5)) 5.0 "symmetric"
        }

        test "HD95 ignores one far outlier pixel that the plain Hausdorff distance reports" {
            let h, w = 40, 40

            let block =
                Array.init (h * w) (fun i -> i / w >= 5 && i / w <= 14 && i % w >= 5 && i % w <= 14)

            let withOutlier = Array.mapi (fun i v -> v || i = 35 * w + 35) block
            // 36 edge pixels at distance 0 and one at 21 sqrt 2 from the corner (14, 14): the 95th percentile
            // lies between ranks 34 and 35 of 37, both 0.
            Expect.equal (HausdorffDistance.Percentile95(block, withOutlier, h, w)) 0.0 "HD95"
            Expect.floatClose Accuracy.veryHigh (HausdorffDistance.Compute(block, withOutlier, h, w)) (21.0 * sqrt 2.0) "HD"
        }

        test "directed surface distances: one per edge pixel of the first mask, +infinity towards an empty one" {
            let a = Array.init 25 (fun i -> i = 0 || i = 1)
            let b = Array.init 25 (fun i -> i = 3 * 5 + 4)
            let d = SurfacePoints.Distances(a, b, 5, 5)
            Expect.equal d.Length 2 "two edge pixels"
            Expect.floatClose Accuracy.veryHigh d[0] 5.0 "(0, 0) to (3, 4)"
            Expect.floatClose Accuracy.veryHigh d[1] (sqrt 18.0) "(0, 1) to (3, 4)"
            Expect.equal (SurfacePoints.Distances(a, Array.zeroCreate 25, 5, 5)) [| infinity; infinity |] "to empty"
            Expect.equal (SurfacePoints.Distances(Array.zeroCreate 25, b, 5, 5)) [||] "from empty"
        }

        test "both masks empty: 0; one empty: +infinity" {
            let empty = Array.zeroCreate 9
            let one = Array.init 9 (fun i -> i = 4)
            Expect.equal (HausdorffDistance.Percentile95(empty, empty, 3, 3)) 0.0 "both empty"
            Expect.isTrue (Double.IsPositiveInfinity(HausdorffDistance.Percentile95(one, empty, 3, 3))) "prediction empty"
            Expect.isTrue (Double.IsPositiveInfinity(HausdorffDistance.Percentile95(empty, one, 3, 3))) "truth empty"
        }

        test "a mask's edge: border pixels and pixels with a 4-neighbour outside, not the interior" {
            let m = Array.create 25 true
            let e = SurfacePoints.Edges(m, 5, 5)
            Expect.equal (e |> Array.filter id |> Array.length) 16 "the ring of a full 5x5 image"
            Expect.isFalse e[2 * 5 + 2] "centre"
        }
    ]
