/// The composable augmentation pipeline: one field for image, labels and weights; exact inverses; each
/// probability holds; determinism; labels never invented; the JSON form round-trips and refuses unknown keys.
module CropCat.Tests.AugmentPipelineTests

open System
open Expecto
open CropCat.Augment
open CropCat.Data
open CropCat.Dsl

/// A sample whose planes name their source pixel: image channel 0 is x, channel 1 is y, the class is y * w + x,
/// the instance x * h + y + 1 and the weight y. Linear planes are reproduced exactly by bilinear and
/// Catmull-Rom interpolation, so after a warp the image says where each pixel was read from.
let private coded h w =
    let n = h * w

    Sample(
        "coded",
        h,
        w,
        Array.append (Array.init n (fun i -> float32 (i % w))) (Array.init n (fun i -> float32 (i / w))),
        Array.init n id,
        Array.init n (fun i -> (i % w) * h + i / w + 1),
        Array.init n (fun i -> float32 (i / w)),
        2
    )

/// What is inconsistent in `a`, a warp of `coded h w`: labels, instances, image and weights must all have read
/// the same source position (away from the mirror folds, where the linear planes bend), and outside pixels
/// (class -1) must carry the constant-border values. Returns the problems and the number of pixels checked.
let private inconsistencies (fill: float32) h w (a: Sample) =
    let n = a.Height * a.Width
    let problems = ResizeArray<string>()
    let mutable checkedPixels = 0

    for i in 0 .. n - 1 do
        let c = a.Classes[i]

        if c = -1 then
            if
                a.Image[i] <> fill
                || a.Image[n + i] <> fill
                || a.Weights[i] <> 0f
                || a.Instances[i] <> 0
            then
                problems.Add $"outside pixel {i}: image {a.Image[i]}, weight {a.Weights[i]}, instance {a.Instances[i]}"
        else
            let nx, ny = c % w, c / w

            if a.Instances[i] <> nx * h + ny + 1 then
                problems.Add $"pixel {i}: instance {a.Instances[i]} was read elsewhere than class ({nx}, {ny})"

            if nx >= 3 && nx <= w - 4 && ny >= 3 && ny <= h - 4 then
                checkedPixels <- checkedPixels + 1
                let sx, sy = float a.Image[i], float a.Image[n + i]

                if abs (sx - float nx) > 0.5001 || abs (sy - float ny) > 0.5001 then
                    problems.Add $"pixel {i}: image read ({sx}, {sy}), labels ({nx}, {ny})"

                if abs (float a.Weights[i] - sy) > 1e-3 then
                    problems.Add $"pixel {i}: weight read y = {a.Weights[i]}, image y = {sy}"

    List.ofSeq problems, checkedPixels

let private h, w = 24, 36

let private constantAt =
    Resampling(BorderMode.Constant, 7f, ImageInterpolation.Bicubic)

/// Every geometric transform, with strong settings, by name.
let private geometric: (string * Transform) list = [
    "flip horizontal", Flip(FlipAxis.Horizontal, 1.0)
    "flip vertical", Flip(FlipAxis.Vertical, 1.0)
    "quarter turns", QuarterTurns(1.0)
    "affine reflect", Affine(Interval.Around(0.0, 3.0), Interval(0.8, 1.2), Interval.Around(0.0, 30.0), Interval.Around(0.0, 10.0), p = 1.0)
    "affine constant",
    Affine(Interval.Around(0.0, 5.0), Interval(0.7, 0.9), Interval.Around(0.0, 30.0), Interval.Around(0.0, 10.0), constantAt, 1.0)
    "affine bilinear",
    Affine(rotate = Interval.Around(0.0, 40.0), resampling = Resampling(Interpolation = ImageInterpolation.Bilinear), p = 1.0)
    "elastic grid reflect", ElasticGrid(3, 10.0, p = 1.0)
    "elastic grid constant", ElasticGrid(3, 10.0, constantAt, 1.0)
    "elastic Simard", ElasticSimard(60.0, 3.0, p = 1.0)
    "grid distortion", GridDistortion(4, 0.4, p = 1.0)
    "crop inside", RandomCrop(16, 20, p = 1.0)
    "crop padding constant", RandomCrop(30, 40, BorderMode.Constant, 7f, 1.0)
    "pad reflect", PadIfNeeded(30, 44, BorderMode.Reflect, 0f, 1.0)
    "pad constant", PadIfNeeded(30, 44, BorderMode.Constant, 7f, 1.0)
]

