using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>Which axis a <see cref="Flip"/> mirrors.</summary>
public enum FlipAxis
{
    /// <summary>Left-right: output (y, x) reads source (y, W - 1 - x).</summary>
    Horizontal,
    /// <summary>Up-down: output (y, x) reads source (H - 1 - y, x).</summary>
    Vertical,
}

/// <summary>A mirror flip: exact (no interpolation), its own inverse.</summary>
public sealed class Flip(FlipAxis axis, double p = 0.5) : Transform(p)
{
    /// <summary>The mirrored axis.</summary>
    public FlipAxis Axis { get; } = axis;

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        int h = s.Height, w = s.Width;
        var src = new int[h * w];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                src[y * w + x] = Axis == FlipAxis.Horizontal ? y * w + (w - 1 - x) : (h - 1 - y) * w + x;
        return Warp.Gather(s, h, w, src, 0);
    }
}

/// <summary>
/// Counter-clockwise quarter turns (numpy's rot90), exact. When applied, the number of turns is drawn uniformly
/// from <see cref="Turns"/> (default 1, 2, 3: "applied" always moves pixels). An odd number of turns swaps height
/// and width, so use it on square tiles where batches must stack.
/// </summary>
public sealed class QuarterTurns : Transform
{
    /// <summary>Turns drawn from <paramref name="turns"/> (each 1..3; null: 1, 2 and 3).</summary>
    /// <exception cref="ArgumentException">An empty list or a turn count outside 1..3.</exception>
    public QuarterTurns(double p = 0.75, IEnumerable<int>? turns = null) : base(p)
    {
        Turns = turns?.ToArray() ?? [1, 2, 3];
        if (Turns.Count == 0 || Turns.Any(t => t is < 1 or > 3))
            throw new ArgumentException($"quarter turns must be a non-empty list of 1, 2 or 3, got [{string.Join(", ", Turns)}]");
    }

    /// <summary>The turn counts a firing draws from, uniformly.</summary>
    public IReadOnlyList<int> Turns { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng) => Turn(s, Turns[rng.Next(Turns.Count)]);

    /// <summary>A copy turned <paramref name="k"/> quarter turns counter-clockwise (k = 0..3).</summary>
    internal static Sample Turn(Sample s, int k)
    {
        int h = s.Height, w = s.Width;
        var (oh, ow) = k % 2 == 1 ? (w, h) : (h, w);
        var src = new int[h * w];
        for (var y = 0; y < oh; y++)
            for (var x = 0; x < ow; x++)
            {
                var (sx, sy) = k switch
                {
                    0 => (x, y),
                    1 => (oh - 1 - y, x),
                    2 => (ow - 1 - x, oh - 1 - y),
                    _ => (y, ow - 1 - x),
                };
                src[y * ow + x] = sy * w + sx;
            }
        return Warp.Gather(s, oh, ow, src, 0);
    }
}
