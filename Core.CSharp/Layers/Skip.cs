using System;
using System.Collections.Generic;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The skip connection y = merge(x, body(x)). With <see cref="Merge.CropConcat"/> x is centre-cropped
/// to the body's spatial size and concatenated on channels as [x, body(x)]: "don't think copy and crop,
/// think crop and cat". <see cref="Merge.Concat"/> needs equal sizes, <see cref="Merge.Add"/> equal shapes.
/// </summary>
public sealed class Skip : Layer
{
    /// <summary>Creates the skip around <paramref name="body"/>; merge errors are reported at <paramref name="path"/>.</summary>
    public Skip(string path, Layer body, Merge merge = Merge.CropConcat) : base(path)
    {
        Body = body;
        Merge = merge;
    }

    /// <summary>The layer the skip goes around.</summary>
    public Layer Body { get; }

    /// <summary>How x and body(x) are merged.</summary>
    public Merge Merge { get; }

    /// <inheritdoc />
    public override string Kind => Merge switch
    {
        Merge.CropConcat => "CropCat",
        Merge.Concat => "Concat",
        _ => "Add",
    };

    /// <inheritdoc />
    public override long ParameterCount => Body.ParameterCount;

    /// <inheritdoc />
    public override IEnumerable<Layer> Children => [Body];

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var b = Body.Infer(input, trace);
        var y = ShapeRules.MergeShapes(input, b, Merge).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, 0));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        using var body = Body.Forward(x);
        using var b = MixedPrecision.Like(body, x);
        switch (Merge)
        {
            case Merge.CropConcat:
                {
                    using var c = Crop.Center(x, b.shape[^2], b.shape[^1]);
                    return cat([c, b], 1);
                }
            case Merge.Concat:
                return cat([x, b], 1);
            case Merge.Add:
                return x + b;
            default:
                throw new InvalidOperationException($"unknown merge {Merge}");
        }
    }
}