let private identityClasses = Array.init (h * w) id

[<Tests>]
let oneField =
    let s = coded h w

    testList "AugmentPipeline.OneField" [
        for name, t in geometric ->
            test $"{name} moves image, classes, instances and weights by one field" {
                let mutable moved = 0

                for seed in 0..7 do
                    let a = t.Apply(s, seed)
                    let problems, n = inconsistencies 7f h w a
                    Expect.isEmpty (List.truncate 5 problems) $"seed {seed}"
                    Expect.isGreaterThan n 30 $"seed {seed}: enough interior pixels to check"

                    if a.Classes <> identityClasses then
                        moved <- moved + 1

                Expect.isGreaterThan moved 4 "the transform moves pixels"
            }

        yield
            test "the check catches an image moved without its labels" {
                let a = Flip(FlipAxis.Horizontal, 1.0).Apply(s, 0)
                let broken = Sample("broken", h, w, a.Image, s.Classes, s.Instances, s.Weights, 2)
                let problems, _ = inconsistencies 7f h w broken
                Expect.isNonEmpty problems "a flipped image over unflipped labels is inconsistent"
            }

        yield
            test "constant borders expose class -1 with weight 0, instance 0 and the fill; reflect borders expose none" {
                let shift k border =
                    Affine(Interval.Exactly k, resampling = Resampling(border, 7f, ImageInterpolation.Bicubic), p = 1.0)

                let c = (shift 4.0 BorderMode.Constant).Apply(s, 0)
                Expect.equal (c.Classes |> Array.filter ((=) -1) |> Array.length) (4 * w + 4 * h - 16) "a 4-pixel band on two sides"
                Expect.isEmpty (fst (inconsistencies 7f h w c)) "outside pixels carry the outside values"
                let r = (shift 4.0 BorderMode.Reflect).Apply(s, 0)
                Expect.isFalse (Array.contains -1 r.Classes) "reflect mirrors instead"
                Expect.equal r.Classes[0] (4 * w + 4) "pixel (0, 0) mirrors source (4, 4)"
            }
    ]

/// `b` equals `a` on every plane inside the margin `m`.
let private sameInside m (a: Sample) (b: Sample) =
    (a.Height, a.Width, a.Channels) = (b.Height, b.Width, b.Channels)
    && Seq.forall
        (fun (y, x) ->
            let i = y * a.Width + x
            let n = a.Height * a.Width

            a.Classes[i] = b.Classes[i]
            && a.Instances[i] = b.Instances[i]
            && a.Weights[i] = b.Weights[i]
            && Seq.forall (fun c -> a.Image[c * n + i] = b.Image[c * n + i]) [ 0 .. a.Channels - 1 ])
        (seq {
            for y in m .. a.Height - 1 - m do
                for x in m .. a.Width - 1 - m -> y, x
        })

[<Tests>]
let inverses =
    let s = coded h w
    let twice (a: Transform) (b: Transform) seed = b.Apply(a.Apply(s, seed), seed + 1)

    testList "AugmentPipeline.Inverses" [
        test "each flip undoes itself exactly, and moves pixels" {
            for axis in [ FlipAxis.Horizontal; FlipAxis.Vertical ] do
                let f = Flip(axis, 1.0)
                Expect.isFalse (sameInside 0 s (f.Apply(s, 0))) $"{axis} moves pixels"
                Expect.isTrue (sameInside 0 s (twice f f 0)) $"{axis} twice"
        }

        test "k quarter turns then 4 - k are the identity, and k alone is not" {
            for k in 1..3 do
                let turned = QuarterTurns(1.0, [ k ]).Apply(s, 0)
                Expect.isFalse (sameInside 0 s turned) $"{k} turns move pixels"
                Expect.isTrue (sameInside 0 s (twice (QuarterTurns(1.0, [ k ])) (QuarterTurns(1.0, [ 4 - k ])) 0)) $"{k} + {4 - k}"
        }

        test "a whole-pixel shift and its opposite are the identity inside the shifted band, for both borders" {
            for border in [ BorderMode.Reflect; BorderMode.Constant ] do
                for k in [ 1.0; 3.0; -2.0 ] do
                    let shift k =
                        Affine(Interval.Exactly k, resampling = Resampling(border, 0f, ImageInterpolation.Bicubic), p = 1.0)

                    Expect.isFalse (sameInside 3 s ((shift k).Apply(s, 0))) $"shift {k} moves pixels"
                    Expect.isTrue (sameInside 3 s (twice (shift k) (shift -k) 0)) $"{border}: shift {k} then {-k}"
        }
    ]

