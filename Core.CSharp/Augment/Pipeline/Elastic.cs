using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// The U-Net paper's elastic deformation: a <see cref="Grid"/> x <see cref="Grid"/> grid of random displacements
/// (each component Gaussian with <see cref="Sigma"/> px standard deviation), up-sampled bicubically to every pixel
/// (<see cref="ElasticDeformation.Field"/>). Output pixel (x, y) reads source (x + dx, y + dy).
/// </summary>
public sealed class ElasticGrid : Transform
{
    /// <summary>The paper's deformation: 3x3 grid, 10 px.</summary>
    /// <exception cref="ArgumentException">A grid below 2 or a negative sigma.</exception>
    public ElasticGrid(int grid = 3, double sigma = 10, Resampling? resampling = null, double p = 1) : base(p)
    {
        if (grid < 2) throw new ArgumentException($"elastic grid needs at least 2x2 points, got {grid}");
        if (!(sigma >= 0)) throw new ArgumentException($"elastic sigma must be >= 0 px, got {sigma}");
        (Grid, Sigma, Resampling) = (grid, sigma, resampling ?? Resampling.Default);
    }

    /// <summary>Control points per axis.</summary>
    public int Grid { get; }
    /// <summary>Standard deviation of the control displacements in pixels.</summary>
    public double Sigma { get; }
    /// <summary>Border and interpolation.</summary>
    public Resampling Resampling { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var (dx, dy) = Field(rng, s.Height, s.Width, Grid, Sigma);
        return Displace(s, dx, dy, Resampling);
    }

    /// <summary>
    /// <see cref="ElasticDeformation.Field"/>'s field from the same draws, up-sampled separably (rows of the grid
    /// along x first, then along y): the same bicubic weights, up to rounding, in O(grid * W + 4 H * W) instead of
    /// 16 kernel evaluations per pixel.
    /// </summary>
    internal static (double[] Dx, double[] Dy) Field(Random rng, int height, int width, int grid, double sigma)
    {
        var (gx, gy) = ElasticDeformation.CoarseGrid(rng, grid, sigma);
        return (Upsample(gx, grid, height, width), Upsample(gy, grid, height, width));
    }

    private static double[] Upsample(double[] coarse, int grid, int height, int width)
    {
        var rows = new double[grid * width];
        for (var x = 0; x < width; x++)
        {
            var (i0, f) = Cell(x, width, grid);
            for (var r = 0; r < grid; r++)
            {
                double acc = 0;
                for (var k = -1; k <= 2; k++) acc += Interpolation.Cubic(k - f) * coarse[r * grid + Math.Clamp(i0 + k, 0, grid - 1)];
                rows[r * width + x] = acc;
            }
        }
        var field = new double[height * width];
        for (var y = 0; y < height; y++)
        {
            var (i0, f) = Cell(y, height, grid);
            var dst = field.AsSpan(y * width, width);
            for (var m = -1; m <= 2; m++)
            {
                var wm = Interpolation.Cubic(m - f);
                if (wm == 0) continue;
                var src = rows.AsSpan(Math.Clamp(i0 + m, 0, grid - 1) * width, width);
                for (var x = 0; x < width; x++) dst[x] += wm * src[x];
            }
        }
        return field;
    }

    /// <summary>The grid cell of pixel <paramref name="i"/> of <paramref name="n"/> (grid spread corner to corner) and the offset in it.</summary>
    private static (int Cell, double Frac) Cell(int i, int n, int grid)
    {
        var u = n == 1 ? 0 : i * (grid - 1) / (double)(n - 1);
        var c = Math.Min((int)Math.Floor(u), grid - 2);
        return (c, u - c);
    }

    /// <summary>Output pixel (x, y) reads source (x + dx[i], y + dy[i]).</summary>
    internal static Sample Displace(Sample s, double[] dx, double[] dy, Resampling r)
    {
        int w = s.Width;
        for (var i = 0; i < dx.Length; i++)
        {
            dx[i] += i % w;
            dy[i] += i / w;
        }
        return Warp.Resample(s, dx, dy, r);
    }
}

/// <summary>
/// Simard et al.'s elastic deformation (2003): a random field uniform in [-1, 1] per pixel and component,
/// smoothed by a Gaussian of <see cref="Sigma"/> px and scaled by <see cref="Alpha"/> px. Smoothing shrinks the
/// field a lot (by about 1 / (2 sigma sqrt(pi)) in standard deviation), so alpha is typically several times sigma
/// (Simard: alpha 34, sigma 4). Costs O(sigma) per pixel.
/// </summary>
public sealed class ElasticSimard : Transform
{
    /// <summary>A Simard field of strength <paramref name="alpha"/> and smoothness <paramref name="sigma"/>.</summary>
    /// <exception cref="ArgumentException">A negative alpha or a sigma that is not positive.</exception>
    public ElasticSimard(double alpha = 34, double sigma = 4, Resampling? resampling = null, double p = 1) : base(p)
    {
        if (!(alpha >= 0)) throw new ArgumentException($"elastic alpha must be >= 0 px, got {alpha}");
        if (!(sigma > 0)) throw new ArgumentException($"elastic sigma must be > 0 px, got {sigma}");
        (Alpha, Sigma, Resampling) = (alpha, sigma, resampling ?? Resampling.Default);
    }

    /// <summary>Scale of the smoothed field in pixels.</summary>
    public double Alpha { get; }
    /// <summary>Gaussian smoothing in pixels.</summary>
    public double Sigma { get; }
    /// <summary>Border and interpolation.</summary>
    public Resampling Resampling { get; }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        int h = s.Height, w = s.Width;
        var dx = new double[h * w];
        var dy = new double[h * w];
        for (var i = 0; i < dx.Length; i++) dx[i] = 2 * rng.NextDouble() - 1;
        for (var i = 0; i < dy.Length; i++) dy[i] = 2 * rng.NextDouble() - 1;
        Smoothing.Blur(dx, h, w, Sigma);
        Smoothing.Blur(dy, h, w, Sigma);
        for (var i = 0; i < dx.Length; i++)
        {
            dx[i] *= Alpha;
            dy[i] *= Alpha;
        }
        return ElasticGrid.Displace(s, dx, dy, Resampling);
    }
}
