using System;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// The one rule that turns a net's logits into class probabilities and classes, for both kinds of head: K >= 2
/// channels are softmax classes (argmax picks the class); a single channel is a binary sigmoid head (foreground
/// where the probability reaches a threshold). Training, tiling and prediction all go through it.
/// </summary>
public static class ClassProbabilities
{
    /// <summary>Softmax over <paramref name="channelDim"/>, or the sigmoid when that axis has one channel.</summary>
    public static Tensor Of(Tensor logits, long channelDim = 1) =>
        logits.shape[channelDim] == 1 ? logits.sigmoid() : logits.softmax(channelDim);

    /// <summary>
    /// The class of every pixel of (K, spatial...) probabilities as an int64 tensor without the class axis: the argmax,
    /// or for one channel 1 where the probability is at least <paramref name="threshold"/>.
    /// </summary>
    public static Tensor ClassMap(Tensor probabilities, double threshold = 0.5, long channelDim = 0)
    {
        if (probabilities.dim() < 2) throw new ArgumentException($"a class map needs (classes, spatial...) scores, got shape [{string.Join(", ", probabilities.shape)}]");
        if (threshold is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold must be in (0, 1)");
        if (probabilities.shape[channelDim] != 1) return probabilities.argmax(channelDim, false);
        using var p = probabilities.squeeze(channelDim);
        using var fg = p.ge(threshold);
        return fg.to_type(ScalarType.Int64);
    }

    /// <summary>The classes of (N, K, spatial...) logits: argmax over K, or for one channel logit >= 0 (probability 0.5).</summary>
    public static Tensor ClassMapOfLogits(Tensor logits)
    {
        if (logits.shape[1] != 1) return logits.argmax(1, false);
        using var p = logits.squeeze(1);
        using var fg = p.ge(0);
        return fg.to_type(ScalarType.Int64);
    }
}
