using System;

namespace CropCat.Augment;

/// <summary>Separable Gaussian smoothing of row-major planes, mirrored at the borders (for blur and the Simard field).</summary>
internal static class Smoothing
{
    /// <summary>Normalised Gaussian taps for offsets -r..r, r = ceil(3 sigma) (at least 1).</summary>
    public static double[] Kernel(double sigma)
    {
        var r = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var k = new double[2 * r + 1];
        double sum = 0;
        for (var i = -r; i <= r; i++) sum += k[i + r] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        for (var i = 0; i < k.Length; i++) k[i] /= sum;
        return k;
    }

    /// <summary>Smooths <paramref name="plane"/> (height x width) in place along x then y.</summary>
    public static void Blur(Span<double> plane, int height, int width, double sigma)
    {
        if (sigma <= 0) return;
        var k = Kernel(sigma);
        var r = k.Length / 2;
        var line = new double[Math.Max(height, width)];
        var idx = new int[Math.Max(height, width) + 2 * r];
        for (var i = 0; i < width + 2 * r; i++) idx[i] = Interpolation.Mirror(i - r, width);
        for (var y = 0; y < height; y++)
        {
            var row = plane.Slice(y * width, width);
            for (var x = 0; x < width; x++)
            {
                double acc = 0;
                for (var t = 0; t < k.Length; t++) acc += k[t] * row[idx[x + t]];
                line[x] = acc;
            }
            line.AsSpan(0, width).CopyTo(row);
        }
        for (var i = 0; i < height + 2 * r; i++) idx[i] = Interpolation.Mirror(i - r, height);
        // Column pass row by row (cache friendly): out[y] = sum_t k[t] * in[idx[y + t]], accumulated per row.
        var copy = plane.ToArray();
        for (var y = 0; y < height; y++)
        {
            var dst = plane.Slice(y * width, width);
            dst.Clear();
            for (var t = 0; t < k.Length; t++)
            {
                var src = copy.AsSpan(idx[y + t] * width, width);
                var kt = k[t];
                for (var x = 0; x < width; x++) dst[x] += kt * src[x];
            }
        }
    }
}
