using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// Grid distortion: each axis is cut into <see cref="Steps"/> equal cells whose widths are scaled by random
/// factors in [1 - limit, 1 + limit] and renormalised, so the image is stretched in some bands and squeezed in
/// others while its edges stay put. Factors are drawn for x first, then y.
/// </summary>
public sealed class GridDistortion : Transform
{
    /// <summary>Cells per axis and how far each may stretch.</summary>
    /// <exception cref="ArgumentException">Fewer than 1 step, or a limit outside [0, 1).</exception>
    public GridDistortion(int steps = 5, double limit = 0.3, Resampling? resampling = null, double p = 1) : base(p)
    {
        if (steps < 1) throw new ArgumentException($"grid distortion needs at least 1 step, got {steps}");
        if (!(limit >= 0 && limit < 1)) throw new ArgumentException($"grid distortion limit must be in [0, 1), got {limit}");
        (Steps, Limit, Resampling) = (steps, limit, resampling ?? Resampling.Default);
    }

    /// <summary>Cells per axis.</summary>
    public int Steps { get; }
    /// <summary>Largest relative change of a cell's width.</summary>
    public double Limit { get; }
    /// <summary>Border and interpolation.</summary>
    public Resampling Resampling { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        int h = s.Height, w = s.Width;
        var mx = Axis(rng, w);
        var my = Axis(rng, h);
        var sx = new double[h * w];
        var sy = new double[h * w];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                sx[y * w + x] = mx[x];
                sy[y * w + x] = my[y];
            }
        return Warp.Resample(s, sx, sy, Resampling);
    }

    /// <summary>Source coordinate of each output coordinate 0..n-1 along one axis (piecewise linear, ends fixed).</summary>
    private double[] Axis(Random rng, int n)
    {
        var f = new double[Steps];
        for (var i = 0; i < Steps; i++) f[i] = 1 + Limit * (2 * rng.NextDouble() - 1);
        var total = 0.0;
        foreach (var v in f) total += v;
        // Source cell boundaries: cumulative widths scaled to span 0..n-1 exactly.
        var edges = new double[Steps + 1];
        for (var i = 0; i < Steps; i++) edges[i + 1] = edges[i] + f[i] / total * (n - 1);
        edges[Steps] = n - 1;
        var map = new double[n];
        var cell = (n - 1) / (double)Steps;
        for (var x = 0; x < n; x++)
        {
            if (n == 1) break;
            var i = Math.Min((int)(x / cell), Steps - 1);
            var t = (x - i * cell) / cell;
            map[x] = edges[i] + t * (edges[i + 1] - edges[i]);
        }
        return map;
    }
}
