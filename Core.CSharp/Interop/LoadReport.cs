using System.Collections.Generic;

namespace CropCat.Interop;

/// <summary>What a load did besides copying tensors one to one.</summary>
/// <param name="Layout">The key layout used (recognised from the keys when Auto was asked for).</param>
public sealed record LoadReport(StateDictLayout Layout)
{
    /// <summary>
    /// Source keys of convolution biases folded into the batch norm that follows them (checkpoints of
    /// milesial's code from before "delete convolution bias before BN"): a bias b before batch norm is
    /// the same function as no bias and running_mean - b, in eval and train mode alike.
    /// </summary>
    public IReadOnlyList<string> FoldedBiases { get; init; } = [];

    /// <summary>
    /// Entries of the file that are not tensors, skipped by the load, by key (values as
    /// <see cref="PickleValues"/> describes them), e.g. milesial's <c>mask_values</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Skipped { get; init; } = new Dictionary<string, object?>();

    /// <summary>The file's milesial <c>mask_values</c> (see <see cref="PickleValues.MaskValues"/>), or null when it has none.</summary>
    public IReadOnlyList<long[]>? MaskValues =>
        Skipped.TryGetValue("mask_values", out var v) ? PickleValues.MaskValues(v) : null;
}
