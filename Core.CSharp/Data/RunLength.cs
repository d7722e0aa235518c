using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CropCat.Data;

/// <summary>How a run-length code numbers the pixels of an image.</summary>
public enum PixelOrder
{
    /// <summary>
    /// Kaggle's documented order, used by TGS salt and DSB 2018: 1-indexed, top to bottom, then left to right
    /// (pixel 2 is the one below pixel 1), i.e. the column-major flattening of the H x W mask.
    /// </summary>
    ColumnMajor,
    /// <summary>
    /// Left to right, then top to bottom (the row-major flattening), as Carvana's <c>train_masks.csv</c> and the
    /// kernels that wrote its submissions use.
    /// </summary>
    RowMajor,
}

/// <summary>A run-length string cannot be decoded; the message names its source and the bad token.</summary>
public sealed class RunLengthException : FormatException
{
    /// <summary>Creates the error.</summary>
    public RunLengthException(string message) : base(message) { }
}

/// <summary>
/// Kaggle's run-length encoding of binary masks: space-separated pairs "start length", starts 1-indexed in a
/// <see cref="PixelOrder"/>, runs in increasing order and not touching (each run is maximal); "" is the empty mask.
/// </summary>
public static class RunLength
{
    /// <summary>Encodes a row-major H x W mask.</summary>
    /// <exception cref="ArgumentException">The mask does not hold height * width values.</exception>
    public static string Encode(ReadOnlySpan<bool> mask, int height, int width, PixelOrder order)
    {
        CheckSize(mask.Length, height, width);
        var sb = new StringBuilder();
        long n = (long)height * width, start = -1;
        for (long k = 0; k <= n; k++)
        {
            var on = k < n && mask[(int)RowMajorIndex(k, height, width, order)];
            if (on && start < 0) start = k;
            else if (!on && start >= 0)
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(CultureInfo.InvariantCulture, $"{start + 1} {k - start}");
                start = -1;
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// Decodes <paramref name="rle"/> into a row-major H x W mask. Runs must be in increasing order and within
    /// the image; touching runs are accepted (some writers split runs), overlapping ones are not.
    /// </summary>
    /// <param name="rle">The code; empty or white space is the empty mask.</param>
    /// <param name="height">Image height.</param>
    /// <param name="width">Image width.</param>
    /// <param name="order">How the code numbers pixels.</param>
    /// <param name="source">Where the code comes from, for messages ("train.csv row 7").</param>
    /// <exception cref="RunLengthException">An odd number of values, a value that is not a positive integer, a run before the previous one ends, or a run past the last pixel.</exception>
    public static bool[] Decode(string rle, int height, int width, PixelOrder order, string source = "run-length mask")
    {
        if (height < 1 || width < 1) throw new ArgumentException($"{source}: image size {width}x{height} is empty");
        var n = (long)height * width;
        var mask = new bool[n];
        var tokens = rle.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length % 2 != 0)
            throw new RunLengthException($"{source}: {tokens.Length} numbers; a run-length code holds pairs \"start length\"");
        long next = 1; // the first pixel a run may start at
        for (var t = 0; t < tokens.Length; t += 2)
        {
            var start = Positive(tokens[t], t, "start", source);
            var length = Positive(tokens[t + 1], t + 1, "length", source);
            if (start < next)
                throw new RunLengthException($"{source}: run {t / 2 + 1} starts at pixel {start}, inside or before the previous run (which ends at {next - 1}); runs must be in increasing order");
            if (start - 1 + length > n)
                throw new RunLengthException($"{source}: run {t / 2 + 1} ({start} {length}) ends at pixel {start - 1 + length}, past the last pixel {n} of a {width}x{height} image");
            for (var k = start - 1; k < start - 1 + length; k++) mask[RowMajorIndex(k, height, width, order)] = true;
            next = start + length;
        }
        return mask;
    }

    /// <summary>The row-major index of the k-th pixel (0-based) in <paramref name="order"/>.</summary>
    private static long RowMajorIndex(long k, int height, int width, PixelOrder order) =>
        order == PixelOrder.RowMajor ? k : k % height * width + k / height;

    private static long Positive(string token, int index, string what, string source)
    {
        if (!long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v < 1)
            throw new RunLengthException($"{source}: value {index + 1} (a {what}) is \"{Shorten(token)}\", not a positive integer");
        return v;
    }

    private static string Shorten(string s) => s.Length > 20 ? s[..20] + "..." : s;

    private static void CheckSize(int length, int height, int width)
    {
        if (height < 1 || width < 1 || (long)height * width != length)
            throw new ArgumentException($"run-length: a {width}x{height} mask needs {(long)height * width} values, got {length}");
    }

    /// <summary>The runs of <paramref name="rle"/> as (start, length) pairs without checking them against an image.</summary>
    public static IReadOnlyList<(long Start, long Length)> Runs(string rle, string source = "run-length mask")
    {
        var tokens = rle.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length % 2 != 0)
            throw new RunLengthException($"{source}: {tokens.Length} numbers; a run-length code holds pairs \"start length\"");
        var runs = new List<(long, long)>(tokens.Length / 2);
        for (var t = 0; t < tokens.Length; t += 2)
            runs.Add((Positive(tokens[t], t, "start", source), Positive(tokens[t + 1], t + 1, "length", source)));
        return runs;
    }
}
