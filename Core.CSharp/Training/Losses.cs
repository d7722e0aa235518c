using System;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>Which energy training minimises.</summary>
public enum LossKind
{
    /// <summary>The paper's pixel-weighted softmax cross-entropy.</summary>
    WeightedCrossEntropy,
    /// <summary>Soft Dice over all classes.</summary>
    Dice,
    /// <summary>Weighted cross-entropy plus soft Dice.</summary>
    WeightedCrossEntropyPlusDice,
}

/// <summary>
/// Segmentation losses on logits (N, K, H, W), targets (N, H, W) of class indices (int64) and pixel
/// weights (N, H, W). Each returns a scalar tensor that stays on the autograd graph.
/// </summary>
public static class Losses
{
    /// <summary>
    /// Pixel-weighted softmax cross-entropy, the paper's energy: mean over pixels of -w(x) log p_{l(x)}(x).
    /// Without <paramref name="weights"/> every pixel weighs 1.
    /// </summary>
    public static Tensor WeightedCrossEntropy(Tensor logits, Tensor target, Tensor? weights = null)
    {
        CheckShapes(logits, target, weights);
        using var logp = nn.functional.log_softmax(logits, 1);
        using var idx = target.unsqueeze(1);
        using var picked = logp.gather(1, idx).squeeze(1);
        if (weights is null) return picked.mean().neg_();
        using var wp = picked * weights;
        return wp.mean().neg_();
    }

    /// <summary>
    /// Multiclass soft Dice loss: 1 - mean over classes k of (2 sum p_k g_k + eps) / (sum p_k + sum g_k + eps),
    /// with p the softmax probabilities and g the one-hot target, summed over the batch and the pixels.
    /// </summary>
    /// <param name="logits">(N, K, H, W).</param>
    /// <param name="target">(N, H, W) class indices.</param>
    /// <param name="eps">Smoothing of numerator and denominator.</param>
    /// <param name="valid">Optional (N, H, W) 0/1 mask: pixels where it is 0 (outside their image) count in neither sum.</param>
    public static Tensor SoftDice(Tensor logits, Tensor target, double eps = 1.0, Tensor? valid = null)
    {
        CheckShapes(logits, target, valid);
        var classes = logits.shape[1];
        using var p0 = nn.functional.softmax(logits, 1);
        using var h0 = nn.functional.one_hot(target, classes).permute(0, 3, 1, 2).to_type(p0.dtype);
        using var v = valid?.unsqueeze(1);
        using var p = v is null ? p0.alias() : p0 * v;
        using var oneHot = v is null ? h0.alias() : h0 * v;
        long[] dims = [0, 2, 3];
        using var inter = (p * oneHot).sum(dims);
        using var denom = p.sum(dims) + oneHot.sum(dims);
        using var dice = (2 * inter + eps) / (denom + eps);
        return 1 - dice.mean();
    }

    /// <summary>
    /// The loss of <paramref name="kind"/>. Pixels outside their image (<paramref name="valid"/> 0) must have weight 0
    /// in <paramref name="weights"/> (the cross-entropy then ignores them; its mean still counts them, so such
    /// tiles weigh a little less) and are left out of Dice's sums.
    /// </summary>
    public static Tensor Compute(LossKind kind, Tensor logits, Tensor target, Tensor? weights, Tensor? valid = null) => kind switch
    {
        LossKind.WeightedCrossEntropy => WeightedCrossEntropy(logits, target, weights),
        LossKind.Dice => SoftDice(logits, target, valid: valid),
        LossKind.WeightedCrossEntropyPlusDice => Sum(WeightedCrossEntropy(logits, target, weights), SoftDice(logits, target, valid: valid)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown loss"),
    };

    private static Tensor Sum(Tensor a, Tensor b)
    {
        using (a) using (b) return a + b;
    }

    private static void CheckShapes(Tensor logits, Tensor target, Tensor? weights)
    {
        if (logits.dim() != 4) throw new ArgumentException($"loss: logits must be (N, K, H, W), got [{string.Join(", ", logits.shape)}]");
        if (target.dim() != 3 || target.shape[0] != logits.shape[0] || target.shape[1] != logits.shape[2] || target.shape[2] != logits.shape[3])
            throw new ArgumentException($"loss: target [{string.Join(", ", target.shape)}] does not match logits [{string.Join(", ", logits.shape)}]; crop it to the output size first (Crops.Center, the rule the Trainer uses)");
        if (weights is not null && !weights.shape.AsSpan().SequenceEqual(target.shape))
            throw new ArgumentException($"loss: weights [{string.Join(", ", weights.shape)}] do not match target [{string.Join(", ", target.shape)}]");
    }
}
