using System;

namespace CropCat.Numerics;

/// <summary>
/// Resampling of channel-major planes to another height and width. Intensities and probabilities are bilinear
/// with PyTorch's <c>align_corners=False</c> convention (pixel centres at i + 0.5, as <c>F.interpolate(mode='bilinear')</c>
/// and OpenCV's <c>INTER_LINEAR</c> place them), so a net trained on PyTorch-resized images sees the same input.
/// Label maps are resampled by nearest neighbour with the same centres (PyTorch's <c>nearest-exact</c>): a label
/// is never interpolated, so no value appears that the map did not hold. Neither filter anti-aliases when shrinking,
/// as PyTorch's defaults do not.
/// </summary>
public static class Resize
{
    /// <summary>
    /// Bilinear resampling of <paramref name="channels"/> planes of <paramref name="height"/> x <paramref name="width"/>
    /// values (channel-major, each plane row-major) to <paramref name="newHeight"/> x <paramref name="newWidth"/>;
    /// each channel on its own, so per-class probability maps stay probability maps (their sum per pixel is kept).
    /// </summary>
    /// <exception cref="ArgumentException">A size below 1, or <paramref name="planes"/> not of channels x height x width values.</exception>
    public static float[] Bilinear(ReadOnlySpan<float> planes, int channels, int height, int width, int newHeight, int newWidth)
    {
        Check(planes.Length, channels, height, width, newHeight, newWidth);
        var ys = Axis(height, newHeight);
        var xs = Axis(width, newWidth);
        int plane = height * width, newPlane = newHeight * newWidth;
        var result = new float[channels * newPlane];
        for (var c = 0; c < channels; c++)
        {
            var src = planes.Slice(c * plane, plane);
            var dst = result.AsSpan(c * newPlane, newPlane);
            for (var y = 0; y < newHeight; y++)
            {
                var (y0, y1, wy) = ys[y];
                var row0 = src.Slice(y0 * width, width);
                var row1 = src.Slice(y1 * width, width);
                for (var x = 0; x < newWidth; x++)
                {
                    var (x0, x1, wx) = xs[x];
                    var top = row0[x0] + wx * (row0[x1] - row0[x0]);
                    var bottom = row1[x0] + wx * (row1[x1] - row1[x0]);
                    dst[y * newWidth + x] = top + wy * (bottom - top);
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Nearest-neighbour resampling of a row-major <paramref name="height"/> x <paramref name="width"/> label map:
    /// output pixel (y, x) takes the label of the input pixel whose cell holds its centre, floor((y + 0.5) * height / newHeight).
    /// </summary>
    /// <exception cref="ArgumentException">A size below 1, or <paramref name="labels"/> not of height x width values.</exception>
    public static int[] Nearest(ReadOnlySpan<int> labels, int height, int width, int newHeight, int newWidth)
    {
        Check(labels.Length, 1, height, width, newHeight, newWidth);
        var result = new int[newHeight * newWidth];
        var xs = new int[newWidth];
        for (var x = 0; x < newWidth; x++) xs[x] = NearestIndex(x, width, newWidth);
        for (var y = 0; y < newHeight; y++)
        {
            var row = labels.Slice(NearestIndex(y, height, newHeight) * width, width);
            for (var x = 0; x < newWidth; x++) result[y * newWidth + x] = row[xs[x]];
        }
        return result;
    }

    // In integers, so a centre that falls exactly on a cell border always goes to the same side (floating point
    // would decide by rounding): floor((2i + 1) * n / (2 * m)).
    private static int NearestIndex(int i, int n, int m) =>
        (int)Math.Min((2L * i + 1) * n / (2L * m), n - 1);

    /// <summary>
    /// For each output index along an axis of <paramref name="n"/> input pixels resampled to <paramref name="m"/>:
    /// the two input pixels it lies between and the weight of the second. The source coordinate is
    /// (i + 0.5) * n / m - 0.5, clamped at 0 below and at the last pixel above, as PyTorch computes it.
    /// </summary>
    private static (int I0, int I1, float W1)[] Axis(int n, int m)
    {
        var table = new (int, int, float)[m];
        var scale = (double)n / m;
        for (var i = 0; i < m; i++)
        {
            var s = Math.Max((i + 0.5) * scale - 0.5, 0.0);
            var i0 = Math.Min((int)s, n - 1);
            var i1 = Math.Min(i0 + 1, n - 1);
            table[i] = (i0, i1, (float)(s - i0));
        }
        return table;
    }

    private static void Check(int length, int channels, int height, int width, int newHeight, int newWidth)
    {
        if (channels < 1 || height < 1 || width < 1 || newHeight < 1 || newWidth < 1)
            throw new ArgumentException($"resize: sizes must be at least 1, got {channels} channel(s) of {width}x{height} to {newWidth}x{newHeight}");
        if ((long)channels * height * width != length)
            throw new ArgumentException($"resize: {channels} channel(s) of {width}x{height} need {(long)channels * height * width} values, got {length}");
    }
}
