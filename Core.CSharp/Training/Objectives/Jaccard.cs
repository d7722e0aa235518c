using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary><c>jaccard</c>: soft Jaccard (IoU), per class 1 - (TP + s) / (TP + FP + FN + s) (see <see cref="RegionObjective"/>).</summary>
public sealed record Jaccard : RegionObjective
{
    /// <inheritdoc />
    public override string Name => "jaccard";

    private protected override IEnumerable<(string Key, string Value)> OwnParameters() => RegionParameters();

    private protected override Tensor PerClass(Tensor tp, Tensor fp, Tensor fn) =>
        1.0 - (tp + Smooth) / (tp + fp + fn + Smooth);
}
