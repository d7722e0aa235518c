using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>wce</c>: the paper's pixel-weighted softmax cross-entropy, Σ v w (-log p_target) / Σ v over valid pixels,
/// log p by log-softmax (logsumexp). Softmax heads only.
/// </summary>
public sealed record WeightedCrossEntropy : BasicObjective
{
    /// <inheritdoc />
    public override string Name => "wce";

    private protected override Heads Accepts => Heads.Softmax;

    private protected override IEnumerable<(string Key, string Value)> OwnParameters() => [];

    private protected override Tensor Evaluate(LossInputs x)
    {
        var logp = nn.functional.log_softmax(x.Logits, 1);
        var picked = logp.gather(1, x.Target.unsqueeze(1)).squeeze(1);
        return x.PixelMean(picked).neg();
    }
}
