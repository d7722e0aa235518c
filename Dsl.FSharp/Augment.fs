/// F# combinators for the core's augmentation pipeline (`CropCat.Augment`): thin wrappers that build the
/// same `Transform` objects, so a pipeline written here has the JSON form documented on `AugmentPipeline`.
namespace CropCat.Dsl

open CropCat.Augment
open CropCat.Data

/// Settings of `Aug.affine`: ranges as (low, high); `Aug.noAffine` is the identity to start from.
type AffineSettings = {
    /// Shift in pixels, drawn for x and for y.
    Shift: float * float
    /// Scale factor.
    Scale: float * float
    /// Rotation in degrees, counter-clockwise as displayed.
    Rotate: float * float
    /// Shear in degrees, drawn for x and for y.
    Shear: float * float
    /// Border, fill and image interpolation.
    Resampling: Resampling
}

/// Augmentation combinators, e.g.
/// `Aug.compose [ Aug.flipH 0.5; Aug.oneOf [ Aug.elastic 3 10.0 1.0; Aug.rotate 15.0 1.0 ] 0.5; Aug.gamma (0.8, 1.2) 0.3 ]`.
/// The last argument of every transform is its probability p.
[<RequireQualifiedAccess>]
module Aug =
    let private range (lo: float, hi: float) = Interval(lo, hi)

    /// Reflect border, bicubic image (the default of every resampling transform).
    let reflect = Resampling.Default

    /// Constant border: the image gets `fill`, classes -1 (no loss), weights 0, instances 0.
    let constant (fill: float32) =
        Resampling(BorderMode.Constant, fill, ImageInterpolation.Bicubic)

    /// The children in order, always applied.
    let compose (steps: Transform list) : Transform = Compose(steps, 1.0)

    /// The children in order, applied as a whole with probability `p`.
    let composeP (p: float) (steps: Transform list) : Transform = Compose(steps, p)

    /// One child chosen uniformly, applied with probability `p`.
    let oneOf (choices: Transform list) (p: float) : Transform = OneOf(choices, null, p)

    /// One child chosen with probability proportional to its weight, applied with probability `p`.
    let oneOfWeighted (choices: (float * Transform) list) (p: float) : Transform =
        OneOf(List.map snd choices, List.map fst choices, p)

    /// Left-right mirror.
    let flipH (p: float) : Transform = Flip(FlipAxis.Horizontal, p)

    /// Up-down mirror.
    let flipV (p: float) : Transform = Flip(FlipAxis.Vertical, p)

    /// 1, 2 or 3 counter-clockwise quarter turns, drawn uniformly.
    let rotate90 (p: float) : Transform = QuarterTurns(p)

    /// Quarter turns drawn from `turns` (each 1..3).
    let turns (turns: int list) (p: float) : Transform = QuarterTurns(p, turns)

    /// The identity affine settings, reflect border.
    let noAffine = {
        Shift = (0.0, 0.0)
        Scale = (1.0, 1.0)
        Rotate = (0.0, 0.0)
        Shear = (0.0, 0.0)
        Resampling = reflect
    }

    /// A random affine map, e.g. `Aug.affine { Aug.noAffine with Rotate = (-15.0, 15.0); Scale = (0.9, 1.1) } 1.0`.
    let affine (s: AffineSettings) (p: float) : Transform =
        Affine(range s.Shift, range s.Scale, range s.Rotate, range s.Shear, s.Resampling, p)

    /// Rotation by up to ± `degrees`, reflect border.
    let rotate (degrees: float) (p: float) : Transform =
        affine
            {
                noAffine with
                    Rotate = (-degrees, degrees)
            }
            p

    /// Shift by up to ± `pixels` along each axis, reflect border.
    let shift (pixels: float) (p: float) : Transform =
        affine
            {
                noAffine with
                    Shift = (-pixels, pixels)
            }
            p

    /// The paper's elastic deformation: a `grid` x `grid` grid of displacements with `sigma` px standard deviation.
    let elastic (grid: int) (sigma: float) (p: float) : Transform = ElasticGrid(grid, sigma, reflect, p)

    /// The paper's elastic deformation with a chosen border and interpolation.
    let elasticWith (r: Resampling) (grid: int) (sigma: float) (p: float) : Transform = ElasticGrid(grid, sigma, r, p)

    /// Simard's elastic deformation: a uniform random field smoothed by `sigma` px and scaled by `alpha` px.
    let simard (alpha: float) (sigma: float) (p: float) : Transform = ElasticSimard(alpha, sigma, reflect, p)

    /// Grid distortion: `steps` cells per axis, each stretched by up to ± `limit`.
    let gridDistortion (steps: int) (limit: float) (p: float) : Transform =
        GridDistortion(steps, limit, reflect, p)

    /// A `height` x `width` window at a random place (centred when not applied), reflect-padded if the sample is smaller.
    let crop (height: int) (width: int) (p: float) : Transform =
        RandomCrop(height, width, BorderMode.Reflect, 0f, p)

    /// Pads up to at least `height` x `width` with the given border, at a random place (centred when not applied).
    let padIfNeeded (border: BorderMode) (height: int) (width: int) (p: float) : Transform =
        PadIfNeeded(height, width, border, 0f, p)

    /// v * contrast + brightness, brightness in ± `brightness`, contrast in 1 ± `contrast`.
    let brightnessContrast (brightness: float) (contrast: float) (p: float) : Transform =
        BrightnessContrast(Interval.Around(0.0, brightness), Interval.Around(1.0, contrast), p)

    /// Gamma drawn from (low, high).
    let gamma (r: float * float) (p: float) : Transform = Gamma(range r, p)

    /// Additive Gaussian noise with standard deviation drawn from (low, high).
    let noise (std: float * float) (p: float) : Transform = GaussianNoise(range std, p)

    /// Gaussian blur with sigma (px) drawn from (low, high).
    let blur (sigma: float * float) (p: float) : Transform = GaussianBlur(range sigma, p)

    /// Hue shift in ± `hue` degrees and saturation factor in 1 ± `saturation`; RGB samples only (gray ones are refused).
    let hueSaturation (hue: float) (saturation: float) (p: float) : Transform =
        HueSaturation(Interval.Around(0.0, hue), Interval.Around(1.0, saturation), p)

    /// The augmented copy of `sample` for `seed`.
    let apply (seed: int) (sample: Sample) (t: Transform) : Sample = t.Apply(sample, seed)

    /// The pipeline object (what the trainer takes).
    let pipeline (t: Transform) = AugmentPipeline(t)

    /// The JSON form of `t`.
    let toJson (t: Transform) : string = AugmentPipeline(t).ToJson()

    /// Parses the JSON form; raises `AugmentJsonException` naming the place and the problem.
    let ofJson (text: string) : Transform = AugmentPipeline.FromJson(text).Root