/// A small RGB sample with random colours, classes, instances and weights: any transform that fires changes it.
let private colour seed =
    let r = Random(seed: int)
    let h, w = 12, 14
    let n = h * w

    Sample(
        "colour",
        h,
        w,
        Array.init (3 * n) (fun _ -> 0.05f + 0.9f * float32 (r.NextDouble())),
        Array.init n (fun _ -> r.Next 3),
        Array.init n (fun _ -> r.Next 5),
        Array.init n (fun _ -> float32 (r.NextDouble())),
        3
    )

let private same (a: Sample) (b: Sample) =
    (a.Height, a.Width) = (b.Height, b.Width)
    && a.Image = b.Image
    && a.Classes = b.Classes
    && a.Instances = b.Instances
    && a.Weights = b.Weights

/// Transforms at probability p whose firing always changes `colour`, each with the chance that a firing
/// looks like not firing (a random window that lands on the centre).
let private firing p : (string * Transform * float) list = [
    "flip", Flip(FlipAxis.Vertical, p), 0.0
    "quarter turns", QuarterTurns(p), 0.0
    "affine", Affine(rotate = Interval(10.0, 20.0), p = p), 0.0
    "elastic grid", ElasticGrid(3, 10.0, p = p), 0.0
    "elastic Simard", ElasticSimard(40.0, 2.0, p = p), 0.0
    "grid distortion", GridDistortion(3, 0.5, p = p), 0.0
    "crop", RandomCrop(8, 8, p = p), 1.0 / 35.0
    "pad", PadIfNeeded(16, 16, p = p), 1.0 / 15.0
    "brightness/contrast", BrightnessContrast(Interval(0.1, 0.2), p = p), 0.0
    "gamma", Gamma(Interval(1.5, 2.0), p), 0.0
    "noise", GaussianNoise(Interval(0.1, 0.2), p), 0.0
    "blur", GaussianBlur(Interval(0.8, 1.5), p), 0.0
    "hue/saturation", HueSaturation(Interval(20.0, 40.0), Interval(0.5, 0.8), p), 0.0
    "compose", Compose([ Flip(FlipAxis.Horizontal, 1.0) ], p), 0.0
    "oneOf", OneOf([ Flip(FlipAxis.Horizontal, 1.0); Gamma(Interval(2.0, 3.0), 1.0) ], p = p), 0.0
]

/// The fraction of `seeds` in which the output differs from what an unfired transform gives, and its 4-sigma band.
let private withinFourSigma (expected: float) (hits: int) (seeds: int) =
    let sd = sqrt (expected * (1.0 - expected) / float seeds)
    let got = float hits / float seeds
    abs (got - expected) <= 4.0 * sd + 1e-12, got, sd

[<Tests>]
let probabilities =
    let seeds = 2000
    let s = colour 5

    testList "AugmentPipeline.Probability" [
        for p in [ 0.3; 0.8 ] do
            for name, t, centre in firing p ->
                test $"{name} at p = {p} fires in a fraction p of {seeds} seeds (4 sigma)" {
                    // Unfired crops still centre their window, so compare with the unfired output, not the input.
                    let unfired =
                        (firing 0.0 |> List.pick (fun (n, t0, _) -> if n = name then Some t0 else None)).Apply(s, 0)

                    let hits =
                        [ 0 .. seeds - 1 ]
                        |> List.filter (fun seed -> not (same unfired (t.Apply(s, seed))))
                        |> List.length

                    let expected = p * (1.0 - centre)
                    let ok, got, sd = withinFourSigma expected hits seeds
                    Expect.isTrue ok $"fired in {got:F4} of the seeds, expected {expected:F4} ± 4 x {sd:F4}"
                }

        yield
            test "OneOf picks each choice in proportion to its weight" {
                let pick =
                    OneOf(
                        [
                            Flip(FlipAxis.Horizontal, 1.0) :> Transform
                            Flip(FlipAxis.Vertical, 1.0)
                            QuarterTurns(1.0, [ 2 ])
                        ],
                        [ 1.0; 2.0; 5.0 ]
                    )

                let outs =
                    [
                        Flip(FlipAxis.Horizontal, 1.0) :> Transform
                        Flip(FlipAxis.Vertical, 1.0)
                        QuarterTurns(1.0, [ 2 ])
                    ]
                    |> List.map (fun t -> t.Apply(s, 0))

                let counts = Array.zeroCreate 3

                for seed in 0 .. seeds - 1 do
                    let a = pick.Apply(s, seed)
                    let i = outs |> List.findIndex (same a)
                    counts[i] <- counts[i] + 1

                for i, wt in List.indexed [ 1.0; 2.0; 5.0 ] do
                    let ok, got, sd = withinFourSigma (wt / 8.0) counts[i] seeds
                    Expect.isTrue ok $"choice {i}: {got:F4}, expected {wt / 8.0:F4} ± 4 x {sd:F4}"
            }
    ]

