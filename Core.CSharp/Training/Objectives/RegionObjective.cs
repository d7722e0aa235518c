using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// A region loss: per class c, soft counts over the batch's valid pixels, TP = Σ p g, FP = Σ p (1 - g),
/// FN = Σ (1 - p) g (p the sigmoid or softmax probability, g the one-hot truth), a per-class loss of them, and the
/// mean over classes weighted by <see cref="ClassWeights"/>. A binary head has one class, the foreground.
/// Pixel weights are not used.
/// </summary>
public abstract record RegionObjective : BasicObjective
{
    /// <summary>Added to numerator and denominator (Laplace smoothing); keeps an empty class's loss defined.</summary>
    public double Smooth { get; init; } = 1.0;

    /// <summary>One weight &gt;= 0 per channel (K for softmax, 1 for binary), not all 0; null: equal. A 0 leaves a class out.</summary>
    public ClassWeights? ClassWeights { get; init; }

    private protected override Heads Accepts => Heads.Both;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(double.IsFinite(Smooth) && Smooth >= 0, Name, $"smooth must be a finite number >= 0, got {Smooth}");
        if (ClassWeights is { } cw)
        {
            var total = 0.0;
            foreach (var w in cw)
            {
                Require(double.IsFinite(w) && w >= 0, Name, $"class_weights must be finite numbers >= 0, got {cw}");
                total += w;
            }
            Require(total > 0, Name, $"class_weights {cw} must not all be 0");
        }
    }

    /// <summary>The loss of each class from its soft counts, each (C).</summary>
    private protected abstract Tensor PerClass(Tensor tp, Tensor fp, Tensor fn);

    private protected IEnumerable<(string Key, string Value)> RegionParameters()
    {
        if (Smooth != 1.0) yield return ("smooth", ObjectiveText.Number(Smooth));
        if (ClassWeights is { } cw) yield return ("class_weights", cw.ToString());
    }

    private protected override Tensor Evaluate(LossInputs x)
    {
        Tensor p, g;
        var v = x.Valid.unsqueeze(1);
        if (x.Binary)
        {
            p = x.Logits.sigmoid();
            g = x.TargetAsFloat().unsqueeze(1);
        }
        else
        {
            p = nn.functional.softmax(x.Logits, 1);
            g = nn.functional.one_hot(x.Target, x.Classes).permute(0, 3, 1, 2).to_type(p.dtype);
        }
        p = p * v;
        g = g * v;
        long[] dims = [0, 2, 3];
        var tp = (p * g).sum(dims);
        var fp = p.sum(dims) - tp;
        var fn = g.sum(dims) - tp;
        var loss = PerClass(tp, fp, fn);
        if (ClassWeights is null) return loss.mean();
        Require(ClassWeights.Count == x.Classes, Name, $"{ClassWeights.Count} class_weights for a head of {x.Classes} channel(s)");
        var cw = tensor(ClassWeights.ToArray(), x.Logits.dtype, x.Logits.device);
        return (loss * cw).sum() / cw.sum();
    }
}
