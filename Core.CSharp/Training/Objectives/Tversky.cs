using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>tversky</c>: Salehi et al.'s Tversky loss, per class 1 - TI with TI = (TP + s) / (TP + α FP + β FN + s)
/// (see <see cref="RegionObjective"/>); α = β = 0.5 is Dice, β &gt; α favours recall.
/// </summary>
public record Tversky : RegionObjective
{
    /// <summary>Weight α of false positives.</summary>
    public double Alpha { get; init; } = 0.3;

    /// <summary>Weight β of false negatives.</summary>
    public double Beta { get; init; } = 0.7;

    /// <inheritdoc />
    public override string Name => "tversky";

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(double.IsFinite(Alpha) && Alpha >= 0 && double.IsFinite(Beta) && Beta >= 0, Name, $"alpha and beta must be finite numbers >= 0, got {Alpha} and {Beta}");
    }

    private protected override IEnumerable<(string Key, string Value)> OwnParameters()
    {
        if (Alpha != 0.3) yield return ("alpha", ObjectiveText.Number(Alpha));
        if (Beta != 0.7) yield return ("beta", ObjectiveText.Number(Beta));
        foreach (var p in RegionParameters()) yield return p;
    }

    /// <summary>1 - TI of each class.</summary>
    private protected Tensor OneMinusIndex(Tensor tp, Tensor fp, Tensor fn) =>
        1.0 - (tp + Smooth) / (tp + Alpha * fp + Beta * fn + Smooth);

    private protected override Tensor PerClass(Tensor tp, Tensor fp, Tensor fn) => OneMinusIndex(tp, fp, fn);
}
