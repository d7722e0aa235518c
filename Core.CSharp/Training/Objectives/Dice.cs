using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary><c>dice</c>: soft Dice, per class 1 - (2 TP + s) / (2 TP + FP + FN + s) (see <see cref="RegionObjective"/>).</summary>
public sealed record Dice : RegionObjective
{
    /// <inheritdoc />
    public override string Name => "dice";

    private protected override IEnumerable<(string Key, string Value)> OwnParameters() => RegionParameters();

    private protected override Tensor PerClass(Tensor tp, Tensor fp, Tensor fn) =>
        1.0 - (2.0 * tp + Smooth) / (2.0 * tp + fp + fn + Smooth);
}
