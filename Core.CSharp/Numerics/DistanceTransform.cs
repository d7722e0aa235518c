using System;

namespace CropCat.Numerics;

/// <summary>
/// Exact squared Euclidean distance transforms after Felzenszwalb and Huttenlocher ("Distance Transforms
/// of Sampled Functions", 2012): the 1-D transform is the lower envelope of parabolas rooted at the sample
/// points, linear in the number of samples; the 2-D transform is the 1-D one over columns, then rows.
/// </summary>
public static class DistanceTransform
{
    /// <summary>Stands for "no feature pixel": large enough to lose every comparison, small enough not to overflow.</summary>
    public const double Infinity = 1e20;

    /// <summary>
    /// 1-D: d[q] = min over p of (q - p)^2 + f[p], written to <paramref name="d"/>.
    /// <paramref name="v"/> (n ints) and <paramref name="z"/> (n + 1 doubles) are scratch space.
    /// </summary>
    public static void Squared1D(ReadOnlySpan<double> f, Span<double> d, Span<int> v, Span<double> z)
    {
        var n = f.Length;
        if (n == 0) return;
        var k = 0;
        v[0] = 0;
        z[0] = double.NegativeInfinity;
        z[1] = double.PositiveInfinity;
        for (var q = 1; q < n; q++)
        {
            // Where the parabola rooted at q overtakes the rightmost one of the envelope; pop those it hides.
            var s = Intersection(f, q, v[k]);
            while (s <= z[k])
            {
                k--;
                s = Intersection(f, q, v[k]);
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = double.PositiveInfinity;
        }
        k = 0;
        for (var q = 0; q < n; q++)
        {
            while (z[k + 1] < q) k++;
            var p = v[k];
            d[q] = (double)(q - p) * (q - p) + f[p];
        }
    }

    private static double Intersection(ReadOnlySpan<double> f, int q, int p) =>
        (f[q] + (double)q * q - (f[p] + (double)p * p)) / (2.0 * (q - p));

    /// <summary>
    /// 2-D: for a row-major <paramref name="height"/> x <paramref name="width"/> grid, the squared distance
    /// from every pixel to the nearest pixel where <paramref name="feature"/> is true
    /// (<see cref="Infinity"/> when there is none).
    /// </summary>
    public static double[] Squared(bool[] feature, int height, int width)
    {
        var g = new double[height * width];
        for (var i = 0; i < g.Length; i++) g[i] = feature[i] ? 0 : Infinity;
        var n = Math.Max(height, width);
        var f = new double[n];
        var d = new double[n];
        var v = new int[n];
        var z = new double[n + 1];
        for (var x = 0; x < width; x++)
        {
            for (var y = 0; y < height; y++) f[y] = g[y * width + x];
            Squared1D(f.AsSpan(0, height), d.AsSpan(0, height), v, z);
            for (var y = 0; y < height; y++) g[y * width + x] = Math.Min(d[y], Infinity);
        }
        for (var y = 0; y < height; y++)
        {
            g.AsSpan(y * width, width).CopyTo(f);
            Squared1D(f.AsSpan(0, width), d.AsSpan(0, width), v, z);
            for (var x = 0; x < width; x++) g[y * width + x] = Math.Min(d[x], Infinity);
        }
        return g;
    }
}
