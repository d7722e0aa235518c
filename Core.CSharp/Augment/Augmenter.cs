using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>Which augmentations run, and how strong they are.</summary>
public sealed record AugmentOptions
{
    /// <summary>Apply the elastic deformation.</summary>
    public bool Elastic { get; init; } = true;
    /// <summary>Points per axis of the displacement grid (the paper: 3).</summary>
    public int ElasticGrid { get; init; } = 3;
    /// <summary>Standard deviation of the grid displacements in pixels (the paper: 10).</summary>
    public double ElasticSigma { get; init; } = 10;
    /// <summary>Random horizontal and vertical flips.</summary>
    public bool Flips { get; init; } = true;
    /// <summary>Random rotations by multiples of 90 degrees.</summary>
    public bool Rotations { get; init; } = true;
    /// <summary>Gray-value jitter: contrast factor in [1 - c, 1 + c].</summary>
    public double Contrast { get; init; } = 0.15;
    /// <summary>Gray-value jitter: brightness shift in [-b, b].</summary>
    public double Brightness { get; init; } = 0.08;

    /// <summary>No augmentation at all.</summary>
    public static AugmentOptions None => new() { Elastic = false, Flips = false, Rotations = false, Contrast = 0, Brightness = 0 };
}

/// <summary>
/// One random draw of <see cref="Augmenter"/>: the flips, the quarter turns, the gray-value jitter and the
/// elastic displacement field (indexed by source pixel, after the flips). Tests and callers that need a
/// particular transform build one directly; <see cref="Augmenter.Draw"/> makes the seeded ones.
/// </summary>
/// <param name="FlipX">Mirror the columns: output (y, x) reads source (y, W - 1 - x).</param>
/// <param name="FlipY">Mirror the rows: output (y, x) reads source (H - 1 - y, x).</param>
/// <param name="Turns">Counter-clockwise quarter turns after the flips (0..3), as numpy's rot90(a, Turns).</param>
/// <param name="Contrast">Gray-value factor (1 = unchanged).</param>
/// <param name="Brightness">Gray-value shift (0 = unchanged).</param>
/// <param name="Dx">Per-pixel x displacement (height*width, row-major), or null for none.</param>
/// <param name="Dy">Per-pixel y displacement, null exactly when <paramref name="Dx"/> is.</param>
public sealed record AugmentDraw(bool FlipX, bool FlipY, int Turns, double Contrast, double Brightness, double[]? Dx, double[]? Dy)
{
    /// <summary>The draw that changes nothing.</summary>
    public static AugmentDraw Identity => new(false, false, 0, 1, 0, null, null);
}

/// <summary>
/// Applies one random geometric transform identically to the image (bicubic), the weight map (bilinear)
/// and the class and instance maps (nearest), then jitters the gray values of the image only. The draw
/// depends only on the seed, so a training step is reproducible from (seed, step).
/// </summary>
public static class Augmenter
{
    /// <summary>An augmented copy of <paramref name="s"/> (rotations by 90 degrees swap height and width).</summary>
    public static Sample Apply(Sample s, int seed, AugmentOptions o) => Apply(s, Draw(seed, s.Height, s.Width, o));

    /// <summary>The transform <see cref="Apply(Sample, int, AugmentOptions)"/> uses for a <paramref name="height"/> x <paramref name="width"/> sample.</summary>
    public static AugmentDraw Draw(int seed, int height, int width, AugmentOptions o)
    {
        var rng = new Random(seed);
        // One draw order, whatever is switched on, so a switch does not shift the other draws.
        var flipX = rng.NextDouble() < 0.5;
        var flipY = rng.NextDouble() < 0.5;
        var turns = rng.Next(4);
        var contrast = 1 + o.Contrast * (2 * rng.NextDouble() - 1);
        var brightness = o.Brightness * (2 * rng.NextDouble() - 1);
        if (!o.Flips) flipX = flipY = false;
        if (!o.Rotations) turns = 0;
        var (dx, dy) = o.Elastic ? ElasticDeformation.Field(rng, height, width, o.ElasticGrid, o.ElasticSigma) : (null, null);
        return new AugmentDraw(flipX, flipY, turns, contrast, brightness, dx, dy);
    }

    /// <summary>A copy of <paramref name="s"/> transformed by <paramref name="d"/>.</summary>
    /// <exception cref="ArgumentException">The displacement field does not have the sample's size, or Turns is not 0..3.</exception>
    public static Sample Apply(Sample s, AugmentDraw d)
    {
        int h = s.Height, w = s.Width;
        if (d.Turns is < 0 or > 3) throw new ArgumentException($"Turns must be 0..3, got {d.Turns}");
        if ((d.Dx is null) != (d.Dy is null) || (d.Dx is not null && (d.Dx.Length != h * w || d.Dy!.Length != h * w)))
            throw new ArgumentException($"the displacement field must be two {h}x{w} arrays or none");
        var (flipX, flipY, turns, contrast, brightness, dx, dy) = (d.FlipX, d.FlipY, d.Turns, d.Contrast, d.Brightness, d.Dx, d.Dy);
        var rh = turns % 2 == 1 ? w : h;
        var rw = turns % 2 == 1 ? h : w;

        var channels = s.Channels;
        var plane = h * w;
        var image = new float[channels * rh * rw];
        var classes = new int[rh * rw];
        var instances = s.Instances is null ? null : new int[rh * rw];
        var weights = s.Weights is null ? null : new float[rh * rw];
        for (var y = 0; y < rh; y++)
            for (var x = 0; x < rw; x++)
            {
                // Output pixel -> source pixel: undo rotation and flips, then add the displacement.
                var (sx, sy) = Rotate(x, y, rw, rh, turns);
                if (flipX) sx = w - 1 - sx;
                if (flipY) sy = h - 1 - sy;
                double px = sx, py = sy;
                if (dx is not null)
                {
                    px += dx[sy * w + sx];
                    py += dy![sy * w + sx];
                }
                var i = y * rw + x;
                for (var c = 0; c < channels; c++)
                {
                    // Every channel moves with the same field; the jitter scales them alike.
                    var v = dx is null ? s.Image[c * plane + sy * w + sx] : Interpolation.Bicubic(s.Image, c * plane, h, w, px, py);
                    image[c * rh * rw + i] = (float)(v * contrast + brightness);
                }
                classes[i] = Interpolation.Nearest(s.Classes, h, w, px, py);
                if (instances is not null) instances[i] = Interpolation.Nearest(s.Instances!, h, w, px, py);
                if (weights is not null) weights[i] = dx is null ? s.Weights![sy * w + sx] : Interpolation.Bilinear(s.Weights!, h, w, px, py);
            }
        return new Sample(s.Name, rh, rw, image, classes, instances, weights, channels);
    }

    /// <summary>The source pixel of output pixel (x, y) after <paramref name="turns"/> counter-clockwise quarter turns.</summary>
    private static (int X, int Y) Rotate(int x, int y, int outW, int outH, int turns) => turns switch
    {
        0 => (x, y),
        1 => (outH - 1 - y, x),
        2 => (outW - 1 - x, outH - 1 - y),
        _ => (y, outW - 1 - x),
    };
}
