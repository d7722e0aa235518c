using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// A window of a fixed size placed over the sample, padding with the border mode where the sample is smaller:
/// the shared geometry of <see cref="RandomCrop"/> and <see cref="PadIfNeeded"/>. When the coin fires the
/// window's offset is drawn uniformly (y, then x); when it does not the window is centred, so the output size
/// never depends on the coin and batches stack. That holds where the window is reached on every path: inside a
/// <see cref="Compose"/> with p below 1, or as one choice of a <see cref="OneOf"/>, a skipped container skips the
/// window too, so put crops in the always-applied top level.
/// </summary>
public abstract class Window : Transform
{
    /// <summary>Checks the size and stores the border.</summary>
    /// <exception cref="ArgumentException">A size below 1.</exception>
    protected Window(int height, int width, BorderMode border, float fill, double p) : base(p)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"{GetType().Name}: size {height}x{width} is empty");
        (Height, Width, Border, Fill) = (height, width, border, fill);
    }

    /// <summary>Target height in pixels.</summary>
    public int Height { get; }
    /// <summary>Target width in pixels.</summary>
    public int Width { get; }
    /// <summary>What padding shows: mirrored image, or the outside values (class -1, weight 0, instance 0, image <see cref="Fill"/>).</summary>
    public BorderMode Border { get; }
    /// <summary>Image value of constant padding.</summary>
    public float Fill { get; }

    /// <summary>The output size for a <paramref name="h"/> x <paramref name="w"/> sample.</summary>
    protected abstract (int H, int W) OutputSize(int h, int w);

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var (oh, ow) = OutputSize(s.Height, s.Width);
        var oy = Offset(rng, s.Height, oh);
        var ox = Offset(rng, s.Width, ow);
        return Cut(s, oh, ow, oy, ox);
    }

    /// <inheritdoc/>
    protected override Sample NotApplied(Sample s)
    {
        var (oh, ow) = OutputSize(s.Height, s.Width);
        return Cut(s, oh, ow, (int)Math.Floor((s.Height - oh) / 2.0), (int)Math.Floor((s.Width - ow) / 2.0));
    }

    /// <summary>A window start in [min(0, n - m), max(0, n - m)]: inside the sample, or the sample inside the window.</summary>
    private static int Offset(Random rng, int n, int m) => Math.Min(0, n - m) + rng.Next(Math.Abs(n - m) + 1);

    private Sample Cut(Sample s, int oh, int ow, int oy, int ox)
    {
        int h = s.Height, w = s.Width;
        var src = new int[oh * ow];
        for (var y = 0; y < oh; y++)
            for (var x = 0; x < ow; x++)
            {
                int yy = oy + y, xx = ox + x;
                var inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
                src[y * ow + x] = inside ? yy * w + xx
                    : Border == BorderMode.Reflect ? Interpolation.Mirror(yy, h) * w + Interpolation.Mirror(xx, w)
                    : -1;
            }
        return Warp.Gather(s, oh, ow, src, Fill);
    }
}

/// <summary>
/// Crops a <see cref="Window.Height"/> x <see cref="Window.Width"/> window at a random place (centred when the coin
/// does not fire); a sample smaller than that is padded first, so the output always has exactly this size.
/// </summary>
public sealed class RandomCrop(int height, int width, BorderMode border = BorderMode.Reflect, float fill = 0, double p = 1)
    : Window(height, width, border, fill, p)
{
    /// <inheritdoc/>
    protected override (int H, int W) OutputSize(int h, int w) => (Height, Width);
}

/// <summary>
/// Pads a sample smaller than <see cref="Window.Height"/> x <see cref="Window.Width"/> up to that size (larger sides
/// are kept). When the coin fires the sample lands at a random place in the padded canvas, otherwise centred.
/// </summary>
public sealed class PadIfNeeded(int height, int width, BorderMode border = BorderMode.Reflect, float fill = 0, double p = 1)
    : Window(height, width, border, fill, p)
{
    /// <inheritdoc/>
    protected override (int H, int W) OutputSize(int h, int w) => (Math.Max(h, Height), Math.Max(w, Width));
}
