using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CropCat.Architecture;

/// <summary>
/// A fixed per-channel normalisation of the input, stored with the network's description
/// (<see cref="NetSpec.Normalization"/>) and applied by <see cref="Nets.Network.forward"/> as its first operation:
/// x_c -> (x_c - Mean[c]) / Std[c] on intensities in [0, 1] (8-bit and 16-bit images are divided by their largest
/// value when read). Pretrained encoders expect the statistics they were trained with: torchvision's and
/// segmentation_models_pytorch's ImageNet weights expect <see cref="ImageNet"/>. A net with a normalisation is fed
/// the [0, 1] intensities as they are; a net without one gets CropCat's default, each image standardised to zero
/// mean and unit deviation before the net (<see cref="Data.Sample.Standardized"/>). Since the network applies it,
/// training, validation, tiled and whole-image prediction and the ONNX export all compute the same function.
/// Equality compares the values.
/// </summary>
/// <param name="Mean">The mean of each input channel.</param>
/// <param name="Std">The standard deviation of each input channel (each &gt; 0).</param>
public sealed record InputNormalization(IReadOnlyList<double> Mean, IReadOnlyList<double> Std)
{
    /// <summary>ImageNet's RGB statistics on [0, 1] intensities (torchvision's and smp's preprocessing): mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225.</summary>
    public static InputNormalization ImageNet { get; } = new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>Channels it normalises.</summary>
    public int Channels => Mean.Count;

    /// <summary>
    /// These RGB statistics for a net of <paramref name="channels"/> input channels, following how the first
    /// convolution's RGB weights are adapted (<see cref="Interop.EncoderWeights"/>, segmentation_models_pytorch's
    /// rule): one channel gets the mean of the three means and of the three deviations (a gray image stands for
    /// R = G = B); other counts take channel c's statistics from channel c mod 3. Unchanged when the count already fits.
    /// </summary>
    public InputNormalization ForChannels(int channels)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "a net needs at least one input channel");
        if (channels == Channels) return this;
        if (channels == 1) return new([Mean.Average()], [Std.Average()]);
        return new(Enumerable.Range(0, channels).Select(c => Mean[c % Channels]).ToArray(), Enumerable.Range(0, channels).Select(c => Std[c % Channels]).ToArray());
    }

    /// <summary>Why it cannot normalise an input of <paramref name="inChannels"/> channels, or null when it can.</summary>
    public string? Problem(int inChannels)
    {
        if (Mean.Count != Std.Count) return $"the input normalisation has {Mean.Count} means but {Std.Count} deviations";
        if (Mean.Count != inChannels) return $"the input normalisation has statistics for {Mean.Count} channel(s) but the input has {inChannels}";
        if (Mean.Any(m => !double.IsFinite(m))) return $"the input normalisation's means must be finite numbers, got {this}";
        if (Std.Any(s => !(s > 0) || !double.IsFinite(s))) return $"the input normalisation's deviations must be finite and above 0, got {this}";
        return null;
    }

    /// <summary>
    /// Parses the CLI's form: "imagenet", or means and deviations as "M1,M2,M3/S1,S2,S3" (one value per channel).
    /// </summary>
    /// <exception cref="FormatException">Neither form; the message shows both.</exception>
    public static InputNormalization Parse(string text)
    {
        var t = text.Trim();
        if (string.Equals(t, "imagenet", StringComparison.OrdinalIgnoreCase)) return ImageNet;
        var parts = t.Split('/');
        double[]? Numbers(string s)
        {
            var items = s.Split(',', StringSplitOptions.TrimEntries);
            var values = new double[items.Length];
            for (var i = 0; i < items.Length; i++)
                if (!double.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])) return null;
            return values;
        }
        if (parts.Length == 2 && Numbers(parts[0]) is { } mean && Numbers(parts[1]) is { } std && mean.Length == std.Length)
        {
            var n = new InputNormalization(mean, std);
            if (n.Problem(mean.Length) is { } p) throw new FormatException($"'{text}': {p}");
            return n;
        }
        throw new FormatException($"'{text}' is not an input normalisation: give imagenet, or the means and deviations per channel as M1,M2,M3/S1,S2,S3 (e.g. 0.5/0.25 for one channel)");
    }

    /// <inheritdoc />
    public bool Equals(InputNormalization? other) => other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var m in Mean) h.Add(m);
        foreach (var s in Std) h.Add(s);
        return h.ToHashCode();
    }

    /// <summary>"mean [0.485, 0.456, 0.406] std [0.229, 0.224, 0.225]" (six significant digits).</summary>
    public override string ToString()
    {
        static string List(IEnumerable<double> v) => "[" + string.Join(", ", v.Select(x => x.ToString("G6", CultureInfo.InvariantCulture))) + "]";
        return $"mean {List(Mean)} std {List(Std)}";
    }
}
