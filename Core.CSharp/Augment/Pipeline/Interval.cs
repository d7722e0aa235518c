using System;

namespace CropCat.Augment;

/// <summary>
/// A closed range [<paramref name="Lo"/>, <paramref name="Hi"/>] a transform draws one parameter from, uniformly.
/// <see cref="Exactly"/> makes a fixed value (the draw still happens, so the draw order is unchanged).
/// </summary>
/// <param name="Lo">Smallest value.</param>
/// <param name="Hi">Largest value (not below <paramref name="Lo"/>).</param>
public readonly record struct Interval(double Lo, double Hi)
{
    /// <summary>[neutral - x, neutral + x]: e.g. Around(1, 0.1) is a scale in [0.9, 1.1].</summary>
    public static Interval Around(double neutral, double x) => new(neutral - x, neutral + x);

    /// <summary>The single value <paramref name="v"/>.</summary>
    public static Interval Exactly(double v) => new(v, v);

    /// <summary>One uniform draw; always consumes exactly one <see cref="Random.NextDouble"/>.</summary>
    public double Draw(Random rng) => Lo + (Hi - Lo) * rng.NextDouble();

    /// <summary>This range, checked to be ordered and inside [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">It is not; the message names <paramref name="what"/>.</exception>
    internal Interval Within(string what, double min, double max)
    {
        if (double.IsNaN(Lo) || double.IsNaN(Hi) || Lo > Hi)
            throw new ArgumentException($"{what}: [{Lo}, {Hi}] is not a range (low above high, or not a number)");
        if (Lo < min || Hi > max)
            throw new ArgumentException($"{what}: [{Lo}, {Hi}] must lie within [{min}, {max}]");
        return this;
    }
}

/// <summary>What a geometric transform puts where its field reads outside the image.</summary>
public enum BorderMode
{
    /// <summary>Mirror the image about its edge pixels (numpy's reflect): image, labels and weights alike.</summary>
    Reflect,
    /// <summary>The image gets the fill value; classes get -1 (ignored by the loss), instances 0, weights 0.</summary>
    Constant,
}

/// <summary>How image planes are resampled (labels always use nearest neighbour, weights bilinear).</summary>
public enum ImageInterpolation
{
    /// <summary>Catmull-Rom bicubic (sharper; may overshoot a little at edges).</summary>
    Bicubic,
    /// <summary>Bilinear (never overshoots, cheaper).</summary>
    Bilinear,
}

/// <summary>The border and interpolation settings that every resampling transform shares.</summary>
/// <param name="Border">What pixels moved in from outside the image become.</param>
/// <param name="Fill">Image value for <see cref="BorderMode.Constant"/>.</param>
/// <param name="Interpolation">Image resampling.</param>
public sealed record Resampling(BorderMode Border = BorderMode.Reflect, float Fill = 0, ImageInterpolation Interpolation = ImageInterpolation.Bicubic)
{
    /// <summary>Reflect border, bicubic image: the paper's setting.</summary>
    public static Resampling Default { get; } = new();
}