/// Every kind of transform in one pipeline (RGB), as JSON.
let private everything =
    """{"compose":[
        {"flip":{"axis":"horizontal","p":0.5}}, {"flip":{"axis":"vertical","p":0.5}}, {"rotate90":{"p":0.75}},
        {"oneOf":[{"elastic":{"grid":3,"sigma":10}}, {"elastic":{"alpha":30,"sigma":3}}, {"gridDistortion":{"steps":4,"limit":0.3}},
                  {"affine":{"rotate":20,"scale":[0.9,1.1],"shear":5,"shift":2,"border":"constant","fill":-1}}],"weights":[1,1,1,2],"p":0.9},
        {"crop":{"size":[10,12],"border":"constant"}}, {"padIfNeeded":{"size":14,"p":0.5}},
        {"brightnessContrast":{"brightness":0.1,"contrast":0.2,"p":0.5}}, {"gamma":{"range":[0.8,1.2],"p":0.5}},
        {"noise":{"std":0.05,"p":0.5}}, {"blur":{"sigma":[0.5,1],"p":0.5}}, {"hueSaturation":{"hue":20,"saturation":0.3,"p":0.5}}]}"""

[<Tests>]
let determinism =
    let s = colour 3
    let p = AugmentPipeline.FromJson everything

    testList "AugmentPipeline.Determinism" [
        test "the same seed gives the same output, different seeds different outputs" {
            for seed in 0..19 do
                Expect.isTrue (same (p.Apply(s, seed)) (p.Apply(s, seed))) $"seed {seed} twice"

            let distinct =
                [ 0..19 ]
                |> List.map (fun seed -> p.Apply(s, seed))
                |> List.distinctBy (fun a -> a.Image)
                |> List.length

            Expect.isGreaterThan distinct 15 "seeds give different outputs"
        }

        test "switching a step off does not shift the draws of the others" {
            let flipsAround (noise: float) =
                Compose(
                    [
                        Flip(FlipAxis.Horizontal, 0.5)
                        GaussianNoise(Interval(0.1, 0.2), noise)
                        QuarterTurns(0.75)
                    ]
                )

            for seed in 0..99 do
                let on, off = (flipsAround 1.0).Apply(s, seed), (flipsAround 0.0).Apply(s, seed)
                Expect.equal on.Classes off.Classes $"seed {seed}: the flips and turns do not depend on the noise step"
                Expect.notEqual on.Image off.Image $"seed {seed}: the noise step did run"
        }

        test "the input sample is never modified" {
            let before = colour 3

            for seed in 0..9 do
                p.Apply(s, seed) |> ignore

            Expect.isTrue (same before s) "input unchanged"
        }
    ]

