using System;
using System.Collections.Generic;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>Segmentation scores of one or more predictions against ground truth.</summary>
/// <param name="IoU">Intersection over union per class (NaN for a class absent from both).</param>
/// <param name="Dice">Dice coefficient per class (NaN for a class absent from both).</param>
/// <param name="PixelError">Fraction of misclassified pixels.</param>
public sealed record SegmentationScores(double[] IoU, double[] Dice, double PixelError);

/// <summary>
/// Accumulates a confusion matrix over many predictions and reports per-class IoU, Dice and pixel error.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[,] _m;

    /// <summary>An empty matrix for <paramref name="classes"/> classes.</summary>
    public ConfusionMatrix(int classes)
    {
        Classes = classes;
        _m = new long[classes, classes];
    }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Pixels of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => _m[truth, predicted];

    /// <summary>Counts one prediction against its truth (equal-length class maps); truth pixels below 0 (ignored, e.g. padding outside the image) are not counted.</summary>
    public void Add(int[] truth, int[] predicted)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"truth has {truth.Length} pixels, prediction {predicted.Length}");
        for (var i = 0; i < truth.Length; i++)
            if (truth[i] >= 0) _m[truth[i], predicted[i]]++;
    }

    /// <summary>The scores of everything added so far.</summary>
    public SegmentationScores Scores()
    {
        var iou = new double[Classes];
        var dice = new double[Classes];
        long total = 0, wrong = 0;
        for (var c = 0; c < Classes; c++)
        {
            long tp = _m[c, c], fp = 0, fn = 0;
            for (var k = 0; k < Classes; k++)
            {
                if (k == c) continue;
                fp += _m[k, c];
                fn += _m[c, k];
            }
            iou[c] = tp + fp + fn == 0 ? double.NaN : tp / (double)(tp + fp + fn);
            dice[c] = tp + fp + fn == 0 ? double.NaN : 2.0 * tp / (2.0 * tp + fp + fn);
            for (var k = 0; k < Classes; k++)
            {
                total += _m[c, k];
                if (k != c) wrong += _m[c, k];
            }
        }
        return new SegmentationScores(iou, dice, total == 0 ? double.NaN : wrong / (double)total);
    }
}

/// <summary>Pixel and instance metrics on class maps and instance maps.</summary>
public static class Metrics
{
    /// <summary>Per-class IoU, Dice and pixel error of one prediction.</summary>
    public static SegmentationScores Score(int[] truth, int[] predicted, int classes)
    {
        var m = new ConfusionMatrix(classes);
        m.Add(truth, predicted);
        return m.Scores();
    }

    /// <summary>
    /// The adapted Rand error of the SNEMI3D and ISBI 2012 challenges (Arganda-Carreras et al., 2015), defined
    /// exactly as scikit-image's <c>skimage.metrics.adapted_rand_error(truth, predicted)</c> with its default
    /// <c>ignore_labels=(0,)</c>, and checked against it (Tests/golden/rand_expected.json). Only pixels inside
    /// true cells (<paramref name="truth"/> != 0) count; every predicted value, 0 included, is a segment. With
    /// p_ij the number of counted pixels in true cell i and predicted segment j, a_i = sum_j p_ij and
    /// b_j = sum_i p_ij, count the pairs of pixels that share a label:
    /// T = sum_ij p_ij (p_ij - 1), S_true = sum_i a_i (a_i - 1), S_pred = sum_j b_j (b_j - 1).
    /// Precision P = T / S_pred (merged cells lower it), recall R = T / S_true (split cells lower it), and
    /// Rand error = 1 - 2PR / (P + R) = 1 - 2T / (S_true + S_pred), in [0, 1].
    /// Where no pair is counted at all (S_true = S_pred = 0) the error is 0, where scikit-image gives NaN; where
    /// only one of S_true, S_pred is 0 it is 1 (scikit-image: NaN), so that a mean over tiles stays defined.
    /// (The challenges' own scripts differ in detail: they count squares p_ij^2 instead of pairs and add
    /// a c/n term for pixels predicted as 0.)
    /// </summary>
    public static double RandError(int[] truth, int[] predicted) => AdaptedRand(truth, predicted, predictedBackgroundSingletons: false);

    /// <summary>
    /// Rand error (<see cref="RandError"/>) of a predicted class map: the predicted segments are the 4-connected
    /// components of its foreground (every class but 0), and every pixel predicted as background is a segment of
    /// its own, i.e. it shares a label with no other pixel. So a missed cell counts as fully split, and the rims
    /// that the net gives to the background do not merge into one segment that spans the image. Equal to
    /// scikit-image's adapted_rand_error on those labels (checked by the same fixture).
    /// </summary>
    public static double RandErrorOfClasses(int[] truthInstances, int[] predictedClasses, int height, int width) =>
        AdaptedRand(truthInstances, Components.OfClasses(predictedClasses, height, width), predictedBackgroundSingletons: true);

    private static double AdaptedRand(int[] truth, int[] predicted, bool predictedBackgroundSingletons)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"truth has {truth.Length} pixels, prediction {predicted.Length}");
        var pij = new Dictionary<(int, int), long>();
        var a = new Dictionary<int, long>();
        var b = new Dictionary<int, long>();
        for (var k = 0; k < truth.Length; k++)
        {
            var i = truth[k];
            if (i == 0) continue;
            a[i] = a.GetValueOrDefault(i) + 1;
            var j = predicted[k];
            // A one-pixel segment adds no pair: p (p - 1) = 0 in every sum.
            if (predictedBackgroundSingletons && j == 0) continue;
            pij[(i, j)] = pij.GetValueOrDefault((i, j)) + 1;
            b[j] = b.GetValueOrDefault(j) + 1;
        }
        // Pair counts are exact in 64 bits up to about 3e9 pixels.
        long t = 0, sTrue = 0, sPred = 0;
        foreach (var v in pij.Values) t += v * (v - 1);
        foreach (var v in a.Values) sTrue += v * (v - 1);
        foreach (var v in b.Values) sPred += v * (v - 1);
        if (sTrue + sPred == 0) return 0;
        return 1 - 2.0 * t / (sTrue + sPred);
    }
}
