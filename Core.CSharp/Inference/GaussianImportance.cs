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
    public static Tensor Map(int size, double sigmaScale)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "the tile output must be at least 1 px");
        var sigma = size * sigmaScale;
        var centre = (size - 1) / 2.0;
        var g = new float[size];
        for (var i = 0; i < size; i++) g[i] = (float)Math.Exp(-(i - centre) * (i - centre) / (2 * sigma * sigma));
        using var line = tensor(g);
        using var outer = line.unsqueeze(1) * line.unsqueeze(0);
        using var floored = outer.clamp_min(Floor);
        return floored.unsqueeze(0);
    }
}
