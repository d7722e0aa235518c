using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Numerics;

/// <summary>Box-shaped views of N-D tensors.</summary>
public static class Views
{
    /// <summary>
    /// The view of <paramref name="x"/> that keeps, on each of its last <c>starts.Count</c> axes,
    /// [starts[a], starts[a] + lengths[a]). Returns a new handle on the same storage (no copy); the caller
    /// disposes it and <paramref name="x"/> separately.
    /// </summary>
    public static Tensor Box(Tensor x, IReadOnlyList<long> starts, IReadOnlyList<long> lengths)
    {
        var first = x.dim() - starts.Count;
        var v = x.alias();
        for (var a = 0; a < starts.Count; a++)
        {
            if (starts[a] == 0 && lengths[a] == x.shape[first + a]) continue;
            var next = v.narrow(first + a, starts[a], lengths[a]);
            v.Dispose();
            v = next;
        }
        return v;
    }
}
