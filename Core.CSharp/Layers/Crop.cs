using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>Centre crop of NCHW tensors.</summary>
public static class Crop
{
    /// <summary>
    /// Centre-crops the last two axes of <paramref name="x"/> to <paramref name="height"/> x <paramref name="width"/>.
    /// The offset along each axis is floor((source - target) / 2) (<see cref="ShapeRules.CropOffset"/>):
    /// with an odd margin the extra row/column is dropped at the bottom/right. Returns a view (no copy).
    /// </summary>
    /// <exception cref="ShapeException">The target is larger than the source.</exception>
    public static Tensor Center(Tensor x, long height, long width)
    {
        var h = (int)x.shape[^2];
        var w = (int)x.shape[^1];
        ShapeRules.CenterCrop(new Shape(0, h, w), (int)height, (int)width).OrThrow("crop");
        if (h == height && w == width) return x.alias();
        using var rows = x.narrow(-2, ShapeRules.CropOffset(h, (int)height), height);
        return rows.narrow(-1, ShapeRules.CropOffset(w, (int)width), width);
    }
}
