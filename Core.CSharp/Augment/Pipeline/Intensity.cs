using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>Gray-value jitter: v * contrast + brightness on every channel alike (contrast drawn first, as <see cref="Augmenter"/>).</summary>
public sealed class BrightnessContrast : Transform
{
    /// <summary>Brightness is an additive shift, contrast a factor (default [1, 1]).</summary>
    /// <exception cref="ArgumentException">An unordered range or a negative contrast.</exception>
    public BrightnessContrast(Interval brightness = default, Interval? contrast = null, double p = 1) : base(p)
    {
        Brightness = brightness.Within("brightness", double.MinValue, double.MaxValue);
        Contrast = (contrast ?? Interval.Exactly(1)).Within("contrast", 0, double.MaxValue);
    }

    /// <summary>Additive shift range.</summary>
    public Interval Brightness { get; }
    /// <summary>Factor range.</summary>
    public Interval Contrast { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        double c = Contrast.Draw(rng), b = Brightness.Draw(rng);
        var image = new float[s.Image.Length];
        for (var i = 0; i < image.Length; i++) image[i] = (float)(s.Image[i] * c + b);
        return Warp.WithImage(s, image);
    }
}

/// <summary>
/// Gamma: v -> sign(v) |v|^gamma with gamma drawn from <see cref="Range"/> (odd-symmetric so that images which
/// are not in [0, 1] keep their sign; on [0, 1] it is the usual gamma, which fixes 0 and 1).
/// </summary>
public sealed class Gamma : Transform
{
    /// <summary>Gamma drawn from <paramref name="range"/>.</summary>
    /// <exception cref="ArgumentException">An unordered range or a gamma that is not positive.</exception>
    public Gamma(Interval range, double p = 1) : base(p) => Range = range.Within("gamma", double.Epsilon, double.MaxValue);

    /// <summary>Exponent range.</summary>
    public Interval Range { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var g = Range.Draw(rng);
        var image = new float[s.Image.Length];
        for (var i = 0; i < image.Length; i++)
        {
            var v = s.Image[i];
            image[i] = (float)(v < 0 ? -Math.Pow(-v, g) : Math.Pow(v, g));
        }
        return Warp.WithImage(s, image);
    }
}

/// <summary>Additive Gaussian noise, independent per pixel and channel, with standard deviation drawn from <see cref="Std"/>.</summary>
public sealed class GaussianNoise : Transform
{
    /// <summary>Noise standard deviation drawn from <paramref name="std"/>.</summary>
    /// <exception cref="ArgumentException">An unordered or negative range.</exception>
    public GaussianNoise(Interval std, double p = 1) : base(p) => Std = std.Within("noise std", 0, double.MaxValue);

    /// <summary>Standard deviation range.</summary>
    public Interval Std { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var sd = Std.Draw(rng);
        var image = new float[s.Image.Length];
        for (var i = 0; i < image.Length; i++) image[i] = (float)(s.Image[i] + sd * SyntheticCells.Gaussian(rng));
        return Warp.WithImage(s, image);
    }
}

/// <summary>Gaussian blur of the image (every channel by the same sigma, mirrored borders); labels are untouched.</summary>
public sealed class GaussianBlur : Transform
{
    /// <summary>Blur sigma in pixels drawn from <paramref name="sigma"/> (0 leaves the image unchanged).</summary>
    /// <exception cref="ArgumentException">An unordered or negative range.</exception>
    public GaussianBlur(Interval sigma, double p = 1) : base(p) => Sigma = sigma.Within("blur sigma", 0, 100);

    /// <summary>Sigma range in pixels.</summary>
    public Interval Sigma { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var sigma = Sigma.Draw(rng);
        int h = s.Height, w = s.Width, n = h * w;
        var plane = new double[n];
        var image = new float[s.Image.Length];
        for (var c = 0; c < s.Channels; c++)
        {
            for (var i = 0; i < n; i++) plane[i] = s.Image[c * n + i];
            Smoothing.Blur(plane, h, w, sigma);
            for (var i = 0; i < n; i++) image[c * n + i] = (float)plane[i];
        }
        return Warp.WithImage(s, image);
    }
}
