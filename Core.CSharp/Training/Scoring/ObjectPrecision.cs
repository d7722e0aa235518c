using System.Collections.Generic;

namespace CropCat.Training;

/// <summary>
/// The object-level scores of one image at each IoU threshold of <see cref="ObjectScores.Thresholds"/>
/// (arrays are indexed like the thresholds).
/// </summary>
/// <param name="TrueObjects">Number of true objects.</param>
/// <param name="PredictedObjects">Number of predicted objects.</param>
/// <param name="Thresholds">The IoU thresholds, 0.5, 0.55, ..., 0.95.</param>
/// <param name="TruePositives">Matched pairs: a predicted and a true object with IoU above the threshold.</param>
/// <param name="FalsePositives">Predicted objects left unmatched.</param>
/// <param name="FalseNegatives">True objects left unmatched.</param>
/// <param name="Precision">TP / (TP + FP + FN); 1 where the image has no true and no predicted object.</param>
/// <param name="AveragePrecision">The mean of <paramref name="Precision"/>: the image's score.</param>
public sealed record ObjectPrecision(
    int TrueObjects,
    int PredictedObjects,
    IReadOnlyList<double> Thresholds,
    int[] TruePositives,
    int[] FalsePositives,
    int[] FalseNegatives,
    double[] Precision,
    double AveragePrecision);
