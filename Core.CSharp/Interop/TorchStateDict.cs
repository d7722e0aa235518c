using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>A state dict read from a .pt file: its tensors and, apart, the entries that are not tensors.</summary>
/// <param name="Tensors">The tensors by dotted name, on the CPU; the caller owns (and disposes) them.</param>
/// <param name="Skipped">Entries that are not tensors, by key, as <see cref="PickleValues"/> describes them (e.g. milesial's mask_values).</param>
public sealed record TorchStateDict(Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, object?> Skipped);
