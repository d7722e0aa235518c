using System;

namespace CropCat.Data;

/// <summary>
/// One training or test image with its ground truth, as plain row-major arrays (no tensors, so datasets
/// cost no native memory until a batch is built).
/// </summary>
public sealed class Sample
{
    /// <summary>
    /// Creates a sample; the maps hold <paramref name="height"/> * <paramref name="width"/> values and the
    /// image <paramref name="channels"/> times as many (channel-major planes).
    /// </summary>
    /// <exception cref="ArgumentException">An array has the wrong length.</exception>
    public Sample(string name, int height, int width, float[] image, int[] classes, int[]? instances = null, float[]? weights = null, int channels = 1)
    {
        var n = height * width;
        if (height < 1 || width < 1) throw new ArgumentException($"sample {name}: size {height}x{width} is empty");
        if (channels < 1) throw new ArgumentException($"sample {name}: {channels} image channels");
        if (image.Length != channels * n)
            throw new ArgumentException($"sample {name}: image has {image.Length} values, expected {channels * n} ({channels} channel(s) of {height}x{width})");
        if (classes.Length != n) throw new ArgumentException($"sample {name}: class map has {classes.Length} values, expected {n}");
        if (instances is not null && instances.Length != n) throw new ArgumentException($"sample {name}: instance map has {instances.Length} values, expected {n}");
        if (weights is not null && weights.Length != n) throw new ArgumentException($"sample {name}: weight map has {weights.Length} values, expected {n}");
        Name = name;
        Height = height;
        Width = width;
        Image = image;
        Classes = classes;
        Instances = instances;
        Weights = weights;
        Channels = channels;
    }

    /// <summary>Where the sample came from (file name or "synthetic 17").</summary>
    public string Name { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Image channels (1 gray, 3 RGB).</summary>
    public int Channels { get; }
    /// <summary>Intensities, roughly in [0, 1]: <see cref="Channels"/> planes of Height x Width, channel-major.</summary>
    public float[] Image { get; }
    /// <summary>Class index per pixel (0 = background).</summary>
    public int[] Classes { get; }
    /// <summary>Instance id per pixel (0 = background, 1..n = cells), when known.</summary>
    public int[]? Instances { get; }
    /// <summary>Per-pixel loss weights (the paper's w(x)), when computed.</summary>
    public float[]? Weights { get; }

    /// <summary>
    /// A copy whose image has zero mean and unit standard deviation (one mean and spread over all channels,
    /// so colour balance is kept): microscopes differ in exposure and bit depth, and a standardised input
    /// lets the same learning rate work for all of them.
    /// </summary>
    public Sample Standardized()
    {
        double mean = 0, sq = 0;
        foreach (var v in Image) mean += v;
        mean /= Image.Length;
        foreach (var v in Image) sq += (v - mean) * (v - mean);
        var sd = Math.Sqrt(sq / Image.Length);
        var scale = sd > 1e-12 ? 1 / sd : 1;
        var image = new float[Image.Length];
        for (var i = 0; i < image.Length; i++) image[i] = (float)((Image[i] - mean) * scale);
        return new Sample(Name, Height, Width, image, Classes, Instances, Weights, Channels);
    }

    /// <summary>
    /// The sample as a network with <paramref name="normalization"/> (its <see cref="Architecture.NetSpec.Normalization"/>)
    /// is fed: <see cref="Standardized"/> when there is none (CropCat's default), else this sample as it is, its
    /// [0, 1] intensities left for the network to normalise. The one rule folder training and prediction share.
    /// </summary>
    public Sample ForNetInput(Architecture.InputNormalization? normalization) => normalization is null ? Standardized() : this;

    /// <summary>A copy with the weight map set.</summary>
    public Sample WithWeights(float[] weights) => new(Name, Height, Width, Image, Classes, Instances, weights, Channels);
}
