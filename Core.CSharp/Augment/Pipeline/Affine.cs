using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// A random affine map about the image centre: scale, shear, rotation, then shift. Each parameter is drawn
/// uniformly from its range, always in the order shift x, shift y, scale, rotation, shear x, shear y.
/// Rotation is in degrees, counter-clockwise as displayed; shears are in degrees (below 45); shifts in pixels
/// (positive moves content right and down). Whole-pixel shifts alone are exact.
/// </summary>
public sealed class Affine : Transform
{
    /// <summary>Ranges default to the identity (shift 0, scale 1, rotation 0, shear 0); null resampling is <see cref="Resampling.Default"/>.</summary>
    /// <exception cref="ArgumentException">A range is unordered, a scale not positive, or a shear not within (-45, 45) degrees.</exception>
    public Affine(Interval shift = default, Interval? scale = null, Interval rotate = default, Interval shear = default, Resampling? resampling = null, double p = 1)
        : base(p)
    {
        Shift = shift.Within("affine shift", double.MinValue, double.MaxValue);
        Scale = (scale ?? Interval.Exactly(1)).Within("affine scale", double.Epsilon, double.MaxValue);
        Rotate = rotate.Within("affine rotate", -360, 360);
        Shear = shear.Within("affine shear", -44.999, 44.999);
        Resampling = resampling ?? Resampling.Default;
    }

    /// <summary>Shift range in pixels (drawn once for x, once for y).</summary>
    public Interval Shift { get; }
    /// <summary>Scale factor range (above 1 zooms in).</summary>
    public Interval Scale { get; }
    /// <summary>Rotation range in degrees.</summary>
    public Interval Rotate { get; }
    /// <summary>Shear range in degrees (drawn once for x, once for y).</summary>
    public Interval Shear { get; }
    /// <summary>Border and interpolation.</summary>
    public Resampling Resampling { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        double tx = Shift.Draw(rng), ty = Shift.Draw(rng), k = Scale.Draw(rng);
        var theta = Rotate.Draw(rng) * Math.PI / 180;
        double hx = Math.Tan(Shear.Draw(rng) * Math.PI / 180), hy = Math.Tan(Shear.Draw(rng) * Math.PI / 180);
        // Forward map about the centre: out = c + t + R * H * k * (src - c), with y pointing down, so a
        // counter-clockwise rotation on screen is [[cos, sin], [-sin, cos]] and the shear is [[1, hx], [hy, 1]].
        double cos = Math.Cos(theta), sin = Math.Sin(theta);
        double a = k * (cos + sin * hy), b = k * (cos * hx + sin), c = k * (-sin + cos * hy), d = k * (-sin * hx + cos);
        var det = a * d - b * c;
        double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
        int h = s.Height, w = s.Width;
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        var sx = new double[h * w];
        var sy = new double[h * w];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                double u = x - cx - tx, v = y - cy - ty;
                sx[y * w + x] = cx + ia * u + ib * v;
                sy[y * w + x] = cy + ic * u + id * v;
            }
        return Warp.Resample(s, sx, sy, Resampling);
    }
}
