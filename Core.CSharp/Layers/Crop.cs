using System.Collections.Generic;
using System.Linq;
using CropCat.Numerics;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>Centre crop of N-D feature maps (batch, channels, spatial axes...).</summary>
public static class Crop
{
    /// <summary>
    /// Centre-crops the last <c>target.Count</c> axes of <paramref name="x"/> to <paramref name="target"/>.
    /// The offset along each axis is floor((source - target) / 2) (<see cref="ShapeRules.CropOffset"/>):
    /// with an odd margin the extra pixel is dropped at the far end. Returns a view (no copy).
    /// </summary>
    /// <exception cref="ShapeException">The target is larger than the source.</exception>
    public static Tensor Center(Tensor x, IReadOnlyList<long> target)
    {
        var n = target.Count;
        var source = Enumerable.Range(0, n).Select(a => (int)x.shape[x.dim() - n + a]).ToArray();
        var t = target.Select(v => (int)v).ToArray();
        ShapeRules.CenterCrop(new Shape(0, source), t).OrThrow("crop");
        return Views.Box(x, source.Select((s, a) => (long)ShapeRules.CropOffset(s, t[a])).ToArray(), target);
    }

    /// <summary>Centre-crops the last two axes of <paramref name="x"/> to <paramref name="height"/> x <paramref name="width"/>.</summary>
    public static Tensor Center(Tensor x, long height, long width) => Center(x, [height, width]);

    /// <summary>The spatial extents of an N-D batch (every axis after batch and channels).</summary>
    public static long[] Spatial(Tensor x) => x.shape[2..];
}
