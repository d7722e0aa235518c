using System;
using System.Collections.Generic;
using System.IO;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// A composable augmentation pipeline: a tree of <see cref="Transform"/>s applied to a <see cref="Sample"/>,
/// deterministic given the seed, with a JSON form (the CLI's --augment file, stored in checkpoints). Transforms are
/// immutable and work on managed arrays only, so one pipeline may serve several threads (the trainer's prefetch).
///
/// JSON schema. Keys are case-sensitive; unknown keys are refused with a message naming them and the JSON path.
/// A node is a container or a transform:
///   { "compose": [ node, ... ], "p": 1 }                    children in order
///   { "oneOf": [ node, ... ], "weights": [1, ...], "p": 1 } one child, chosen with probability ∝ weight (default equal)
///   { "kind": { settings..., "p": 1 } }                     one transform (exactly one kind key)
/// Every "p" (the chance the node is applied) defaults to 1. A range is [low, high], or one number x meaning
/// neutral ± x (neutral 0 for shift, rotate, shear, brightness, hue; 1 for scale, contrast, gamma, saturation;
/// for the non-negative noise "std" and blur "sigma" one number x means [0, x]).
/// Kinds and settings (defaults in brackets):
///   flip               axis: "horizontal" | "vertical" (required)
///   rotate90           turns: list of 1..3 [1, 2, 3] — counter-clockwise quarter turns, one drawn uniformly
///   affine             shift (px) [0], scale [1], rotate (degrees, counter-clockwise) [0], shear (degrees) [0]
///   elastic            grid [3] and sigma (px) [10]: the paper's coarse grid; or alpha (px) and sigma [4]: Simard's field
///   gridDistortion     steps [5], limit [0.3]
///   crop               size: [height, width] or one number (required) — random window, padded if the sample is smaller
///   padIfNeeded        size: [height, width] or one number (required) — pads up to at least this size
///   brightnessContrast brightness [0] (added), contrast [1] (factor)
///   gamma              range (required)
///   noise              std (required) — additive Gaussian noise
///   blur               sigma (px, required) — Gaussian blur of the image
///   hueSaturation      hue (degrees) [0], saturation (factor) [1] — RGB only; a gray sample is refused
/// The resampling kinds (affine, elastic, gridDistortion) also take "border": "reflect" | "constant" ["reflect"],
/// "fill" (image value of a constant border) [0] and "interpolation": "bicubic" | "bilinear" ["bicubic"] (image
/// only: classes and instances are always nearest, weights bilinear); crop and padIfNeeded take border and fill.
/// With a constant border, pixels moved in from outside get class -1 (no loss), weight 0, instance 0.
/// Example:
///   {"compose":[{"flip":{"axis":"horizontal","p":0.5}},
///               {"oneOf":[{"elastic":{"grid":3,"sigma":10,"p":1}},
///                         {"affine":{"rotate":15,"scale":[0.9,1.1],"border":"reflect","p":1}}],"p":0.5},
///               {"gamma":{"range":[0.8,1.2],"p":0.3}}]}
/// </summary>
public sealed class AugmentPipeline(Transform root)
{
    /// <summary>The transform tree.</summary>
    public Transform Root { get; } = root;

    /// <summary>The augmented copy of <paramref name="s"/> for this seed.</summary>
    /// <exception cref="ArgumentException">A transform refuses the sample (hue/saturation on a gray image).</exception>
    public Sample Apply(Sample s, int seed) => Root.Apply(s, seed);

    /// <summary>The JSON form, every setting explicit; <see cref="FromJson"/> reads it back to the same pipeline.</summary>
    /// <exception cref="NotSupportedException">The tree holds a user-defined transform, which has no JSON form.</exception>
    public string ToJson() => PipelineJsonWriter.Write(Root);

    /// <summary>Parses the JSON form described on this class.</summary>
    /// <exception cref="AugmentJsonException">The text is not a pipeline; the message says where and why.</exception>
    public static AugmentPipeline FromJson(string json) => new(PipelineJsonReader.Parse(json));

    /// <summary>Reads the JSON form from the file at <paramref name="path"/>.</summary>
    /// <exception cref="AugmentJsonException">The file is missing or unreadable (<see cref="AugmentJsonException.Where"/> is the path), or not a pipeline.</exception>
    public static AugmentPipeline Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new AugmentJsonException(path, $"cannot read the pipeline file: {e.Message}");
        }
        try
        {
            return FromJson(text);
        }
        catch (AugmentJsonException e)
        {
            throw new AugmentJsonException($"{path}: {e.Where}", e.Problem);
        }
    }

    /// <summary>
    /// The pipeline that behaves like <see cref="Augmenter"/> with <paramref name="o"/>: the elastic grid (reflect
    /// border, bicubic), horizontal and vertical flips with p 0.5 each, quarter turns with p 0.75 (uniform over 0..3
    /// turns in all), then the brightness/contrast jitter. Same distribution of transforms, not the same draws.
    /// </summary>
    public static AugmentPipeline FromOptions(AugmentOptions o)
    {
        var steps = new List<Transform>();
        if (o.Elastic) steps.Add(new ElasticGrid(o.ElasticGrid, o.ElasticSigma));
        if (o.Flips)
        {
            steps.Add(new Flip(FlipAxis.Horizontal, 0.5));
            steps.Add(new Flip(FlipAxis.Vertical, 0.5));
        }
        if (o.Rotations) steps.Add(new QuarterTurns(0.75));
        if (o.Contrast != 0 || o.Brightness != 0)
            steps.Add(new BrightnessContrast(Interval.Around(0, o.Brightness), Interval.Around(1, o.Contrast)));
        return new AugmentPipeline(new Compose(steps));
    }

    /// <summary>The default pipeline: <see cref="FromOptions"/> of today's <see cref="AugmentOptions"/> defaults.</summary>
    public static AugmentPipeline Default => FromOptions(new AugmentOptions());
}