[<Tests>]
let labels =
    /// Classes 0..3 and -1 (already outside) in blobs, instances 0..6.
    let labelled seed =
        let r = Random(seed: int)
        let h, w = 20, 26
        let n = h * w

        let cls =
            Array.init n (fun i -> [| -1; 0; 2; 3 |][((i / w) / 5 + (i % w) / 7 + r.Next 2) % 4])

        Sample(
            "labels",
            h,
            w,
            Array.init n (fun _ -> float32 (r.NextDouble())),
            cls,
            Array.init n (fun i -> (i / 13) % 7),
            Array.init n (fun _ -> 1f)
        )

    let allGeometric =
        Compose(
            geometric
            |> List.map snd
            |> List.map (fun t -> OneOf([ t; Flip(FlipAxis.Vertical, 0.0) ]))
        )

    testList "AugmentPipeline.Labels" [
        test "labels only take values present in the input, plus -1 (class) and 0 (instance) from constant borders" {
            for seed in 0..39 do
                let s = labelled seed
                let classes = set s.Classes |> Set.add -1
                let instances = set s.Instances |> Set.add 0

                for name, t in geometric do
                    let a = t.Apply(s, seed)
                    Expect.isTrue (Set.isSubset (set a.Classes) classes) $"{name}, seed {seed}: classes {set a.Classes}"
                    Expect.isTrue (Set.isSubset (set a.Instances) instances) $"{name}, seed {seed}: instances"

                    if name.Contains "reflect" then
                        Expect.isTrue (Set.isSubset (set a.Classes) (set s.Classes)) $"{name}: reflect adds no class"

                let a = allGeometric.Apply(s, seed)
                Expect.isTrue (Set.isSubset (set a.Classes) classes) $"all geometric, seed {seed}"
        }

        test "class -1 survives exact moves pixel for pixel and resampling as a region" {
            let s = labelled 1

            let ignored (x: Sample) =
                x.Classes |> Array.filter ((=) -1) |> Array.length

            for t in [ Flip(FlipAxis.Horizontal, 1.0) :> Transform; QuarterTurns(1.0) ] do
                Expect.equal (ignored (t.Apply(s, 0))) (ignored s) "exact moves keep every -1"

            let a = ElasticGrid(3, 5.0, p = 1.0).Apply(s, 0)
            Expect.isGreaterThan (ignored a) (ignored s / 2) "resampling keeps the -1 region"
        }
    ]

/// A random pipeline tree of every kind, from `r` (3-channel samples).
let rec private randomTransform (r: Random) depth : Transform =
    let p () = float (r.Next 11) / 10.0

    let range lo hi =
        let a = lo + (hi - lo) * r.NextDouble()
        Interval(a, a + (hi - lo) * r.NextDouble())

    let res () =
        Resampling(
            (if r.Next 2 = 0 then
                 BorderMode.Reflect
             else
                 BorderMode.Constant),
            float32 (r.NextDouble()),
            (if r.Next 2 = 0 then
                 ImageInterpolation.Bicubic
             else
                 ImageInterpolation.Bilinear)
        )

    let border () =
        if r.Next 2 = 0 then
            BorderMode.Reflect
        else
            BorderMode.Constant

    match r.Next(if depth > 0 then 16 else 14) with
    | 0 ->
        Flip(
            (if r.Next 2 = 0 then
                 FlipAxis.Horizontal
             else
                 FlipAxis.Vertical),
            p ()
        )
    | 1 -> QuarterTurns(p (), [ 1 .. 1 + r.Next 3 ])
    | 2 -> Affine(range -3.0 3.0, range 0.8 1.1, range -30.0 30.0, range -10.0 10.0, res (), p ())
    | 3 -> ElasticGrid(2 + r.Next 3, 10.0 * r.NextDouble(), res (), p ())
    | 4 -> ElasticSimard(40.0 * r.NextDouble(), 0.5 + 3.0 * r.NextDouble(), res (), p ())
    | 5 -> GridDistortion(1 + r.Next 5, 0.9 * r.NextDouble(), res (), p ())
    | 6 -> RandomCrop(6 + r.Next 10, 6 + r.Next 10, border (), float32 (r.NextDouble()), p ())
    | 7 -> PadIfNeeded(6 + r.Next 10, 6 + r.Next 10, border (), float32 (r.NextDouble()), p ())
    | 8 -> BrightnessContrast(range -0.2 0.2, range 0.8 1.1, p ())
    | 9 -> Gamma(range 0.7 1.2, p ())
    | 10 -> GaussianNoise(range 0.0 0.1, p ())
    | 11 -> GaussianBlur(range 0.0 1.5, p ())
    | 12 -> HueSaturation(range -30.0 10.0, range 0.5 1.0, p ())
    | 13 -> Compose([], p ())
    | 14 -> Compose([ for _ in 1 .. r.Next 4 -> randomTransform r (depth - 1) ], p ())
    | _ ->
        let n = 1 + r.Next 3
        OneOf([ for _ in 1..n -> randomTransform r (depth - 1) ], [ for _ in 1..n -> float (1 + r.Next 4) ], p ())

