using System.Linq;

namespace CropCat.Shapes;

/// <summary>
/// The shape rules of strided, zero-padded convolutions and pools (torchvision's ResNet: the 7x7 stride-2
/// stem, the 3x3 stride-2 max-pool, stride-2 3x3 and 1x1 convolutions), applied per axis as PyTorch does:
/// n -> floor((n + 2 pad - kernel) / stride) + 1, which needs n + 2 pad &gt;= kernel.
/// </summary>
public static class StridedRules
{
    /// <summary>One axis: the output extent, or null when the padded input is shorter than the kernel.</summary>
    public static int? Extent(int n, int kernel, int stride, int padding) =>
        n + 2 * padding < kernel ? null : (n + 2 * padding - kernel) / stride + 1;

    private static ShapeResult Apply(Shape s, int outChannels, int kernel, int stride, int padding, string name)
    {
        if (s.Extents.Any(e => e < 1)) return ShapeResult.Fail($"size {s.SizeText} is empty");
        var outs = new int[s.Dims];
        for (var a = 0; a < s.Dims; a++)
        {
            if (Extent(s[a], kernel, stride, padding) is not { } o)
                return ShapeResult.Fail($"{Shape.AxisName(s.Dims, a)} {s[a]} is below {kernel - 2 * padding}; a {name} needs at least that");
            outs[a] = o;
        }
        return ShapeResult.Ok(new Shape(outChannels, outs));
    }

    /// <summary>
    /// The size check before a stride-2 step of a U-Net encoder: in <see cref="PoolMode.Strict"/> every axis must be
    /// even (the decoder doubles the halved size and must meet the skip exactly); <see cref="PoolMode.Floor"/> accepts any.
    /// </summary>
    public static ShapeResult Halving(Shape s, PoolMode mode, string layer)
    {
        if (mode == PoolMode.Strict)
            for (var a = 0; a < s.Dims; a++)
                if (s[a] % 2 != 0)
                    return ShapeResult.Fail($"{Shape.AxisName(s.Dims, a)} {s[a]} is odd; {layer} halves it, and the decoder's x2 up-sampling must meet it again");
        return ShapeResult.Ok(s);
    }

    /// <summary>A k^N convolution with <paramref name="stride"/> and zero <paramref name="padding"/>.</summary>
    public static ShapeResult Conv(Shape s, int inChannels, int outChannels, int kernel, int stride, int padding)
    {
        var name = $"{ShapeRules.Kernel(kernel, s.Dims)} stride-{stride} convolution";
        if (s.Channels != inChannels) return ShapeResult.Fail($"{name} expects {inChannels} input channels, got {s.Channels}");
        if (outChannels < 1) return ShapeResult.Fail($"{name} needs at least 1 output channel, got {outChannels}");
        return Apply(s, outChannels, kernel, stride, padding, name);
    }

    /// <summary>A k^N max-pool with <paramref name="stride"/> and (negative-infinity) <paramref name="padding"/>; channels pass unchanged.</summary>
    public static ShapeResult MaxPool(Shape s, int kernel, int stride, int padding) =>
        Apply(s, s.Channels, kernel, stride, padding, $"{ShapeRules.Kernel(kernel, s.Dims)} stride-{stride} max-pool");
}
