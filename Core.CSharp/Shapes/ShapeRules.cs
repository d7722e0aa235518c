using System;
using System.Collections.Generic;
using System.Linq;

namespace CropCat.Shapes;

/// <summary>How 3x3 convolutions treat the border.</summary>
public enum Padding
{
    /// <summary>Unpadded (the paper): each 3x3 convolution loses one pixel per side, n -> n - 2.</summary>
    Valid,

    /// <summary>Zero-padded by one pixel: n -> n.</summary>
    Same,
}

/// <summary>How the 2x2 max-pool treats odd sizes.</summary>
public enum PoolMode
{
    /// <summary>The paper's rule: refuse odd sizes, so that every pixel of the output has a counterpart after up-sampling.</summary>
    Strict,

    /// <summary>Floor odd sizes (n -> floor(n/2)), as PyTorch's MaxPool2d does; the last row/column is dropped.</summary>
    Floor,
}

/// <summary>How the decoder up-samples by two.</summary>
public enum UpMode
{
    /// <summary>2x2 transposed convolution with stride 2 (the paper's "up-convolution").</summary>
    Transposed,

    /// <summary>Bilinear (3-D: trilinear) x2 interpolation (align corners) followed by a 1x1 convolution that sets the channels.</summary>
    Bilinear,

    /// <summary>(Bi/tri)linear x2 interpolation (align corners) alone: no parameters, channels unchanged (milesial's bilinear net).</summary>
    Interpolate,
}

/// <summary>How a skip connection merges its input x with the output of its body.</summary>
public enum Merge
{
    /// <summary>Centre-crop x to the body's size, then concatenate channels [x, body(x)] (the paper's "copy and crop").</summary>
    CropConcat,

    /// <summary>Concatenate channels [x, body(x)]; the spatial sizes must already agree (padded nets).</summary>
    Concat,

    /// <summary>
    /// milesial/Pytorch-UNet's merge: zero-pad body(x) to x's size (the odd pixel at the far end), then
    /// concatenate [x, padded]; the body may be smaller than x, never larger.
    /// </summary>
    PadConcat,

    /// <summary>Element-wise sum x + body(x); shapes must agree (residual nets).</summary>
    Add,
}

/// <summary>
/// The shape algebra: one rule per layer kind, on channels and N spatial extents, applied per axis.
/// Every part of CropCat (the descriptions, the valid-size solver, the modules' checks) uses these
/// functions, so there is exactly one definition of what each layer does to a shape.
/// </summary>
public static class ShapeRules
{
    /// <summary>"3x3" in 2-D, "3x3x3" in 3-D: a kernel of edge <paramref name="k"/> over <paramref name="dims"/> axes.</summary>
    public static string Kernel(int k, int dims) => string.Join("x", Enumerable.Repeat(k, Math.Max(dims, 1)));

    private static ShapeResult Channels(Shape s, int expected, string layer) =>
        s.Channels == expected
            ? ShapeResult.Ok(s)
            : ShapeResult.Fail($"{layer} expects {expected} input channels, got {s.Channels}");

    private static string? Empty(Shape s) =>
        s.Extents.Any(e => e < 1) ? $"size {s.SizeText} is empty" : null;

    /// <summary>One 3x3 (3-D: 3x3x3) convolution from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public static ShapeResult Conv3x3(Shape s, int inChannels, int outChannels, Padding padding)
    {
        var name = $"{Kernel(3, s.Dims)} convolution";
        var c = Channels(s, inChannels, name);
        if (!c.IsOk) return c;
        if (outChannels < 1) return ShapeResult.Fail($"{name} needs at least 1 output channel, got {outChannels}");
        if (padding == Padding.Same)
            return Empty(s) is { } e ? ShapeResult.Fail(e) : ShapeResult.Ok(s with { Channels = outChannels });
        for (var a = 0; a < s.Dims; a++)
            if (s[a] < 3)
                return ShapeResult.Fail($"{Shape.AxisName(s.Dims, a)} {s[a]} is below 3; an unpadded {name} needs at least 3");
        return ShapeResult.Ok(new Shape(outChannels, s.Extents.Select(e => e - 2).ToArray()));
    }

