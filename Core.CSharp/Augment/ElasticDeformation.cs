using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// The paper's elastic deformation: random displacement vectors on a coarse grid (3x3 by default), each
/// component drawn from a Gaussian with 10 px standard deviation, up-sampled to a smooth per-pixel
/// displacement field with bicubic interpolation.
/// </summary>
public static class ElasticDeformation
{
    /// <summary>
    /// A per-pixel displacement field (dx, dy), each height*width, from a grid of
    /// <paramref name="grid"/> x <paramref name="grid"/> control points spread over the image corners to corners.
    /// </summary>
    public static (double[] Dx, double[] Dy) Field(Random rng, int height, int width, int grid = 3, double sigma = 10)
    {
        if (grid < 2) throw new ArgumentException($"the displacement grid needs at least 2x2 points, got {grid}");
        var (gx, gy) = CoarseGrid(rng, grid, sigma);
        return (Upsample(gx, grid, height, width), Upsample(gy, grid, height, width));
    }

    /// <summary>
    /// The control points' displacements, grid x grid each for x and y, drawn from N(0, sigma^2) in one order (x then
    /// y per point): the draws every elastic field of the paper's form makes, whichever way it is up-sampled.
    /// </summary>
    internal static (double[] Dx, double[] Dy) CoarseGrid(Random rng, int grid, double sigma)
    {
        var gx = new double[grid * grid];
        var gy = new double[grid * grid];
        for (var i = 0; i < gx.Length; i++)
        {
            gx[i] = sigma * SyntheticCells.Gaussian(rng);
            gy[i] = sigma * SyntheticCells.Gaussian(rng);
        }
        return (gx, gy);
    }

    /// <summary>Bicubic (Catmull-Rom, edge-clamped) up-sampling of a grid x grid field to height x width.</summary>
    public static double[] Upsample(double[] coarse, int grid, int height, int width)
    {
        var r = new double[height * width];
        for (var y = 0; y < height; y++)
        {
            var v = height == 1 ? 0 : y * (grid - 1) / (double)(height - 1);
            for (var x = 0; x < width; x++)
            {
                var u = width == 1 ? 0 : x * (grid - 1) / (double)(width - 1);
                int iu = Math.Min((int)Math.Floor(u), grid - 2), iv = Math.Min((int)Math.Floor(v), grid - 2);
                double fu = u - iu, fv = v - iv, s = 0;
                for (var m = -1; m <= 2; m++)
                {
                    var row = Math.Clamp(iv + m, 0, grid - 1) * grid;
                    var wy = Interpolation.Cubic(m - fv);
                    for (var k = -1; k <= 2; k++)
                        s += wy * Interpolation.Cubic(k - fu) * coarse[row + Math.Clamp(iu + k, 0, grid - 1)];
                }
                r[y * width + x] = s;
            }
        }
        return r;
    }
}
