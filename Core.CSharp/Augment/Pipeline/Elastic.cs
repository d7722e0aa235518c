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
        var (dx, dy) = ElasticDeformation.Field(rng, s.Height, s.Width, Grid, Sigma);
        return Displace(s, dx, dy, Resampling);
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
