using System;
using System.Collections.Generic;
using CropCat.Data;
using CropCat.Numerics;
using CropCat.Shapes;

namespace CropCat.Training;

/// <summary>
/// Training tiles in terms of the net's output window, the paper's overlap-tile rule applied to training: a
/// tile is the input whose (centred) output covers a chosen window of the image; input pixels outside the image
/// are mirrored, and output pixels outside the image are <see cref="Ignore"/>d, so an image smaller than the tile
/// still trains with its whole area in the loss, and every image pixel, its borders included, can be a target.
/// </summary>
public static class TileWindow
{
    /// <summary>The class of a pixel that lies outside its image (mirror padding): no loss, no score.</summary>
    public const int Ignore = -1;

    /// <summary>
    /// The <paramref name="tile"/> x <paramref name="tile"/> input whose <paramref name="outH"/> x <paramref name="outW"/>
    /// output starts at image pixel (<paramref name="oy"/>, <paramref name="ox"/>) (either may be negative or run
    /// past the image). Image planes are mirrored outside the image; classes there are <see cref="Ignore"/>,
    /// weights 0 and instances 0 (background).
    /// </summary>
    public static Sample Cut(Sample s, int oy, int ox, int tile, int outH, int outW)
    {
        int top = oy - ShapeRules.CropOffset(tile, outH), left = ox - ShapeRules.CropOffset(tile, outW);
        int h = s.Height, w = s.Width, n = tile * tile;
        var rows = new int[tile];
        var cols = new int[tile];
        for (var k = 0; k < tile; k++)
        {
            rows[k] = Mirror.Index(top + k, h);
            cols[k] = Mirror.Index(left + k, w);
        }
        var image = new float[s.Channels * n];
        for (var c = 0; c < s.Channels; c++)
            for (var y = 0; y < tile; y++)
            {
                var src = c * h * w + rows[y] * w;
                var dst = c * n + y * tile;
                for (var x = 0; x < tile; x++) image[dst + x] = s.Image[src + cols[x]];
            }
        var classes = new int[n];
        var instances = s.Instances is null ? null : new int[n];
        var weights = s.Weights is null ? null : new float[n];
        for (var y = 0; y < tile; y++)
        {
            var iy = top + y;
            var rowInside = iy >= 0 && iy < h;
            for (var x = 0; x < tile; x++)
            {
                var ix = left + x;
                var i = y * tile + x;
                if (rowInside && ix >= 0 && ix < w)
                {
                    var j = iy * w + ix;
                    classes[i] = s.Classes[j];
                    if (instances is not null) instances[i] = s.Instances![j];
                    if (weights is not null) weights[i] = s.Weights![j];
                }
                else classes[i] = Ignore; // instances and weights stay 0
            }
        }
        return new Sample($"{s.Name}@{ox},{oy}", tile, tile, image, classes, instances, weights, s.Channels);
    }

    /// <summary>
    /// Where output windows of <paramref name="window"/> pixels start along an axis of <paramref name="length"/>
    /// pixels to cover it: every <paramref name="window"/> pixels, the last moved back to end at the border; one
    /// window centred on the axis when the axis is shorter than a window.
    /// </summary>
    public static IReadOnlyList<int> GridStarts(int length, int window)
    {
        if (length <= window) return [-((window - length) / 2)];
        var starts = new List<int>();
        for (var p = 0; p + window < length; p += window) starts.Add(p);
        starts.Add(length - window);
        return starts;
    }

    /// <summary>The number of output windows <see cref="GridStarts"/> puts on an image.</summary>
    public static int GridCount(int height, int width, int outH, int outW) =>
        GridStarts(height, outH).Count * GridStarts(width, outW).Count;

    /// <summary>
    /// A uniformly drawn window start along an axis: anywhere the window stays inside the image, or, on an axis
    /// shorter than the window, anywhere the window still covers the whole axis.
    /// </summary>
    public static int RandomStart(Random rng, int length, int window) =>
        length >= window ? rng.Next(0, length - window + 1) : rng.Next(length - window, 1);
}
