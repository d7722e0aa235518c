using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// Hue rotation and saturation scaling of RGB images, done in YIQ space: luma is kept, the chroma vector (I, Q)
/// is rotated by the hue angle and scaled by the saturation factor. Being linear it needs no clipping and works on
/// standardized images too. Refuses images that do not have exactly 3 channels (see <see cref="Check"/>): a hue
/// step in a gray pipeline is a configuration mistake, and skipping it silently would hide that.
/// </summary>
public sealed class HueSaturation : Transform
{
    /// <summary>Hue shift in degrees and saturation factor (default [1, 1]), hue drawn first.</summary>
    /// <exception cref="ArgumentException">An unordered range or a negative saturation.</exception>
    public HueSaturation(Interval hue = default, Interval? saturation = null, double p = 1) : base(p)
    {
        Hue = hue.Within("hue", -180, 180);
        Saturation = (saturation ?? Interval.Exactly(1)).Within("saturation", 0, double.MaxValue);
    }

    /// <summary>Hue rotation range in degrees.</summary>
    public Interval Hue { get; }
    /// <summary>Saturation factor range (0 makes the image gray).</summary>
    public Interval Saturation { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The image is not RGB.</exception>
    public override void Check(int channels)
    {
        if (channels != 3)
            throw new ArgumentException($"hueSaturation needs RGB (3-channel) images, this sample has {channels} channel(s); remove it from the pipeline for gray data");
    }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var theta = Hue.Draw(rng) * Math.PI / 180;
        var k = Saturation.Draw(rng);
        double cos = k * Math.Cos(theta), sin = k * Math.Sin(theta);
        var n = s.Height * s.Width;
        var image = new float[s.Image.Length];
        for (var i = 0; i < n; i++)
        {
            double r = s.Image[i], g = s.Image[n + i], b = s.Image[2 * n + i];
            double y = 0.299 * r + 0.587 * g + 0.114 * b;
            double ci = 0.595716 * r - 0.274453 * g - 0.321263 * b;
            double cq = 0.211456 * r - 0.522591 * g + 0.311135 * b;
            double i2 = cos * ci - sin * cq, q2 = sin * ci + cos * cq;
            image[i] = (float)(y + 0.9563 * i2 + 0.6210 * q2);
            image[n + i] = (float)(y - 0.2721 * i2 - 0.6474 * q2);
            image[2 * n + i] = (float)(y - 1.1070 * i2 + 1.7046 * q2);
        }
        return Warp.WithImage(s, image);
    }
}
