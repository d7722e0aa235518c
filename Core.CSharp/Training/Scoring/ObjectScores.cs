using System;
using System.Collections.Generic;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>
/// The object-level metric of the TGS Salt Identification (2018) and Data Science Bowl 2018 competitions:
/// mean average precision over IoU thresholds 0.5, 0.55, ..., 0.95, as their Kaggle evaluation pages define it.
/// </summary>
/// <remarks>
/// Per image the objects are the instances of the truth and of the prediction (instance maps, 0 = background;
/// a binary prediction becomes instances through <see cref="Instances"/>). For TGS, whose masks hold one salt
/// region per image however many pieces it has, public reimplementations score the whole mask as one object
/// (pass <c>mask ? 1 : 0</c> on both sides); DSB 2018 scores nuclei, given as non-overlapping instances. At threshold t a predicted object
/// is a hit when its IoU with a true object is greater than t (equal is a miss); TP(t) counts the matched pairs,
/// FP(t) the unmatched predicted objects, FN(t) the unmatched true objects, and
/// precision(t) = TP / (TP + FP + FN). The image's score is the mean of precision(t) over the 10 thresholds,
/// and a data set's the mean over its images (<see cref="MeanAveragePrecision"/>).
/// <para>
/// Matching needs no assignment: since the objects of one map are disjoint, an object can have IoU above 0.5
/// with at most one object of the other map. (If true A had IoU &gt; 1/2 with predicted P and Q, then
/// |A ∩ P| &gt; |A ∪ P| / 2 &gt;= |A| / 2 and likewise for Q, so |A ∩ P| + |A ∩ Q| &gt; |A|, impossible for
/// disjoint P and Q.) So at every t &gt;= 0.5 the pairs with IoU &gt; t are already one to one, and
/// TP(t) is their number.
/// </para>
/// <para>
/// Empty images follow TGS's rule: no true and no predicted object scores 1 (precision 1 at every threshold);
/// no true object but some predicted scores 0, as does a true object with nothing predicted (the formula gives
/// 0 there). Truth pixels below 0 are ignored (padding): neither map is counted there, so an object lying only
/// in padding does not exist. Thresholds are compared exactly, as 20 |A ∩ B| &gt; k |A ∪ B| for t = k / 20,
/// so an IoU of exactly 0.55 is not a hit at 0.55 whatever the rounding of 0.55 in binary.
/// </para>
/// <para>
/// The cost is three passes over the pixels (filling a table of pair counts) plus one over the overlapping
/// pairs, not one pass per pair: about 20 ms for a 1024 x 1024 map with 100 objects.
/// </para>
/// </remarks>
public static class ObjectScores
{
    private const int Steps = 10;

    /// <summary>The IoU thresholds, 0.5 to 0.95 in steps of 0.05 (k / 20 for k = 10..19).</summary>
    public static IReadOnlyList<double> Thresholds { get; } = Array.AsReadOnly(MakeThresholds());

    private static double[] MakeThresholds()
    {
        var t = new double[Steps];
        for (var k = 0; k < Steps; k++) t[k] = (10 + k) / 20.0;
        return t;
    }

    /// <summary>
    /// The 4-connected components of a binary mask as an instance map (ids 1..n, 0 = background), the usual way
    /// to turn a semantic prediction into objects. 4-connectivity keeps two objects that touch only diagonally apart.
    /// </summary>
    public static int[] Instances(bool[] mask, int height, int width) => Components.Label(mask, height, width);

    /// <summary>The image's average precision: the mean over <see cref="Thresholds"/> of TP / (TP + FP + FN).</summary>
    /// <param name="truth">True instance map, row-major; 0 = background, below 0 = ignored.</param>
    /// <param name="predicted">Predicted instance map, same size; 0 = background, no negative ids.</param>
    /// <param name="height">Rows.</param>
    /// <param name="width">Columns.</param>
    public static double AveragePrecision(int[] truth, int[] predicted, int height, int width) =>
        Breakdown(truth, predicted, height, width).AveragePrecision;

    /// <summary>The counts and precision at each threshold and their mean (see <see cref="AveragePrecision"/>).</summary>
    public static ObjectPrecision Breakdown(int[] truth, int[] predicted, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        if (truth.Length != (long)height * width) throw new ArgumentException($"expected {height}x{width} = {(long)height * width} pixels, truth has {truth.Length}");
        var o = InstanceOverlap.Count(truth, predicted);
        var tp = new int[Steps];
        foreach (var (t, p, inter) in o.Pairs)
        {
            var union = o.TrueArea[t] + o.PredictedArea[p] - inter;
            // IoU > k / 20 <=> 20 I > k U, exact in integers; the thresholds rise, so stop at the first miss.
            for (var k = 0; k < Steps && 20 * inter > (10 + k) * union; k++) tp[k]++;
        }
        int nt = o.TrueObjects, np = o.PredictedObjects;
        var fp = new int[Steps];
        var fn = new int[Steps];
        var precision = new double[Steps];
        double sum = 0;
        for (var k = 0; k < Steps; k++)
        {
            fp[k] = np - tp[k];
            fn[k] = nt - tp[k];
            precision[k] = nt + np == 0 ? 1.0 : tp[k] / (double)(tp[k] + fp[k] + fn[k]);
            sum += precision[k];
        }
        return new ObjectPrecision(nt, np, Thresholds, tp, fp, fn, precision, sum / Steps);
    }
}
