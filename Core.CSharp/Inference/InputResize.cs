using System;
using System.Globalization;

namespace CropCat.Inference;

/// <summary>
/// How <see cref="FolderPredictor"/> resizes an image before prediction (<c>cropcat predict --max-edge N</c> or
/// <c>--scale F</c>); its class probabilities are resized back to the original size before the argmax, so every output
/// keeps the input's size. Create one with <see cref="ToMaxEdge"/> or <see cref="ByFactor"/>.
/// </summary>
public sealed record InputResize
{
    /// <summary>The largest factor <see cref="ByFactor"/> takes: more would only interpolate, and 16 x 16 times the pixels is already a lot of memory.</summary>
    public const double MaxFactor = 16.0;

    private InputResize(int? maxEdge, double? factor)
    {
        MaxEdge = maxEdge;
        Factor = factor;
    }

    /// <summary>The longest edge after resizing (a smaller image is left as it is); null when resizing by <see cref="Factor"/>.</summary>
    public int? MaxEdge { get; }

    /// <summary>The factor both edges are multiplied by; null when resizing to <see cref="MaxEdge"/>.</summary>
    public double? Factor { get; }

    /// <summary>Shrinks images whose longer edge exceeds <paramref name="pixels"/> so that it is <paramref name="pixels"/>, keeping the aspect ratio.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pixels"/> is below 1.</exception>
    public static InputResize ToMaxEdge(int pixels) =>
        pixels >= 1 ? new InputResize(pixels, null) : throw new ArgumentOutOfRangeException(nameof(pixels), pixels, "the longest edge must be at least 1 pixel");

    /// <summary>Multiplies both edges by <paramref name="factor"/> (rounded, at least 1 pixel).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not in (0, <see cref="MaxFactor"/>].</exception>
    public static InputResize ByFactor(double factor) =>
        factor > 0 && factor <= MaxFactor
            ? new InputResize(null, factor)
            : throw new ArgumentOutOfRangeException(nameof(factor), factor, $"the scale must be above 0 and at most {MaxFactor.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The size an image of <paramref name="height"/> x <paramref name="width"/> is predicted at.</summary>
    public (int Height, int Width) SizeFor(int height, int width)
    {
        double f;
        if (MaxEdge is { } edge)
        {
            var longest = Math.Max(height, width);
            if (longest <= edge) return (height, width);
            f = (double)edge / longest;
        }
        else f = Factor!.Value;
        return (Scaled(height, f), Scaled(width, f));
    }

    private static int Scaled(int n, double f) => (int)Math.Max(1, Math.Round(n * f, MidpointRounding.AwayFromZero));

    /// <summary>The key under which a checkpoint records the resizing its net was trained with (the value is <see cref="ToString"/>'s text).</summary>
    public const string CheckpointKey = "resize";

    /// <summary>Reads <see cref="ToString"/>'s text back ("max edge 512", "scale 0.5").</summary>
    /// <exception cref="FormatException">The text is neither form, or its number is out of range.</exception>
    public static InputResize Parse(string text)
    {
        try
        {
            if (text.StartsWith("max edge ", StringComparison.Ordinal))
                return ToMaxEdge(int.Parse(text["max edge ".Length..], NumberStyles.None, CultureInfo.InvariantCulture));
            if (text.StartsWith("scale ", StringComparison.Ordinal))
                return ByFactor(double.Parse(text["scale ".Length..], NumberStyles.Float, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentOutOfRangeException)
        {
            throw new FormatException($"resizing \"{text}\": {e.Message}", e);
        }
        throw new FormatException($"resizing \"{text}\" is neither \"max edge N\" nor \"scale F\"");
    }

    /// <inheritdoc/>
    public override string ToString() =>
        MaxEdge is { } edge ? $"max edge {edge}" : $"scale {Factor!.Value.ToString(CultureInfo.InvariantCulture)}";
}
