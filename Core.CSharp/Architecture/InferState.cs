using System.Collections.Generic;
using System.Linq;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>What one inference pass collects: summary rows, crop margins, and the first refusal.</summary>
public sealed class InferState
{
    /// <summary>One row per layer in execution order (conv blocks give one row per convolution).</summary>
    public List<ShapeTrace> Rows { get; } = [];

    /// <summary>Every crop-and-cat merge with its source and target size.</summary>
    public List<CropMargin> Crops { get; } = [];

    /// <summary>The first refusal, if any.</summary>
    public SpecError? Error { get; private set; }

    /// <summary>The rule's output, or null after recording its refusal at <paramref name="path"/>.</summary>
    public Shape? Rule(string path, ShapeResult r)
    {
        if (r.IsOk) return r.Value;
        Error ??= new SpecError(path, r.Error!);
        return null;
    }

    /// <summary>Adds a summary row.</summary>
    public void Row(string path, string kind, Shape output, long parameters) =>
        Rows.Add(new ShapeTrace(path, kind, output, parameters));
}

/// <summary>
/// What one crop-and-cat merge does for a given input: it centre-crops its skip input
/// <paramref name="Source"/> to the body's <paramref name="Target"/> size.
/// </summary>
/// <param name="Path">The merge's path, e.g. "level 1 / merge".</param>
/// <param name="Source">The skip input (the encoder feature) before cropping.</param>
/// <param name="Target">The size it is cropped to (the decoder feature).</param>
public sealed record CropMargin(string Path, Shape Source, Shape Target)
{
    /// <summary>Pixels cut away at the start of spatial axis <paramref name="axis"/> (floor of half the margin).</summary>
    public int Before(int axis) => ShapeRules.CropOffset(Source[axis], Target[axis]);

    /// <summary>Pixels cut away at the end of axis <paramref name="axis"/> (one more than <see cref="Before"/> when the margin is odd).</summary>
    public int After(int axis) => Source[axis] - Target[axis] - Before(axis);

    /// <summary>Rows cut away above (2-D: the height axis).</summary>
    public int Top => Before(Source.Dims - 2);

    /// <summary>Rows cut away below.</summary>
    public int Bottom => After(Source.Dims - 2);

    /// <summary>Columns cut away on the left.</summary>
    public int Left => Before(Source.Dims - 1);

    /// <summary>Columns cut away on the right.</summary>
    public int Right => After(Source.Dims - 1);
}

/// <summary>The result of inference for one input shape.</summary>
/// <param name="Input">The input shape.</param>
/// <param name="Rows">One row per layer in execution order.</param>
/// <param name="Crops">Every crop-and-cat merge with its source and target size.</param>
/// <param name="Output">The network's output shape.</param>
public sealed record Inferred(Shape Input, IReadOnlyList<ShapeTrace> Rows, IReadOnlyList<CropMargin> Crops, Shape Output)
{
    /// <summary>Trainable parameters of the whole description.</summary>
    public long Parameters => Rows.Sum(r => r.Parameters);
}
