using System;
using System.Collections.Generic;
using CropCat.Data;
using CropCat.Numerics;

namespace CropCat.Training;

/// <summary>Parameters of the paper's weight map.</summary>
public sealed record WeightMapOptions
{
    /// <summary>Height of the border term (the paper: 10).</summary>
    public double W0 { get; init; } = 10;
    /// <summary>Width of the border term in pixels (the paper: about 5).</summary>
    public double Sigma { get; init; } = 5;
    /// <summary>Weight classes inversely to their frequency (w_c); false gives w_c = 1.</summary>
    public bool BalanceClasses { get; init; } = true;
    /// <summary>Include the border term at all; false leaves only w_c (the "unweighted" baseline).</summary>
    public bool BorderTerm { get; init; } = true;

    /// <summary>
    /// Distances beyond this radius are not computed: there the border term is below
    /// W0 * exp(-R^2 / (2 sigma^2)) = 1e-6, so every instance costs only its bounding box grown by R.
    /// </summary>
    public int CutoffRadius => W0 <= 0 ? 0 : (int)Math.Ceiling(Sigma * Math.Sqrt(2 * Math.Log(Math.Max(W0, 1e-6) / 1e-6)));
}

/// <summary>
/// The paper's pixel weights: w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2)), where d1 and d2 are
/// the distances to the nearest and the second-nearest cell. The border term is added on background pixels
/// (the gaps between cells the net must learn; inside a cell d1 = 0 and the term would only re-weight the
/// cell's own rim). w_c = N / (K * n_c) balances the K classes present, so its pixel mean is 1.
/// Distances are exact: one Felzenszwalb-Huttenlocher transform per instance on its bounding box grown by
/// <see cref="WeightMapOptions.CutoffRadius"/>, so the cost grows with the cells' area, not cells x image.
/// </summary>
public static class WeightMap
{
    /// <summary>The weight map of a sample with known instances.</summary>
    /// <exception cref="ArgumentException">The sample has no instance map.</exception>
    public static float[] Compute(Sample s, WeightMapOptions? options = null) =>
        Compute(s.Classes, s.Instances ?? throw new ArgumentException($"sample {s.Name} has no instance map for the weight map"), s.Height, s.Width, options);

    /// <summary>The weight map for class map <paramref name="classes"/> and instance ids <paramref name="instances"/> (0 = none).</summary>
    public static float[] Compute(int[] classes, int[] instances, int height, int width, WeightMapOptions? options = null)
    {
        var o = options ?? new WeightMapOptions();
        var n = height * width;
        var wc = ClassWeights(classes, o.BalanceClasses);
        var w = new float[n];
        for (var i = 0; i < n; i++) w[i] = (float)wc[classes[i]];
        if (!o.BorderTerm || o.W0 == 0) return w;

        var (d1, d2) = TwoNearest(instances, height, width, o.CutoffRadius);
        var twoSigma2 = 2 * o.Sigma * o.Sigma;
        for (var i = 0; i < n; i++)
        {
            if (classes[i] != 0 || d2[i] >= DistanceTransform.Infinity) continue;
            var s = Math.Sqrt(d1[i]) + Math.Sqrt(d2[i]);
            w[i] += (float)(o.W0 * Math.Exp(-s * s / twoSigma2));
        }
        return w;
    }

    /// <summary>N / (K * n_c) for each class c present (K = number of classes present); 0 for absent classes.</summary>
    public static double[] ClassWeights(int[] classes, bool balance = true)
    {
        var max = 0;
        foreach (var c in classes) max = Math.Max(max, c);
        var counts = new long[max + 1];
        foreach (var c in classes) counts[c]++;
        var present = 0;
        foreach (var c in counts) if (c > 0) present++;
        var wc = new double[max + 1];
        for (var c = 0; c <= max; c++)
            wc[c] = counts[c] == 0 ? 0 : balance ? classes.Length / (double)(present * counts[c]) : 1;
        return wc;
    }

    /// <summary>
    /// Squared distances from every pixel to the nearest and second-nearest instance (the instance's own
    /// pixels are at distance 0), or <see cref="DistanceTransform.Infinity"/> beyond <paramref name="cutoff"/>.
    /// </summary>
    public static (double[] D1, double[] D2) TwoNearest(int[] instances, int height, int width, int cutoff)
    {
        var n = height * width;
        var d1 = new double[n];
        var d2 = new double[n];
        Array.Fill(d1, DistanceTransform.Infinity);
        Array.Fill(d2, DistanceTransform.Infinity);
        foreach (var (id, box) in BoundingBoxes(instances, height, width))
        {
            int x0 = Math.Max(0, box.X0 - cutoff), y0 = Math.Max(0, box.Y0 - cutoff);
            int x1 = Math.Min(width - 1, box.X1 + cutoff), y1 = Math.Min(height - 1, box.Y1 + cutoff);
            int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
            var feature = new bool[bw * bh];
            for (var y = box.Y0; y <= box.Y1; y++)
                for (var x = box.X0; x <= box.X1; x++)
                    feature[(y - y0) * bw + (x - x0)] = instances[y * width + x] == id;
            var d = DistanceTransform.Squared(feature, bh, bw);
            for (var y = 0; y < bh; y++)
                for (var x = 0; x < bw; x++)
                {
                    var v = d[y * bw + x];
                    var i = (y + y0) * width + x + x0;
                    if (v < d1[i]) { d2[i] = d1[i]; d1[i] = v; }
                    else if (v < d2[i]) d2[i] = v;
                }
        }
        return (d1, d2);
    }

    private readonly record struct Box(int X0, int Y0, int X1, int Y1);

    private static Dictionary<int, Box> BoundingBoxes(int[] instances, int height, int width)
    {
        var boxes = new Dictionary<int, Box>();
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var id = instances[y * width + x];
                if (id == 0) continue;
                boxes[id] = boxes.TryGetValue(id, out var b)
                    ? new Box(Math.Min(b.X0, x), Math.Min(b.Y0, y), Math.Max(b.X1, x), Math.Max(b.Y1, y))
                    : new Box(x, y, x, y);
            }
        return boxes;
    }
}
