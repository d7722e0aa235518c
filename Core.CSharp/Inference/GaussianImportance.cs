using System;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// The importance map of Gaussian tile blending (MONAI's sliding-window "gaussian" mode, nnU-Net):
/// a separable Gaussian centred on the tile, sigma = edge * scale (1/8 by default), peak 1.
/// A padded net's predictions degrade towards a tile border, where it sees zeros instead of context,
/// so those pixels get little weight. The map is floored at 1e-6 so every covered pixel has a
/// positive weight sum even in a tile corner.
/// </summary>
public static class GaussianImportance
{
    /// <summary>Smallest weight any pixel of a tile gets.</summary>
    public const float Floor = 1e-6f;

    /// <summary>A (1, <paramref name="size"/>, <paramref name="size"/>) float32 CPU map.</summary>
    public static Tensor Map(int size, double sigmaScale) => Map(size, sigmaScale, 2);

    /// <summary>A (1, size, ..., size) float32 CPU map over <paramref name="dims"/> axes: the product of one Gaussian per axis.</summary>
    public static Tensor Map(int size, double sigmaScale, int dims)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "the tile output must be at least 1 px");
        var sigma = size * sigmaScale;
        var centre = (size - 1) / 2.0;
        var g = new float[size];
        for (var i = 0; i < size; i++) g[i] = (float)Math.Exp(-(i - centre) * (i - centre) / (2 * sigma * sigma));
        using var line = tensor(g);
        var outer = line.alias();
        for (var a = 1; a < dims; a++)
        {
            // (size, ..., size) x (size): one more axis of the separable product.
            using var grown = outer.unsqueeze(-1) * line;
            outer.Dispose();
            outer = grown.alias();
        }
        using (outer)
        using (var floored = outer.clamp_min(Floor))
            return floored.unsqueeze(0);
    }
}
