using System;

namespace CropCat.Training;

/// <summary>
/// The (percentile) Hausdorff distance between two binary masks, defined as MONAI's
/// <c>compute_hausdorff_distance(y_pred, y, percentile=p, directed=False)</c> with Euclidean distance and unit
/// spacing: the distances from each edge pixel of one mask to the nearest edge pixel of the other
/// (<see cref="SurfacePoints"/>), the p-th percentile of each direction's distances (linear interpolation,
/// as <c>torch.quantile</c> and <c>numpy.percentile</c> by default), and the larger of the two.
/// </summary>
/// <remarks>
/// Both masks empty: 0 (nothing to be far from; MONAI gives NaN). One mask empty: +infinity (MONAI too). The
/// percentile is taken per direction and then the maximum, as MONAI does; some tools (MedPy's <c>hd95</c>)
/// instead take one percentile of both directions' distances pooled, which can be smaller.
/// </remarks>
public static class HausdorffDistance
{
    /// <summary>The 95th-percentile Hausdorff distance (HD95) in pixels.</summary>
    public static double Percentile95(bool[] truth, bool[] predicted, int height, int width) =>
        Compute(truth, predicted, height, width, 95);

    /// <summary>
    /// The <paramref name="percentile"/>-th percentile Hausdorff distance in pixels (0..100; 100 is the classic
    /// Hausdorff distance, the largest distance of either surface to the other). Symmetric in the two masks.
    /// </summary>
    public static double Compute(bool[] truth, bool[] predicted, int height, int width, double percentile = 100)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        if (!(percentile >= 0 && percentile <= 100)) throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "a percentile is between 0 and 100");
        if (truth.Length != predicted.Length) throw new ArgumentException($"masks differ in size: {truth.Length} and {predicted.Length} pixels");
        var te = SurfacePoints.Edges(truth, height, width);
        var pe = SurfacePoints.Edges(predicted, height, width);
        var predToTruth = SurfacePoints.DistancesBetweenEdges(pe, te, height, width);
        var truthToPred = SurfacePoints.DistancesBetweenEdges(te, pe, height, width);
        // A non-empty mask has a non-empty edge, so empty distance lists mean empty masks.
        if (predToTruth.Length == 0 && truthToPred.Length == 0) return 0;
        if (predToTruth.Length == 0 || truthToPred.Length == 0) return double.PositiveInfinity;
        return Math.Max(Percentile(predToTruth, percentile), Percentile(truthToPred, percentile));
    }

    /// <summary>
    /// The <paramref name="percentile"/>-th percentile of <paramref name="values"/> (not empty; sorted in place)
    /// by linear interpolation between the two nearest ranks: with the values sorted, position p / 100 (n - 1).
    /// </summary>
    public static double Percentile(double[] values, double percentile)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) throw new ArgumentException("no values", nameof(values));
        Array.Sort(values);
        var pos = percentile / 100.0 * (values.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, values.Length - 1);
        var frac = pos - lo;
        // Infinite values (an empty surface) must not turn into NaN through inf - inf.
        return frac == 0 ? values[lo] : values[lo] + (values[hi] - values[lo]) * frac;
    }
}
