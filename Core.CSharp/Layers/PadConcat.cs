using System.Collections.Generic;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The skip of milesial's <c>Up</c>: y = cat([x, pad(body(x))]), the body's output zero-padded to x's
/// size as <c>F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])</c> does (the
/// odd row or column goes to the bottom / right). With floor pooling an odd size n comes back as n - 1,
/// so the net takes any size a plain Concat would refuse.
/// </summary>
public sealed class PadConcat : Layer
{
    /// <summary>Creates the skip around <paramref name="body"/>; size errors are reported at <paramref name="path"/>.</summary>
    public PadConcat(string path, Layer body) : base(path) => Body = body;

    /// <summary>The layer the skip goes around.</summary>
    public Layer Body { get; }

    /// <inheritdoc />
    public override string Kind => "PadConcat";

    /// <inheritdoc />
    public override long ParameterCount => Body.ParameterCount;

    /// <inheritdoc />
    public override IEnumerable<Layer> Children => [Body];

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var b = Body.Infer(input, trace);
        var r = b.Height > input.Height || b.Width > input.Width
            ? ShapeResult.Fail($"pad-and-cat: the body output {b.Height}x{b.Width} is larger than the skip input {input.Height}x{input.Width}")
            : ShapeResult.Ok(input with { Channels = input.Channels + b.Channels });
        var y = r.OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, 0));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        using var body = Body.Forward(x);
        using var b = MixedPrecision.Like(body, x);
        var dy = x.shape[^2] - b.shape[^2];
        var dx = x.shape[^1] - b.shape[^1];
        if (dy == 0 && dx == 0) return cat([x, b], 1);
        using var padded = nn.functional.pad(b, [dx / 2, dx - dx / 2, dy / 2, dy - dy / 2]);
        return cat([x, padded], 1);
    }
}
