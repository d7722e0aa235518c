using System.Collections.Generic;
using CropCat.Numerics;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// Writes one tile's input, the mirror window of the image, straight into its slot of the batch buffer.
/// An axis on which the window lies inside the image is a view (narrow, no copy); only an axis on which the
/// tile leaves the image gathers by mirror index. So an interior tile costs one copy into the buffer and a
/// border tile one gather per axis it leaves the image on, instead of two gathers and a stack for every tile.
/// </summary>
internal static class TileWindow
{
    /// <summary>
    /// Copies the window [starts[a], starts[a] + size) of every spatial axis of the mirror extension of
    /// <paramref name="image"/> (C, spatial...) into <paramref name="slot"/> (C, size, ...), which may live on
    /// another device.
    /// </summary>
    public static void CopyInto(Tensor image, IReadOnlyList<long> starts, int size, Tensor slot)
    {
        var n = starts.Count;
        var current = image.alias();
        try
        {
            for (var a = 0; a < n; a++)
            {
                var axis = image.dim() - n + a;
                var extent = (int)image.shape[axis];
                Tensor next;
                if (starts[a] >= 0 && starts[a] + size <= extent) next = current.narrow(axis, starts[a], size);
                else
                {
                    using var idx = tensor(Mirror.Indices(starts[a], size, extent), device: image.device);
                    next = current.index_select(axis, idx);
                }
                current.Dispose();
                current = next;
            }
            slot.copy_(current);
        }
        finally
        {
            current.Dispose();
        }
    }
}
