using System;
using System.Runtime.CompilerServices;
using CropCat.Data;
using CropCat.Training;

namespace CropCat.Augment;

/// <summary>
/// Moves every plane of a sample by one mapping from output pixels to source positions: the image with the
/// chosen interpolation, weights bilinear, classes and instances nearest (labels are never blended). Where the
/// mapping leaves the image, the border mode decides: mirrored back in, or the constant "outside" values.
/// "Outside" is decided once per pixel from the nearest source pixel, so image, labels and weights agree on it.
/// </summary>
internal static class Warp
{
    /// <summary>
    /// An exact move: output pixel i (of <paramref name="height"/> x <paramref name="width"/>) copies source pixel
    /// <paramref name="source"/>[i], or is outside when that is negative. No interpolation, so it is invertible.
    /// </summary>
    public static Sample Gather(Sample s, int height, int width, int[] source, float fill)
    {
        int n = height * width, plane = s.Height * s.Width, channels = s.Channels;
        var image = new float[channels * n];
        var classes = new int[n];
        var instances = s.Instances is null ? null : new int[n];
        var weights = s.Weights is null ? null : new float[n];
        for (var i = 0; i < n; i++)
        {
            var j = source[i];
            if (j < 0)
            {
                for (var c = 0; c < channels; c++) image[c * n + i] = fill;
                classes[i] = TileWindow.Ignore; // instances and weights stay 0
                continue;
            }
            for (var c = 0; c < channels; c++) image[c * n + i] = s.Image[c * plane + j];
            classes[i] = s.Classes[j];
            if (instances is not null) instances[i] = s.Instances![j];
            if (weights is not null) weights[i] = s.Weights![j];
        }
        return new Sample(s.Name, height, width, image, classes, instances, weights, channels);
    }

    /// <summary>
    /// A resampling of the same size: output pixel i reads source position (<paramref name="sx"/>[i], <paramref name="sy"/>[i])
    /// in pixel coordinates (pixel centres at whole numbers).
    /// </summary>
    public static Sample Resample(Sample s, double[] sx, double[] sy, Resampling r)
    {
        int h = s.Height, w = s.Width, n = h * w, channels = s.Channels;
        var image = new float[channels * n];
        var classes = new int[n];
        var instances = s.Instances is null ? null : new int[n];
        var weights = s.Weights is null ? null : new float[n];
        var constant = r.Border == BorderMode.Constant;
        var cubic = r.Interpolation == ImageInterpolation.Bicubic;
        Span<double> wx = stackalloc double[4], wy = stackalloc double[4];
        Span<int> ix = stackalloc int[4], iy = stackalloc int[4];
        for (var i = 0; i < n; i++)
        {
            double x = sx[i], y = sy[i];
            var nx = (int)Math.Round(x, MidpointRounding.AwayFromZero);
            var ny = (int)Math.Round(y, MidpointRounding.AwayFromZero);
            if (constant && (nx < 0 || nx >= w || ny < 0 || ny >= h))
            {
                for (var c = 0; c < channels; c++) image[c * n + i] = r.Fill;
                classes[i] = TileWindow.Ignore;
                continue;
            }
            var nearest = Fold(ny, h) * w + Fold(nx, w);
            classes[i] = s.Classes[nearest];
            if (instances is not null) instances[i] = s.Instances![nearest];

            int fx0 = (int)Math.Floor(x), fy0 = (int)Math.Floor(y);
            double fx = x - fx0, fy = y - fy0;
            if (weights is not null)
            {
                int x0 = Fold(fx0, w), x1 = Fold(fx0 + 1, w);
                int y0 = Fold(fy0, h) * w, y1 = Fold(fy0 + 1, h) * w;
                var q = s.Weights!;
                weights[i] = (float)((1 - fy) * ((1 - fx) * q[y0 + x0] + fx * q[y0 + x1]) + fy * ((1 - fx) * q[y1 + x0] + fx * q[y1 + x1]));
            }

            // The taps and their weights are the same for every channel: compute them once per pixel.
            int taps;
            if (cubic)
            {
                taps = 4;
                for (var k = 0; k < 4; k++)
                {
                    wx[k] = Interpolation.Cubic(k - 1 - fx);
                    wy[k] = Interpolation.Cubic(k - 1 - fy);
                    ix[k] = Fold(fx0 + k - 1, w);
                    iy[k] = Fold(fy0 + k - 1, h) * w;
                }
            }
            else
            {
                taps = 2;
                wx[0] = 1 - fx; wx[1] = fx; wy[0] = 1 - fy; wy[1] = fy;
                for (var k = 0; k < 2; k++)
                {
                    ix[k] = Fold(fx0 + k, w);
                    iy[k] = Fold(fy0 + k, h) * w;
                }
            }
            for (var c = 0; c < channels; c++)
            {
                var img = s.Image.AsSpan(c * n, n);
                double sum = 0;
                for (var m = 0; m < taps; m++)
                {
                    if (wy[m] == 0) continue;
                    double acc = 0;
                    for (var k = 0; k < taps; k++) acc += wx[k] * img[iy[m] + ix[k]];
                    sum += wy[m] * acc;
                }
                image[c * n + i] = (float)sum;
            }
        }
        return new Sample(s.Name, h, w, image, classes, instances, weights, channels);
    }

    /// <summary>Mirror fold with the common inside case first (the full rule is <see cref="Interpolation.Mirror"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Fold(int i, int n) => (uint)i < (uint)n ? i : Interpolation.Mirror(i, n);

    /// <summary>A copy of <paramref name="s"/> with a new image (same size and channels), the maps shared.</summary>
    public static Sample WithImage(Sample s, float[] image) => new(s.Name, s.Height, s.Width, image, s.Classes, s.Instances, s.Weights, s.Channels);
}
