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

    /// <summary>Counts one prediction against its truth (equal-length class maps).</summary>
    public void Add(int[] truth, int[] predicted)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"truth has {truth.Length} pixels, prediction {predicted.Length}");
        for (var i = 0; i < truth.Length; i++) _m[truth[i], predicted[i]]++;
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
    /// The ISBI 2012 challenge's Rand error: 1 - the foreground-restricted Rand F-score (Arganda-Carreras et al.,
    /// 2015). Only pixels inside true instances (<paramref name="truth"/> != 0) count. With p_ij the number of
    /// pixels in true instance i and predicted segment j (j = 0: predicted background), n all pixels counted,
    /// a_i = sum_j p_ij, b_j = sum_i p_ij (j >= 1), c = sum_i p_i0:
    /// precision = (sum_ij>=1 p_ij^2 + c/n) / (sum_j>=1 b_j^2 + c/n), recall = (sum_ij>=1 p_ij^2 + c/n) / sum_i a_i^2,
    /// Rand error = 1 - 2PR/(P+R). Merged cells lower the precision, split cells the recall.
    /// </summary>
    public static double RandError(int[] truth, int[] predicted)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"truth has {truth.Length} pixels, prediction {predicted.Length}");
        var pij = new Dictionary<(int, int), long>();
        var a = new Dictionary<int, long>();
        var b = new Dictionary<int, long>();
        long c = 0, n = 0;
        for (var k = 0; k < truth.Length; k++)
        {
            var i = truth[k];
            if (i == 0) continue;
            n++;
            var j = predicted[k];
            a[i] = a.GetValueOrDefault(i) + 1;
            if (j == 0) { c++; continue; }
            pij[(i, j)] = pij.GetValueOrDefault((i, j)) + 1;
            b[j] = b.GetValueOrDefault(j) + 1;
        }
        if (n == 0) return 0;
        double sumAB = 0, sumA = 0, sumB = 0;
        foreach (var v in pij.Values) sumAB += (double)v * v;
        foreach (var v in a.Values) sumA += (double)v * v;
        foreach (var v in b.Values) sumB += (double)v * v;
        sumAB += c / (double)n;
        sumB += c / (double)n;
        var precision = sumAB / sumB;
        var recall = sumAB / sumA;
        return 1 - 2 * precision * recall / (precision + recall);
    }

    /// <summary>
    /// Rand error of a predicted class map: the predicted instances are the 4-connected components of its
    /// foreground (every class but 0), as the ISBI 2012 evaluation does with a boundary map.
    /// </summary>
    public static double RandErrorOfClasses(int[] truthInstances, int[] predictedClasses, int height, int width) =>
        RandError(truthInstances, Components.OfClasses(predictedClasses, height, width));
}
