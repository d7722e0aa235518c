using System.Collections.Generic;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>2x2 max-pool with stride 2: the down-step. Strict mode (default) refuses odd sizes.</summary>
public sealed class MaxPoolDown : Layer
{
    /// <summary>Creates the down-step shown as <paramref name="path"/>.</summary>
    public MaxPoolDown(string path, PoolMode mode = PoolMode.Strict) : base(path) => Mode = mode;

    /// <summary>Strict (refuse odd sizes) or Floor.</summary>
    public PoolMode Mode { get; }

    /// <inheritdoc />
    public override string Kind => "MaxPool2x2";

    /// <inheritdoc />
    public override long ParameterCount => 0;

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var y = ShapeRules.MaxPool2x2(input, Mode).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, 0));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => nn.functional.max_pool2d(x, 2, 2);
}
