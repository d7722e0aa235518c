using System;
using System.Collections.Generic;
using System.Linq;

namespace CropCat.Shapes;

/// <summary>
/// The shape of one feature map without the batch axis: channels and N >= 1 spatial extents, in
/// PyTorch's axis order (2-D: height, width; 3-D: depth, height, width). Equality is by value.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[]? _extents;

    /// <summary>A 2-D feature map of <paramref name="channels"/> x <paramref name="height"/> x <paramref name="width"/>.</summary>
    public Shape(int channels, int height, int width) : this(channels, [height, width]) { }

    /// <summary>A feature map of <paramref name="channels"/> channels and the spatial <paramref name="extents"/> (at least one).</summary>
    /// <exception cref="ArgumentException">No spatial extent.</exception>
    public Shape(int channels, IReadOnlyList<int> extents)
    {
        if (extents.Count < 1) throw new ArgumentException("a shape needs at least one spatial extent", nameof(extents));
        Channels = channels;
        _extents = [.. extents];
    }

    /// <summary>Number of feature channels.</summary>
    public int Channels { get; init; }

    /// <summary>The spatial extents, outermost first (2-D: height, width; 3-D: depth, height, width).</summary>
    public IReadOnlyList<int> Extents => _extents ?? [];

    /// <summary>Number of spatial axes (2 for images, 3 for volumes).</summary>
    public int Dims => _extents?.Length ?? 0;

    /// <summary>The extent of spatial axis <paramref name="axis"/> (0 = outermost).</summary>
    public int this[int axis] => Extents[axis];

    /// <summary>The second-to-last spatial extent (the height of an image or a volume's slice).</summary>
    public int Height => Dims >= 2 ? Extents[Dims - 2] : throw new InvalidOperationException($"shape {this} has no height axis");

    /// <summary>The last spatial extent (the width).</summary>
    public int Width => Dims >= 1 ? Extents[Dims - 1] : throw new InvalidOperationException("an empty shape has no width");

    /// <summary>This shape with the spatial extents replaced by <paramref name="extents"/> (same number of axes).</summary>
    public Shape WithExtents(IReadOnlyList<int> extents) => new(Channels, extents);

    /// <summary>This shape with every spatial extent mapped by <paramref name="f"/>.</summary>
    public Shape MapExtents(Func<int, int> f) => new(Channels, Extents.Select(f).ToArray());

    /// <summary>A square feature map of <paramref name="size"/> x <paramref name="size"/>.</summary>
    public static Shape Square(int channels, int size) => new(channels, size, size);

    /// <summary>A cube (or square, or line) of <paramref name="dims"/> axes of <paramref name="size"/> each.</summary>
    public static Shape Cube(int channels, int dims, int size) => new(channels, Enumerable.Repeat(size, dims).ToArray());

    /// <summary>The names of the spatial axes of a <paramref name="dims"/>-D map, for messages ("depth", "height", "width").</summary>
    public static string AxisName(int dims, int axis) => dims switch
    {
        1 => "width",
        2 => axis == 0 ? "height" : "width",
        3 => axis switch { 0 => "depth", 1 => "height", _ => "width" },
        _ => $"axis {axis}",
    };

    /// <summary>The spatial extents as "HxW" (or "DxHxW").</summary>
    public string SizeText => string.Join("x", Extents);

    /// <inheritdoc />
    public bool Equals(Shape other) => Channels == other.Channels && Extents.SequenceEqual(other.Extents);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Channels);
        foreach (var e in Extents) h.Add(e);
        return h.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{SizeText}";
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
