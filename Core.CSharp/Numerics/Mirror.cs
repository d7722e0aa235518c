using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace CropCat.Numerics;

/// <summary>
/// Mirror extrapolation of an image border, as the paper's overlap-tile strategy asks for.
/// The rule is numpy's <c>reflect</c>: the edge pixel is the mirror axis and is not repeated
/// (row -1 is row 1, row -2 is row 2). Margins larger than the image keep reflecting, which makes
/// the extension the triangle wave of period 2(n - 1): for n = 3, rows -7..9 read
/// 1 2 1 0 1 2 1 0 [0 1 2] 1 0 1 2 1 0 1. A single row or column (n = 1) has no axis to reflect
/// across, so it is repeated (numpy does the same). Keeping the edge pixel single means the
/// extension has no doubled row, so a structure touching the border continues without a
/// flat stripe of width two.
/// </summary>
public static class Mirror
{
    /// <summary>The source index along an axis of length <paramref name="n"/> for a (possibly outside) index <paramref name="i"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1.</exception>
    public static int Index(long i, int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "an axis to mirror needs at least one pixel");
        if (n == 1) return 0;
        long period = 2L * (n - 1);
        var j = i % period;
        if (j < 0) j += period;
        return (int)(j < n ? j : period - j);
    }

    /// <summary>The source indices of <paramref name="length"/> consecutive positions starting at <paramref name="start"/> (may be negative).</summary>
    public static long[] Indices(long start, int length, int n)
    {
        var idx = new long[length];
        for (var k = 0; k < length; k++) idx[k] = Index(start + k, n);
        return idx;
    }

    /// <summary>
    /// Cuts the window rows [<paramref name="top"/>, top + height) x columns [<paramref name="left"/>, left + width)
    /// out of the infinite mirror extension of <paramref name="image"/> (..., H, W). Coordinates may lie
    /// outside the image. Returns a new tensor on the image's device; the image is not changed.
    /// </summary>
    public static Tensor Window(Tensor image, long top, long left, int height, int width)
    {
        var h = (int)image.shape[^2];
        var w = (int)image.shape[^1];
        using var rows = tensor(Indices(top, height, h), device: image.device);
        using var cols = tensor(Indices(left, width, w), device: image.device);
        using var r = image.index_select(image.dim() - 2, rows);
        return r.index_select(image.dim() - 1, cols);
    }

    /// <summary>
    /// Cuts the window [starts[a], starts[a] + sizes[a]) on each of the last <c>sizes.Count</c> axes out of
    /// the infinite mirror extension of <paramref name="image"/> (a volume's depth, height, width, say).
    /// Returns a new tensor on the image's device; the image is not changed.
    /// </summary>
    public static Tensor Window(Tensor image, IReadOnlyList<long> starts, IReadOnlyList<int> sizes)
    {
        var n = sizes.Count;
        var current = image.alias();
        for (var a = 0; a < n; a++)
        {
            var axis = image.dim() - n + a;
            using var idx = tensor(Indices(starts[a], sizes[a], (int)image.shape[axis]), device: image.device);
            var next = current.index_select(axis, idx);
            current.Dispose();
            current = next;
        }
        return current;
    }

    /// <summary>Mirror-pads each of the last <c>margins.Count</c> axes by (before, after) pixels (each >= 0, any size).</summary>
    public static Tensor Pad(Tensor image, IReadOnlyList<(int Before, int After)> margins)
    {
        if (margins.Any(m => m.Before < 0 || m.After < 0))
            throw new ArgumentOutOfRangeException(nameof(margins), $"mirror margins must be >= 0, got {string.Join(", ", margins)}");
        var n = margins.Count;
        var starts = margins.Select(m => (long)-m.Before).ToArray();
        var sizes = margins.Select((m, a) => (int)image.shape[image.dim() - n + a] + m.Before + m.After).ToArray();
        return Window(image, starts, sizes);
    }

    /// <summary>Mirror-pads the last two axes of <paramref name="image"/> by the given margins (each >= 0, any size).</summary>
    public static Tensor Pad(Tensor image, int top, int bottom, int left, int right)
    {
        if (top < 0 || bottom < 0 || left < 0 || right < 0)
            throw new ArgumentOutOfRangeException(nameof(top), $"mirror margins must be >= 0, got top {top}, bottom {bottom}, left {left}, right {right}");
        var h = (int)image.shape[^2];
        var w = (int)image.shape[^1];
        return Window(image, -top, -left, h + top + bottom, w + left + right);
    }
}
