using System;

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

    /// <summary>Bilinear x2 interpolation (align corners) followed by a 1x1 convolution that sets the channels.</summary>
    Bilinear,
}

/// <summary>How a skip connection merges its input x with the output of its body.</summary>
public enum Merge
{
    /// <summary>Centre-crop x to the body's size, then concatenate channels [x, body(x)] (the paper's "copy and crop").</summary>
    CropConcat,

    /// <summary>Concatenate channels [x, body(x)]; the spatial sizes must already agree (padded nets).</summary>
    Concat,

    /// <summary>Element-wise sum x + body(x); shapes must agree (residual nets).</summary>
    Add,
}

/// <summary>
/// The shape algebra: one rule per layer kind, on (channels, height, width).
/// Every part of CropCat (modules, DSL inference, the valid-size solver) uses these
/// functions, so there is exactly one definition of what each layer does to a shape.
/// </summary>
public static class ShapeRules
{
    private static ShapeResult Channels(Shape s, int expected, string layer) =>
        s.Channels == expected
            ? ShapeResult.Ok(s)
            : ShapeResult.Fail($"{layer} expects {expected} input channels, got {s.Channels}");

    /// <summary>One 3x3 convolution from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public static ShapeResult Conv3x3(Shape s, int inChannels, int outChannels, Padding padding)
    {
        var c = Channels(s, inChannels, "3x3 convolution");
        if (!c.IsOk) return c;
        if (outChannels < 1) return ShapeResult.Fail($"3x3 convolution needs at least 1 output channel, got {outChannels}");
        if (padding == Padding.Same)
            return s.Height < 1 || s.Width < 1
                ? ShapeResult.Fail($"size {s.Height}x{s.Width} is empty")
                : ShapeResult.Ok(s with { Channels = outChannels });
        if (s.Height < 3) return ShapeResult.Fail($"height {s.Height} is below 3; an unpadded 3x3 convolution needs at least 3");
        if (s.Width < 3) return ShapeResult.Fail($"width {s.Width} is below 3; an unpadded 3x3 convolution needs at least 3");
        return ShapeResult.Ok(new Shape(outChannels, s.Height - 2, s.Width - 2));
    }

    /// <summary>2x2 max-pool with stride 2: n -> n/2; odd n is refused in <see cref="PoolMode.Strict"/> mode.</summary>
    public static ShapeResult MaxPool2x2(Shape s, PoolMode mode)
    {
        if (s.Height < 2) return ShapeResult.Fail($"height {s.Height} is below 2; a 2x2 max-pool needs at least 2");
        if (s.Width < 2) return ShapeResult.Fail($"width {s.Width} is below 2; a 2x2 max-pool needs at least 2");
        if (mode == PoolMode.Strict)
        {
            if (s.Height % 2 != 0) return ShapeResult.Fail($"height {s.Height} is odd; 2x2 max-pool needs even sizes");
            if (s.Width % 2 != 0) return ShapeResult.Fail($"width {s.Width} is odd; 2x2 max-pool needs even sizes");
        }
        return ShapeResult.Ok(s with { Height = s.Height / 2, Width = s.Width / 2 });
    }

    /// <summary>Up-sampling by two (transposed or bilinear + 1x1): n -> 2n, channels set to <paramref name="outChannels"/>.</summary>
    public static ShapeResult Up2x(Shape s, int inChannels, int outChannels)
    {
        var c = Channels(s, inChannels, "up-sampling");
        if (!c.IsOk) return c;
        if (outChannels < 1) return ShapeResult.Fail($"up-sampling needs at least 1 output channel, got {outChannels}");
        if (s.Height < 1 || s.Width < 1) return ShapeResult.Fail($"size {s.Height}x{s.Width} is empty");
        return ShapeResult.Ok(new Shape(outChannels, 2 * s.Height, 2 * s.Width));
    }

    /// <summary>The 1x1 convolution that maps features to class scores.</summary>
    public static ShapeResult Head1x1(Shape s, int inChannels, int classes)
    {
        var c = Channels(s, inChannels, "1x1 head");
        if (!c.IsOk) return c;
        if (classes < 1) return ShapeResult.Fail($"the head needs at least 1 class, got {classes}");
        return ShapeResult.Ok(s with { Channels = classes });
    }

    /// <summary>Centre crop to <paramref name="height"/> x <paramref name="width"/>; needs the source at least that large.</summary>
    public static ShapeResult CenterCrop(Shape s, int height, int width)
    {
        if (height < 1 || width < 1) return ShapeResult.Fail($"crop target {height}x{width} is empty");
        if (s.Height < height) return ShapeResult.Fail($"cannot crop height {s.Height} to the larger {height}");
        if (s.Width < width) return ShapeResult.Fail($"cannot crop width {s.Width} to the larger {width}");
        return ShapeResult.Ok(s with { Height = height, Width = width });
    }

    /// <summary>
    /// The offset of a centre crop from <paramref name="source"/> to <paramref name="target"/> along one axis:
    /// floor((source - target) / 2). When the margin is odd the extra pixel is dropped at the far end.
    /// </summary>
    public static int CropOffset(int source, int target) => (source - target) / 2;

    /// <summary>The skip merge of input <paramref name="x"/> with body output <paramref name="body"/>.</summary>
    public static ShapeResult MergeShapes(Shape x, Shape body, Merge merge)
    {
        switch (merge)
        {
            case Merge.CropConcat:
                {
                    var crop = CenterCrop(x, body.Height, body.Width);
                    if (!crop.IsOk) return ShapeResult.Fail($"crop-and-cat: the skip input {x} is smaller than the body output {body}: {crop.Error}");
                    return ShapeResult.Ok(body with { Channels = x.Channels + body.Channels });
                }
            case Merge.Concat:
                if (x.Height != body.Height || x.Width != body.Width)
                    return ShapeResult.Fail($"concat needs equal sizes, got skip {x.Height}x{x.Width} and body {body.Height}x{body.Width} (use crop-and-cat for unpadded nets)");
                return ShapeResult.Ok(body with { Channels = x.Channels + body.Channels });
            case Merge.Add:
                if (x != body)
                    return ShapeResult.Fail($"add needs equal shapes, got skip {x} and body {body}");
                return ShapeResult.Ok(body);
            default:
                throw new ArgumentOutOfRangeException(nameof(merge), merge, "unknown merge");
        }
    }
}
