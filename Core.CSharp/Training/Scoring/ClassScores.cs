using System;

namespace CropCat.Training;

/// <summary>
/// Per-class scores of a confusion matrix. With TP, FP and FN the true positives, false positives and false
/// negatives of class c: IoU = TP / (TP + FP + FN), Dice = 2TP / (2TP + FP + FN), precision = TP / (TP + FP),
/// recall = TP / (TP + FN).
/// </summary>
/// <remarks>
/// A score whose denominator is 0 is NaN, never 0 or 1: precision is NaN for a class that was never predicted,
/// recall for a class absent from the truth, IoU and Dice for a class absent from both. NaN says "undefined
/// here", so that a mean over classes or images can leave it out (NaN-skipping mean); 1 would reward and 0
/// punish a prediction for a class it had no chance to get right or wrong. (scikit-learn's
/// <c>precision_score</c> gives 0 with a warning instead, its <c>zero_division="warn"</c> default.) A class
/// present in the truth but never predicted is still scored: its recall is 0.
/// </remarks>
/// <param name="IoU">Intersection over union per class.</param>
/// <param name="Dice">Dice coefficient per class.</param>
/// <param name="Precision">Precision per class: the fraction of pixels predicted as the class that are of it.</param>
/// <param name="Recall">Recall per class: the fraction of the class's pixels predicted as it.</param>
/// <param name="PixelError">Fraction of misclassified pixels (NaN when nothing was counted).</param>
public sealed record ClassScores(double[] IoU, double[] Dice, double[] Precision, double[] Recall, double PixelError);

/// <summary>Per-class precision and recall beside IoU and Dice, from a <see cref="ConfusionMatrix"/>.</summary>
public static class ClassScoring
{
    /// <summary>IoU, Dice, precision, recall and pixel error of everything the matrix counted so far.</summary>
    public static ClassScores ClassScores(this ConfusionMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var n = matrix.Classes;
        var precision = new double[n];
        var recall = new double[n];
        for (var c = 0; c < n; c++)
        {
            long tp = matrix[c, c], fp = 0, fn = 0;
            for (var k = 0; k < n; k++)
            {
                if (k == c) continue;
                fp += matrix[k, c];
                fn += matrix[c, k];
            }
            precision[c] = tp + fp == 0 ? double.NaN : tp / (double)(tp + fp);
            recall[c] = tp + fn == 0 ? double.NaN : tp / (double)(tp + fn);
        }
        // IoU, Dice and pixel error stay defined in one place, ConfusionMatrix.Scores.
        var s = matrix.Scores();
        return new ClassScores(s.IoU, s.Dice, precision, recall, s.PixelError);
    }

    /// <summary>Per-class scores of one prediction against its truth (class maps; truth pixels below 0 are not counted).</summary>
    public static ClassScores Score(int[] truth, int[] predicted, int classes)
    {
        var m = new ConfusionMatrix(classes);
        m.Add(truth, predicted);
        return m.ClassScores();
    }
}
