using System;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>Which heads a loss takes.</summary>
internal enum Heads
{
    /// <summary>Only one sigmoid channel, K = 1.</summary>
    Binary,
    /// <summary>Only softmax over K &gt;= 2 channels.</summary>
    Softmax,
    /// <summary>Either.</summary>
    Both,
}

/// <summary>
/// A loss's inputs after masking, all created inside the caller's dispose scope: logits with masked pixels set to 0
/// (so that no formula sees extreme values there and the gradient to them is exactly 0), targets with masked pixels
/// set to 0, the 0/1 mask as the logits' dtype, and the pixel weights times the mask.
/// </summary>
internal sealed class LossInputs
{
    public required Tensor Logits { get; init; }
    public required Tensor Target { get; init; }
    public required Tensor Valid { get; init; }
    public required Tensor Weights { get; init; }

    /// <summary>Number of channels K.</summary>
    public long Classes => Logits.shape[1];

    public bool Binary => Classes == 1;

    /// <summary>Σ v w loss / max(Σ v, 1): the mean over valid pixels of a per-pixel loss (N, H, W).</summary>
    public Tensor PixelMean(Tensor perPixel)
    {
        using var weighted = perPixel * Weights;
        using var total = weighted.sum();
        using var count = Valid.sum().clamp_min(1.0);
        return total / count;
    }

    /// <summary>The target as the logits' dtype (0/1 for a binary head).</summary>
    public Tensor TargetAsFloat() => Target.to_type(Logits.dtype);

    public static void Check(string name, Heads accepts, Tensor logits, Tensor target, Tensor? weights, Tensor? valid, int? ignoreIndex)
    {
        if (logits.dim() != 4)
            throw new ArgumentException($"{name}: logits must be (N, K, H, W), got {Shape(logits)}");
        var k = logits.shape[1];
        if (k == 1 && accepts == Heads.Softmax)
            throw new ArgumentException($"{name}: needs a softmax head (logits (N, K, H, W) with K >= 2), got logits {Shape(logits)}; for a one-channel sigmoid head use bce or focal");
        if (k >= 2 && accepts == Heads.Binary)
            throw new ArgumentException($"{name}: needs a binary sigmoid head (logits (N, 1, H, W)), got logits {Shape(logits)}; for a softmax head use wce or focal");
        if (k < 1)
            throw new ArgumentException($"{name}: logits {Shape(logits)} have no channel");
        if (!logits.is_floating_point())
            throw new ArgumentException($"{name}: logits must be floating point, got {logits.dtype}");
        if (target.dim() != 3 || target.shape[0] != logits.shape[0] || target.shape[1] != logits.shape[2] || target.shape[2] != logits.shape[3])
            throw new ArgumentException($"{name}: target {Shape(target)} does not match logits {Shape(logits)}; it must be (N, H, W)");
        if (target.dtype != ScalarType.Int64)
            throw new ArgumentException($"{name}: target must hold int64 class indices, got {target.dtype}");
        if (weights is not null && !weights.shape.AsSpan().SequenceEqual(target.shape))
            throw new ArgumentException($"{name}: weights {Shape(weights)} do not match target {Shape(target)}");
        if (valid is not null && !valid.shape.AsSpan().SequenceEqual(target.shape))
            throw new ArgumentException($"{name}: valid {Shape(valid)} does not match target {Shape(target)}");
        if (ignoreIndex is int i && i >= 0 && i < Math.Max(k, 2))
            throw new ArgumentException($"{name}: ignore_index {i} is a class of this {(k == 1 ? "binary" : $"{k}-class")} head; to leave a class out give it class weight 0");
    }

    public static LossInputs Prepare(string name, Tensor logits, Tensor target, Tensor? weights, Tensor? valid, int? ignoreIndex)
    {
        var dtype = logits.dtype;
        var v = valid is null ? ones(target.shape, dtype, logits.device) : valid.to_type(dtype);
        if (ignoreIndex is int i)
        {
            using var keep = target.ne(i);
            v = v * keep;
        }
        var masked = v.eq(0.0);
        var t = target.masked_fill(masked, 0L);
        var k = logits.shape[1];
        // One sync per step; without it a wrong label fails deep inside gather or one_hot, or silently on a GPU.
        var lo = t.min().item<long>();
        var hi = t.max().item<long>();
        if (lo < 0 || hi >= Math.Max(k, 2))
            throw new ArgumentException($"{name}: target labels span {lo}..{hi} at valid pixels, but a {(k == 1 ? "binary head takes 0 and 1" : $"{k}-class head takes 0..{k - 1}")}");
        var x = logits.masked_fill(masked.unsqueeze(1), 0.0);
        var w = weights is null ? v : weights.to_type(dtype) * v;
        return new LossInputs { Logits = x, Target = t, Valid = v, Weights = w };
    }

    private static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}
