using System;

namespace CropCat.Training;

/// <summary>
/// The data set's score of <see cref="ObjectScores"/>: the mean over images of each image's average precision
/// (every image weighs the same, however many objects it has), accumulated one image at a time.
/// </summary>
public sealed class MeanAveragePrecision
{
    private readonly double[] _precisionSum = new double[ObjectScores.Thresholds.Count];
    private double _sum;

    /// <summary>Images added so far.</summary>
    public int Images { get; private set; }

    /// <summary>The mean of the images' average precisions (NaN before the first image).</summary>
    public double Value => Images == 0 ? double.NaN : _sum / Images;

    /// <summary>The mean over images of precision at each threshold of <see cref="ObjectScores.Thresholds"/> (NaN before the first image).</summary>
    public double[] PrecisionAt()
    {
        var m = new double[_precisionSum.Length];
        for (var k = 0; k < m.Length; k++) m[k] = Images == 0 ? double.NaN : _precisionSum[k] / Images;
        return m;
    }

    /// <summary>Scores one image (instance maps as in <see cref="ObjectScores.Breakdown"/>) and returns its breakdown.</summary>
    public ObjectPrecision Add(int[] truth, int[] predicted, int height, int width)
    {
        var b = ObjectScores.Breakdown(truth, predicted, height, width);
        Add(b);
        return b;
    }

    /// <summary>Adds an image already scored by <see cref="ObjectScores.Breakdown"/>.</summary>
    public void Add(ObjectPrecision image)
    {
        ArgumentNullException.ThrowIfNull(image);
        for (var k = 0; k < _precisionSum.Length; k++) _precisionSum[k] += image.Precision[k];
        _sum += image.AveragePrecision;
        Images++;
    }
}