let private message (f: unit -> 'a) =
    try
        f () |> ignore
        None
    with e ->
        Some e.Message

[<Tests>]
let json =
    let s = colour 8

    testList "AugmentPipeline.Json" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 200
            }
            "ToJson then FromJson gives the same pipeline: the same JSON and the same outputs"
        <| fun (seed: int) ->
            let t = randomTransform (Random seed) 3
            let text = AugmentPipeline(t).ToJson()
            let back = AugmentPipeline.FromJson text

            back.ToJson() = text
            && [ 0..3 ]
               |> List.forall (fun k -> same (t.Apply(s, seed + k)) (back.Apply(s, seed + k)))

        test "the documented example parses to the transforms it names" {
            let text =
                """{"compose":[{"flip":{"axis":"horizontal","p":0.5}},{"oneOf":[{"elastic":{"grid":3,"sigma":10,"p":1}},{"affine":{"rotate":15,"scale":[0.9,1.1],"border":"reflect","p":1}}],"p":0.5},{"gamma":{"range":[0.8,1.2],"p":0.3}}]}"""

            match (AugmentPipeline.FromJson text).Root with
            | :? Compose as c ->
                Expect.equal c.Children.Count 3 "three steps"

                match c.Children[0], c.Children[1], c.Children[2] with
                | (:? Flip as f), (:? OneOf as o), (:? Gamma as g) ->
                    Expect.equal (f.Axis, f.P) (FlipAxis.Horizontal, 0.5) "flip"
                    Expect.equal o.P 0.5 "oneOf p"

                    match o.Children[0], o.Children[1] with
                    | (:? ElasticGrid as e), (:? Affine as a) ->
                        Expect.equal (e.Grid, e.Sigma) (3, 10.0) "elastic"
                        Expect.equal a.Rotate (Interval(-15.0, 15.0)) "one number is ± around 0"
                        Expect.equal a.Scale (Interval(0.9, 1.1)) "scale pair"
                    | x -> failtest $"choices {x}"

                    Expect.equal (g.Range, g.P) (Interval(0.8, 1.2), 0.3) "gamma"
                | x -> failtest $"steps {x}"
            | x -> failtest $"root {x}"
        }

        test "unknown keys, unknown kinds and bad values are refused with a message that names them" {
            let refuse (text: string) (needles: string list) =
                match message (fun () -> AugmentPipeline.FromJson text) with
                | None -> failtest $"accepted {text}"
                | Some m ->
                    for needle in needles do
                        Expect.stringContains m needle $"message for {text}"

            refuse """{"compose":[{"flip":{"axis":"horizontal","prob":0.5}}]}""" [ "'prob'"; "compose[0].flip"; "axis, p" ]
            refuse """{"compose":[{"elastic":{"grid":3,"sigma":10,"simga":2,"alpah":1}}]}""" [ "'simga'"; "'alpah'" ]
            refuse """{"compose":[],"P":1}""" [ "'P'" ]
            refuse """{"oneOf":[{"flip":{"axis":"vertical"}}],"weight":[1]}""" [ "'weight'" ]
            refuse """{"compose":[{"rotate":{"p":1}}]}""" [ "unknown transform 'rotate'"; "rotate90" ]
            refuse """{"flip":{"axis":"diagonal"}}""" [ "'diagonal'"; "horizontal" ]
            refuse """{"gamma":{"range":[1.2,0.8]}}""" [ "gamma" ]
            refuse """{"flip":{"axis":"vertical","p":1.5}}""" [ "probability"; "1.5" ]
            refuse """{"elastic":{"grid":3,"alpha":3}}""" [ "not both" ]
            refuse """{"flip":{"axis":"vertical"},"gamma":{"range":1}}""" [ "exactly one kind" ]
            refuse """{"compose":[{"crop":{"border":"reflect"}}]}""" [ "size" ]
        }

        test "Load reads a file and names the file in its errors" {
            let path =
                IO.Path.Combine(IO.Path.GetTempPath(), $"cropcat-aug-{Environment.ProcessId}.json")

            IO.File.WriteAllText(path, """{"compose":[{"flip":{"axis":"vertical","p":0.25}}]}""")
            let loaded = AugmentPipeline.Load path
            Expect.stringContains (loaded.ToJson()) "\"p\":0.25" "read back"
            IO.File.WriteAllText(path, """{"compose":[{"flip":{"axs":"vertical"}}]}""")

            match message (fun () -> AugmentPipeline.Load path) with
            | Some m ->
                Expect.stringContains m path "names the file"
                Expect.stringContains m "'axs'" "and the key"
            | None -> failtest "a bad file was accepted"

            IO.File.Delete path

            match message (fun () -> AugmentPipeline.Load path) with
            | Some m -> Expect.stringContains m path "a missing file is named"
            | None -> failtest "a missing file was accepted"
        }

        test "hue/saturation refuses gray samples with a message, whether or not it fires" {
            let gray = Sample("gray", 4, 4, Array.zeroCreate 16, Array.zeroCreate 16)

            let p =
                AugmentPipeline.FromJson """{"oneOf":[{"flip":{"axis":"vertical"}},{"hueSaturation":{"hue":10,"p":0}}]}"""

            match message (fun () -> p.Apply(gray, 0)) with
            | Some m -> Expect.stringContains m "RGB" "says why"
            | None -> failtest "a hue step on a gray sample was accepted"
        }
    ]

