/// Augmentation against independent references: exact flips and numpy-style quarter turns, the paper's
/// elastic defaults (3x3 grid, 10 px, bicubic), one field for every plane, labels never blended.
module CropCat.Tests.AugmentTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Augment
open CropCat.Data

/// Mirrors the columns of an h x w row-major plane: (y, x) <- (y, w - 1 - x).
let private flipX (p: 'a[]) h w =
    Array.init (h * w) (fun i -> p[(i / w) * w + (w - 1 - i % w)])

/// Mirrors the rows: (y, x) <- (h - 1 - y, x).
let private flipY (p: 'a[]) h w =
    Array.init (h * w) (fun i -> p[(h - 1 - i / w) * w + i % w])

/// numpy's rot90 (one counter-clockwise quarter turn): the result is w x h, out[y][x] = in[x][w - 1 - y].
let private rot90 (p: 'a[]) h w =
    Array.init (w * h) (fun i -> p[(i % h) * w + (w - 1 - i / h)]), w, h

/// The reference of a geometric draw: flips first, then the quarter turns. Returns (plane, height, width).
let private reference (d: AugmentDraw) (p: 'a[]) h w =
    let p = if d.FlipX then flipX p h w else p
    let p = if d.FlipY then flipY p h w else p

    let mutable r = (p, h, w)

    for _ in 1 .. d.Turns do
        let q, qh, qw = r
        r <- rot90 q qh qw

    r

let private plane c (s: Sample) =
    Array.sub s.Image (c * s.Height * s.Width) (s.Height * s.Width)

/// A non-square sample in which every plane names its source pixel differently, so any wrong or
/// missing move shows in any plane: two image channels, classes, instances and weights.
let private coded h w =
    let n = h * w

    let image =
        Array.append (Array.init n float32) (Array.init n (fun i -> 1000f + float32 i))

    Sample("coded", h, w, image, Array.init n id, Array.init n (fun i -> 7 * i + 1), Array.init n (fun i -> float32 i + 0.5f), 2)

/// Every plane of `a` equals the reference transform of the same plane of `s`.
let private matchesReference (d: AugmentDraw) (s: Sample) (a: Sample) =
    let h, w = s.Height, s.Width
    let expectShape = if d.Turns % 2 = 1 then (w, h) else (h, w)

    let sameAs (p: 'a[]) (q: 'a[]) =
        let r, _, _ = reference d p h w in r = q

    (a.Height, a.Width) = expectShape
    && sameAs (plane 0 s) (plane 0 a)
    && sameAs (plane 1 s) (plane 1 a)
    && sameAs s.Classes a.Classes
    && sameAs s.Instances a.Instances
    && sameAs s.Weights a.Weights

/// A draw without gray-value jitter.
let private draw flipX flipY turns (dx: float[]) (dy: float[]) =
    AugmentDraw(flipX, flipY, turns, 1.0, 0.0, dx, dy)

let private geometric (flipX, flipY) = draw flipX flipY 0 null null

/// Geometry only: no elastic field, no gray-value jitter.
let private dihedralOnly =
    AugmentOptions(Elastic = false, Contrast = 0.0, Brightness = 0.0)

/// The elastic deformation alone with the paper's defaults.
let private elasticOnly =
    AugmentOptions(Flips = false, Rotations = false, Contrast = 0.0, Brightness = 0.0)

[<Tests>]
let dihedral =
    let h, w = 5, 7
    let s = coded h w

    testList "Augment.FlipsAndTurns" [
        test "a flip moves pixel (y, x) to (y, W-1-x) or (H-1-y, x), in the image, the maps and the weights alike" {
            let ax = Augmenter.Apply(s, geometric (true, false))
            let ay = Augmenter.Apply(s, geometric (false, true))

            for y in 0 .. h - 1 do
                for x in 0 .. w - 1 do
                    let o, src = y * w + x, y * w + (w - 1 - x)
                    Expect.equal ax.Image[o] s.Image[src] $"image at ({y}, {x})"
                    Expect.equal ax.Image[h * w + o] s.Image[h * w + src] $"second channel at ({y}, {x})"
                    Expect.equal ax.Classes[o] s.Classes[src] $"classes at ({y}, {x})"
                    Expect.equal ax.Instances[o] s.Instances[src] $"instances at ({y}, {x})"
                    Expect.equal ax.Weights[o] s.Weights[src] $"weights at ({y}, {x})"
                    let srcY = (h - 1 - y) * w + x
                    Expect.equal ay.Image[o] s.Image[srcY] $"vertical flip, image at ({y}, {x})"
                    Expect.equal ay.Classes[o] s.Classes[srcY] $"vertical flip, classes at ({y}, {x})"
                    Expect.equal ay.Weights[o] s.Weights[srcY] $"vertical flip, weights at ({y}, {x})"
        }

        test "quarter turns equal numpy's rot90 on every plane, and four of them are the identity" {
            for k in 1..3 do
                let d = draw false false k null null
                Expect.isTrue (matchesReference d s (Augmenter.Apply(s, d))) $"{k} turns = rot90(a, {k})"

            let turn (x: Sample) =
                Augmenter.Apply(x, draw false false 1 null null)

            let once = turn s
            Expect.equal (once.Height, once.Width) (w, h) "one turn swaps height and width"
            Expect.notEqual once.Classes s.Classes "one turn moves pixels"
            let four = s |> turn |> turn |> turn |> turn
            Expect.equal (four.Height, four.Width) (h, w) "size back"
            Expect.equal four.Image s.Image "image back"
            Expect.equal four.Classes s.Classes "classes back"
            Expect.equal four.Instances s.Instances "instances back"
            Expect.equal four.Weights s.Weights "weights back"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 50
            }
            "a seeded draw applies exactly its flips and turns to image, maps and weights"
        <| fun (seed: int) ->
            let d = Augmenter.Draw(seed, h, w, dihedralOnly)
            matchesReference d s (Augmenter.Apply(s, seed, dihedralOnly))

        test "the seeded draws cover all four flip combinations and all four turns" {
            let draws = [ for seed in 0..63 -> Augmenter.Draw(seed, h, w, dihedralOnly) ]
            let flips = draws |> List.map (fun d -> d.FlipX, d.FlipY) |> List.distinct
            let turns = draws |> List.map (fun d -> d.Turns) |> List.distinct
            Expect.equal (List.length flips) 4 $"flip combinations drawn: %A{flips}"
            Expect.equal (List.sort turns) [ 0; 1; 2; 3 ] "turns drawn"

            let moved =
                [ 0..63 ]
                |> List.filter (fun seed -> Augmenter.Apply(s, seed, dihedralOnly).Classes <> s.Classes)

            // The identity draw has chance 1/16; a no-op flip or turn would leave far more unmoved.
            Expect.isGreaterThan moved.Length 48 "most seeds move the pixels"
        }

        test "switched off, flips and turns are never drawn, and None is the identity" {
            let none = AugmentOptions(Elastic = false, Flips = false, Rotations = false)

            for seed in 0..15 do
                let d = Augmenter.Draw(seed, h, w, none)
                Expect.isFalse (d.FlipX || d.FlipY || d.Turns <> 0) $"seed {seed}"

            let c = SyntheticCells.Generate(1, SyntheticCellsOptions(Height = 32, Width = 32))
            let a = Augmenter.Apply(c, 7, AugmentOptions.None)
            Expect.equal a.Image c.Image "image"
            Expect.equal a.Classes c.Classes "classes"
            Expect.equal a.Instances c.Instances "instances"
        }
    ]

[<Tests>]
let elastic =
    testList "Augment.Elastic" [
        test "the defaults are the paper's: elastic on, 3x3 grid, 10 px standard deviation, flips and turns on" {
            let o = AugmentOptions()
            Expect.isTrue o.Elastic "elastic"
            Expect.equal o.ElasticGrid 3 "grid"
            Expect.equal o.ElasticSigma 10.0 "sigma"
            Expect.isTrue o.Flips "flips"
            Expect.isTrue o.Rotations "turns"
        }

        test "the default field is bicubic between 3x3 grid values with mean 0 and standard deviation 10 px" {
            // 33 px: the grid points fall on pixels 0, 16 and 32 exactly.
            let n = 33
            let gridAt = [| 0; 16; 32 |]
            let values = ResizeArray<float>()

            for seed in 0..199 do
                let d = Augmenter.Draw(seed, n, n, elasticOnly)

                for field in [ d.Dx; d.Dy ] do
                    let coarse = [|
                        for gy in gridAt do
                            for gx in gridAt -> field[gy * n + gx]
                    |]

                    values.AddRange coarse
                    let up = ElasticDeformation.Upsample(coarse, 3, n, n)
                    let gap = Array.map2 (fun (a: float) b -> abs (a - b)) up field |> Array.max
                    Expect.isLessThan gap 1e-9 $"seed {seed}: the field is the 3x3 grid up-sampled"

            let mean = Seq.average values
            let std = sqrt (values |> Seq.averageBy (fun v -> (v - mean) ** 2.0))
            // 3600 draws: the standard error of the mean is 0.17 px, of the standard deviation 0.12 px.
            Expect.isLessThan (abs mean) 0.6 $"mean {mean}"
            Expect.isLessThan (abs (std - 10.0)) 0.5 $"standard deviation {std}"
        }

        test "up-sampling is Catmull-Rom bicubic, not bilinear: 0.5625 half-way to a grid peak" {
            let coarse = Array.init 9 (fun i -> if i = 4 then 1.0 else 0.0)
            // 9 px: pixel 2 is grid coordinate 0.5, pixel 4 the centre.
            let f = ElasticDeformation.Upsample(coarse, 3, 9, 9)
            Expect.floatClose Accuracy.veryHigh f[4 * 9 + 4] 1.0 "peak"
            Expect.floatClose Accuracy.veryHigh f[4 * 9 + 2] 0.5625 "half-way along a row (bilinear: 0.5)"
            Expect.floatClose Accuracy.veryHigh f[2 * 9 + 2] (0.5625 * 0.5625) "half-way along both axes"
        }

        test "one field moves every plane: bicubic image, bilinear weights, nearest labels" {
            // A single bright pixel moved by half a pixel to the right shows each interpolation's kernel.
            let h, w = 9, 9
            let delta = Array.init (h * w) (fun i -> if i = 4 * w + 4 then 1f else 0f)
            let labels = Array.init (h * w) (fun i -> if i = 4 * w + 4 then 5 else 2)
            let s = Sample("delta", h, w, delta, labels, labels, Array.copy delta)

            let d = draw false false 0 (Array.create (h * w) 0.5) (Array.zeroCreate (h * w))

            let a = Augmenter.Apply(s, d)
            // Output x reads source x + 0.5: pixels 3 and 4 sit half-way beside the peak, 2 and 5 1.5 px away.
            let row (p: 'a[]) = p[4 * w + 2 .. 4 * w + 5]

            let close (e: float32[]) (v: float32[]) =
                Array.forall2 (fun (x: float32) y -> abs (x - y) < 1e-6f) e v

            Expect.isTrue (close [| -0.0625f; 0.5625f; 0.5625f; -0.0625f |] (row a.Image)) $"bicubic image %A{row a.Image}"
            Expect.isTrue (close [| 0f; 0.5f; 0.5f; 0f |] (row a.Weights)) $"bilinear weights %A{row a.Weights}"
            // Round half away from zero: x + 0.5 reads x + 1, so the label moves one pixel left.
            Expect.equal (row a.Classes) [| 2; 5; 2; 2 |] "nearest classes"
            Expect.equal (row a.Instances) [| 2; 5; 2; 2 |] "nearest instances"
        }

        test "with the defaults, pixels move, and image, weights and labels move with one field" {
            let h, w = 64, 64
            let n = h * w
            let xs = Array.init n (fun i -> float32 (i % w))
            let ys = Array.init n (fun i -> float32 (i / w))

            let s =
                Sample("ramps", h, w, Array.append xs ys, Array.init n id, Array.init n id, Array.copy xs, 2)
            // float32 samples of values up to 64.
            let ramp = { absolute = 1e-4; relative = 0.0 }

            for seed in 0..9 do
                let d = Augmenter.Draw(seed, h, w, elasticOnly)
                let a = Augmenter.Apply(s, seed, elasticOnly)
                let mutable checkedPixels, moved = 0, 0

                for i in 0 .. n - 1 do
                    let px, py = float (i % w) + d.Dx[i], float (i / w) + d.Dy[i]

                    if abs d.Dx[i] > 0.5 || abs d.Dy[i] > 0.5 then
                        moved <- moved + 1
                    // Linear ramps are reproduced exactly by both kernels away from the mirrored border;
                    // skip rounding ties of the nearest label.
                    let tie (v: float) = abs (v - floor v - 0.5) < 1e-3

                    if
                        px >= 2.0
                        && px <= 61.0
                        && py >= 2.0
                        && py <= 61.0
                        && not (tie px)
                        && not (tie py)
                    then
                        checkedPixels <- checkedPixels + 1

                        let ix, iy =
                            int (Math.Round(px, MidpointRounding.AwayFromZero)), int (Math.Round(py, MidpointRounding.AwayFromZero))

                        let at = $"seed {seed}, pixel {i}"
                        Expect.floatClose ramp (float a.Image[i]) px $"image x-ramp at {at}"
                        Expect.floatClose ramp (float a.Image[n + i]) py $"image y-ramp at {at}"
                        Expect.floatClose ramp (float a.Weights[i]) px $"weights at {at}"
                        Expect.equal a.Classes[i] (iy * w + ix) $"classes at {at}"
                        Expect.equal a.Instances[i] (iy * w + ix) $"instances at {at}"

                Expect.isGreaterThan checkedPixels (n / 5) $"seed {seed}: enough interior pixels checked"
                Expect.isGreaterThan moved (n / 2) $"seed {seed}: most pixels move by more than half a pixel"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 30
            }
            "with the defaults, every output label exists in the input: labels are never interpolated"
        <| fun (seed: int) ->
            // Blocks of labels far apart in value: any blending would produce values in between.
            let h, w = 40, 40
            let rng = Random seed
            let palette = [| 0; 3; 7; 250 |]
            let blocks = Array.init 25 (fun _ -> palette[rng.Next palette.Length])
            let labels = Array.init (h * w) (fun i -> blocks[(i / w) / 8 * 5 + (i % w) / 8])
            let classes = labels |> Array.map (fun l -> Array.IndexOf(palette, l))

            let s =
                Sample("blocks", h, w, Array.init (h * w) (fun _ -> float32 (rng.NextDouble())), classes, labels)

            let a = Augmenter.Apply(s, seed, AugmentOptions())

            let inSet (input: int[]) (output: int[]) =
                output |> Array.forall (fun v -> Array.contains v input)

            inSet s.Classes a.Classes && inSet s.Instances a.Instances

        test "equal seeds give equal deformations, different seeds different ones" {
            let s = SyntheticCells.Generate(1, SyntheticCellsOptions(Height = 48, Width = 48))
            let s = s.WithWeights(s.Classes |> Array.map float32)

            for seed in 0..9 do
                let a, b =
                    Augmenter.Apply(s, seed, elasticOnly), Augmenter.Apply(s, seed, elasticOnly)

                let c = Augmenter.Apply(s, seed + 1, elasticOnly)
                Expect.equal a.Image b.Image $"seed {seed}: same image"
                Expect.equal a.Classes b.Classes $"seed {seed}: same classes"
                Expect.equal a.Weights b.Weights $"seed {seed}: same weights"
                Expect.notEqual a.Image c.Image $"seeds {seed} and {seed + 1}: different images"
                Expect.notEqual a.Classes c.Classes $"seeds {seed} and {seed + 1}: different classes"
        }

        test "the up-sampled displacement field passes through the grid points" {
            let grid = [| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0; 7.0; 8.0; 9.0 |]
            let f = ElasticDeformation.Upsample(grid, 3, 21, 11)
            Expect.floatClose Accuracy.high f[0] 1.0 "corner"
            Expect.floatClose Accuracy.high f[10 * 11 + 5] 5.0 "centre"
            Expect.floatClose Accuracy.high f[20 * 11 + 10] 9.0 "far corner"
        }

        testProperty "mirrored indices stay inside and reflect at the edges"
        <| fun (i: int) (nRaw: byte) ->
            let n = 1 + int nRaw % 20
            let m = Interpolation.Mirror(i % 1000, n)
            m >= 0 && m < n && (n = 1 || Interpolation.Mirror(-1, n) = 1)
    ]
