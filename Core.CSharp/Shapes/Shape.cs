using System;

namespace CropCat.Shapes;

/// <summary>The shape of one feature map without the batch axis: channels, height, width.</summary>
/// <param name="Channels">Number of feature channels.</param>
/// <param name="Height">Edge length along the height axis, in pixels.</param>
/// <param name="Width">Edge length along the width axis, in pixels.</param>
public readonly record struct Shape(int Channels, int Height, int Width)
{
    /// <summary>A square feature map of <paramref name="size"/> x <paramref name="size"/>.</summary>
    public static Shape Square(int channels, int size) => new(channels, size, size);

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>The outcome of one shape rule: the output shape, or the reason the rule refuses its input.</summary>
public readonly record struct ShapeResult(Shape Value, string? Error)
{
    /// <summary>True when the rule accepted its input.</summary>
    public bool IsOk => Error is null;

    /// <summary>An accepted input with output <paramref name="shape"/>.</summary>
    public static ShapeResult Ok(Shape shape) => new(shape, null);

    /// <summary>A refused input, with a reason that names the offending size.</summary>
    public static ShapeResult Fail(string reason) => new(default, reason);

    /// <summary>The output shape, or a <see cref="ShapeException"/> at <paramref name="path"/>.</summary>
    public Shape OrThrow(string path) => Error is null ? Value : throw new ShapeException(path, Error);
}

/// <summary>
/// A layer refused its input shape. <see cref="Path"/> names the layer
/// ("level 2 / down") and <see cref="Reason"/> says what is wrong with which size.
/// </summary>
public sealed class ShapeException : Exception
{
    /// <summary>Creates the error for the layer at <paramref name="path"/>.</summary>
    public ShapeException(string path, string reason) : base($"{path}: {reason}")
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The path of the refusing layer, e.g. "level 2 / down".</summary>
    public string Path { get; }

    /// <summary>What is wrong, naming the offending size.</summary>
    public string Reason { get; }
}

/// <summary>One row of a shape trace: a layer's path, kind, output shape and parameter count.</summary>
public sealed record ShapeTrace(string Path, string Kind, Shape Output, long Parameters);