[<Tests>]
let fromOptionsAndDsl =
    let s = coded 6 6

    testList "AugmentPipeline.Options" [
        test "FromOptions(None) is the identity; the defaults hold the elastic grid, flips, turns and jitter" {
            let none = AugmentPipeline.FromOptions AugmentOptions.None

            for seed in 0..9 do
                Expect.isTrue (same s (none.Apply(s, seed))) $"seed {seed}"

            match AugmentPipeline.Default.Root with
            | :? Compose as c ->
                let kinds = c.Children |> Seq.map (fun t -> t.GetType().Name) |> List.ofSeq
                Expect.equal kinds [ "ElasticGrid"; "Flip"; "Flip"; "QuarterTurns"; "BrightnessContrast" ] "steps"
            | x -> failtest $"root {x}"
        }

        test "flips and turns from the options reach all 8 dihedral moves, each about equally often, as Augmenter's" {
            let o = AugmentOptions(Elastic = false, Contrast = 0.0, Brightness = 0.0)
            let p = AugmentPipeline.FromOptions o
            let key (a: Sample) = a.Classes
            let ours = [ 0..799 ] |> List.countBy (fun seed -> key (p.Apply(s, seed)))

            let theirs =
                [ 0..799 ] |> List.map (fun seed -> key (Augmenter.Apply(s, seed, o))) |> set

            Expect.equal ours.Length 8 "eight distinct moves"
            Expect.equal (ours |> List.map fst |> set) theirs "the same moves as Augmenter"

            for _, n in ours do
                Expect.isTrue (abs (float n / 800.0 - 0.125) <= 4.0 * sqrt (0.125 * 0.875 / 800.0)) $"{n} of 800"
        }

        test "the elastic grid field is the paper's field of ElasticDeformation from the same draws" {
            for seed, (hh, ww, grid, sigma) in List.indexed [ (24, 36, 3, 10.0); (572, 572, 3, 10.0); (17, 9, 5, 4.0) ] do
                let struct (ox, oy) = ElasticDeformation.Field(Random seed, hh, ww, grid, sigma)
                let struct (nx, ny) = ElasticGrid.Field(Random seed, hh, ww, grid, sigma)

                let gap =
                    Array.map2 (fun (a: float) b -> abs (a - b)) (Array.append ox oy) (Array.append nx ny)
                    |> Array.max

                Expect.isLessThan gap 1e-9 $"{hh}x{ww}, grid {grid}: largest difference {gap}"
                Expect.isGreaterThan (Array.max (Array.map abs nx)) 0.1 "the field is not zero"
        }

        test "the F# combinators build the same pipeline as its JSON" {
            let dsl =
                Aug.compose [
                    Aug.flipH 0.5
                    Aug.oneOf
                        [
                            Aug.elastic 3 10.0 1.0
                            Aug.affine
                                {
                                    Aug.noAffine with
                                        Rotate = (-15.0, 15.0)
                                        Scale = (0.9, 1.1)
                                }
                                1.0
                        ]
                        0.5
                    Aug.gamma (0.8, 1.2) 0.3
                ]

            let text =
                """{"compose":[{"flip":{"axis":"horizontal","p":0.5}},{"oneOf":[{"elastic":{"grid":3,"sigma":10,"p":1}},{"affine":{"rotate":15,"scale":[0.9,1.1],"border":"reflect","p":1}}],"p":0.5},{"gamma":{"range":[0.8,1.2],"p":0.3}}]}"""

            Expect.equal (Aug.toJson dsl) (Aug.toJson (Aug.ofJson text)) "same JSON"
            Expect.isTrue (same (Aug.apply 4 s dsl) ((AugmentPipeline.FromJson text).Apply(s, 4))) "same output"
        }
    ]