    /// <summary>2x2 (3-D: 2x2x2) max-pool with stride 2: n -> n/2 on every axis; odd n is refused in <see cref="PoolMode.Strict"/> mode.</summary>
    public static ShapeResult MaxPool2x2(Shape s, PoolMode mode)
    {
        var name = $"{Kernel(2, s.Dims)} max-pool";
        for (var a = 0; a < s.Dims; a++)
            if (s[a] < 2)
                return ShapeResult.Fail($"{Shape.AxisName(s.Dims, a)} {s[a]} is below 2; a {name} needs at least 2");
        if (mode == PoolMode.Strict)
            for (var a = 0; a < s.Dims; a++)
                if (s[a] % 2 != 0)
                    return ShapeResult.Fail($"{Shape.AxisName(s.Dims, a)} {s[a]} is odd; {name} needs even sizes");
        return ShapeResult.Ok(s.MapExtents(e => e / 2));
    }

    /// <summary>Up-sampling by two (transposed, or interpolation with or without 1x1): n -> 2n, channels set to <paramref name="outChannels"/>.</summary>
    public static ShapeResult Up2x(Shape s, int inChannels, int outChannels)
    {
        var c = Channels(s, inChannels, "up-sampling");
        if (!c.IsOk) return c;
        if (outChannels < 1) return ShapeResult.Fail($"up-sampling needs at least 1 output channel, got {outChannels}");
        if (Empty(s) is { } e) return ShapeResult.Fail(e);
        return ShapeResult.Ok(new Shape(outChannels, s.Extents.Select(x => 2 * x).ToArray()));
    }

    /// <summary>The 1x1 (3-D: 1x1x1) convolution that maps features to class scores.</summary>
    public static ShapeResult Head1x1(Shape s, int inChannels, int classes)
    {
        var c = Channels(s, inChannels, $"{Kernel(1, s.Dims)} head");
        if (!c.IsOk) return c;
        if (classes < 1) return ShapeResult.Fail($"the head needs at least 1 class, got {classes}");
        return ShapeResult.Ok(s with { Channels = classes });
    }

    /// <summary>Centre crop of every spatial axis to <paramref name="target"/>; needs the source at least that large.</summary>
    public static ShapeResult CenterCrop(Shape s, IReadOnlyList<int> target)
    {
        if (target.Count != s.Dims) return ShapeResult.Fail($"crop target {string.Join("x", target)} has {target.Count} axes, the source {s.Dims}");
        if (target.Any(t => t < 1)) return ShapeResult.Fail($"crop target {string.Join("x", target)} is empty");
        for (var a = 0; a < s.Dims; a++)
            if (s[a] < target[a])
                return ShapeResult.Fail($"cannot crop {Shape.AxisName(s.Dims, a)} {s[a]} to the larger {target[a]}");
        return ShapeResult.Ok(s.WithExtents(target));
    }

    /// <summary>Centre crop of a 2-D map to <paramref name="height"/> x <paramref name="width"/>.</summary>
    public static ShapeResult CenterCrop(Shape s, int height, int width) => CenterCrop(s, [height, width]);

    /// <summary>
    /// The offset of a centre crop from <paramref name="source"/> to <paramref name="target"/> along one axis:
    /// floor((source - target) / 2). When the margin is odd the extra pixel is dropped at the far end.
    /// </summary>
    public static int CropOffset(int source, int target) => (source - target) / 2;

    /// <summary>The skip merge of input <paramref name="x"/> with body output <paramref name="body"/>.</summary>
    public static ShapeResult MergeShapes(Shape x, Shape body, Merge merge)
    {
        if (x.Dims != body.Dims) return ShapeResult.Fail($"the skip input {x} and the body output {body} have different numbers of axes");
        switch (merge)
        {
            case Merge.CropConcat:
                {
                    var crop = CenterCrop(x, body.Extents);
                    if (!crop.IsOk) return ShapeResult.Fail($"crop-and-cat: the skip input {x} is smaller than the body output {body}: {crop.Error}");
                    return ShapeResult.Ok(body with { Channels = x.Channels + body.Channels });
                }
            case Merge.Concat:
                if (!x.Extents.SequenceEqual(body.Extents))
                    return ShapeResult.Fail($"concat needs equal sizes, got skip {x.SizeText} and body {body.SizeText} (use crop-and-cat for unpadded nets)");
                return ShapeResult.Ok(body with { Channels = x.Channels + body.Channels });
            case Merge.PadConcat:
                for (var a = 0; a < x.Dims; a++)
                    if (body[a] > x[a])
                        return ShapeResult.Fail($"pad-and-cat: the body output {body.SizeText} is larger than the skip input {x.SizeText}");
                return ShapeResult.Ok(x with { Channels = x.Channels + body.Channels });
            case Merge.Add:
                if (x != body)
                    return ShapeResult.Fail($"add needs equal shapes, got skip {x} and body {body}");
                return ShapeResult.Ok(body);
            default:
                throw new ArgumentOutOfRangeException(nameof(merge), merge, "unknown merge");
        }
    }
}
