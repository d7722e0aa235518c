using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>bce</c>: binary cross-entropy on logits, -(pos_weight y log σ(x) + (1 - y) log σ(-x)), as PyTorch's
/// BCEWithLogitsLoss, with pixel weights and the mean over valid pixels. One-channel sigmoid heads only.
/// </summary>
public sealed record BinaryCrossEntropy : BasicObjective
{
    /// <summary>Weight of the positive (foreground) term, e.g. background/foreground pixel ratio; null: 1.</summary>
    public double? PosWeight { get; init; }

    /// <inheritdoc />
    public override string Name => "bce";

    private protected override Heads Accepts => Heads.Binary;

    /// <inheritdoc />
    public override void Validate()
    {
        if (PosWeight is double p) Require(double.IsFinite(p) && p > 0, Name, $"pos_weight must be a finite number > 0, got {p}");
    }

    private protected override IEnumerable<(string Key, string Value)> OwnParameters()
    {
        if (PosWeight is double p) yield return ("pos_weight", ObjectiveText.Number(p));
    }

    private protected override Tensor Evaluate(LossInputs x)
    {
        var logit = x.Logits.squeeze(1);
        var y = x.TargetAsFloat();
        // log σ(x) and log σ(-x) without forming σ, stable for large |x|.
        var pos = nn.functional.logsigmoid(logit) * y;
        if (PosWeight is double p) pos = pos * p;
        var neg = nn.functional.logsigmoid(logit.neg()) * (1.0 - y);
        return x.PixelMean(pos + neg).neg();
    }
}
