using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>focal</c>: Lin et al.'s focal loss, -α_t (1 - p_t)^γ log p_t with p_t the probability of the true class
/// (sigmoid for a binary head, softmax otherwise; log p_t by log-sigmoid or log-softmax), with pixel weights and the
/// mean over valid pixels. With <see cref="Alpha"/>, α_t is α at foreground pixels (target != 0) and 1 - α at
/// background ones, as torchvision's sigmoid_focal_loss.
/// </summary>
public sealed record Focal : BasicObjective
{
    /// <summary>Focusing exponent γ &gt;= 0; 0 is cross-entropy.</summary>
    public double Gamma { get; init; } = 2.0;

    /// <summary>Foreground balance α in [0, 1]; null: no balancing.</summary>
    public double? Alpha { get; init; }

    /// <inheritdoc />
    public override string Name => "focal";

    private protected override Heads Accepts => Heads.Both;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(double.IsFinite(Gamma) && Gamma >= 0, Name, $"gamma must be a finite number >= 0, got {Gamma}");
        if (Alpha is double a) Require(a >= 0 && a <= 1, Name, $"alpha must lie in [0, 1], got {a}");
    }

    private protected override IEnumerable<(string Key, string Value)> OwnParameters()
    {
        if (Gamma != 2.0) yield return ("gamma", ObjectiveText.Number(Gamma));
        if (Alpha is double a) yield return ("alpha", ObjectiveText.Number(a));
    }

    private protected override Tensor Evaluate(LossInputs x)
    {
        Tensor logpt, foreground;
        if (x.Binary)
        {
            var logit = x.Logits.squeeze(1);
            var y = x.TargetAsFloat();
            logpt = nn.functional.logsigmoid(logit) * y + nn.functional.logsigmoid(logit.neg()) * (1.0 - y);
            foreground = y;
        }
        else
        {
            logpt = nn.functional.log_softmax(x.Logits, 1).gather(1, x.Target.unsqueeze(1)).squeeze(1);
            foreground = x.Target.ne(0L).to_type(x.Logits.dtype);
        }
        var loss = logpt.neg();
        // γ = 0 skips the power: its gradient at p_t = 1 would be 0 * ∞.
        if (Gamma != 0.0) loss = loss * (1.0 - logpt.exp()).clamp_min(0.0).pow(Gamma);
        if (Alpha is double a) loss = loss * (foreground * (2 * a - 1) + (1 - a));
        return x.PixelMean(loss);
    }
}
