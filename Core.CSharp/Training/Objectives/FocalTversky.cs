using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>focal-tversky</c>: Abraham and Khan's focal Tversky loss, per class (1 - TI)^γ with TI as in <see cref="Tversky"/>;
/// the default γ = 0.75 is their 1/γ = 4/3. The power is taken per class, before the class mean.
/// </summary>
public sealed record FocalTversky : Tversky
{
    /// <summary>Exponent γ &gt; 0 of 1 - TI.</summary>
    public double Gamma { get; init; } = 0.75;

    /// <inheritdoc />
    public override string Name => "focal-tversky";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(double.IsFinite(Gamma) && Gamma > 0, Name, $"gamma must be a finite number > 0, got {Gamma}");
    }

    private protected override IEnumerable<(string Key, string Value)> OwnParameters()
    {
        foreach (var p in base.OwnParameters()) yield return p;
        if (Gamma != 0.75) yield return ("gamma", ObjectiveText.Number(Gamma));
    }

    private protected override Tensor PerClass(Tensor tp, Tensor fp, Tensor fn) =>
        OneMinusIndex(tp, fp, fn).clamp_min(0.0).pow(Gamma);
}
