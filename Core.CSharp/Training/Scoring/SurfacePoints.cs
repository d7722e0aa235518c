using System;
using CropCat.Numerics;

namespace CropCat.Training;

/// <summary>
/// The surface (boundary) pixels of binary masks and the distances between two surfaces, as MONAI's
/// <c>get_mask_edges</c> and <c>get_surface_distance</c> define them for unit spacing.
/// </summary>
public static class SurfacePoints
{
    /// <summary>
    /// The mask's edge: its pixels with a 4-neighbour outside it, pixels beyond the image counting as outside.
    /// This is <c>mask ^ scipy.ndimage.binary_erosion(mask)</c> (cross-shaped structuring element, border value
    /// 0), which MONAI uses; a mask pixel on the image border is an edge pixel.
    /// </summary>
    public static bool[] Edges(bool[] mask, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Length != (long)height * width) throw new ArgumentException($"expected {height}x{width} = {(long)height * width} pixels, got {mask.Length}");
        var edges = new bool[mask.Length];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = y * width + x;
                if (!mask[i]) continue;
                edges[i] = x == 0 || x == width - 1 || y == 0 || y == height - 1
                    || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
            }
        return edges;
    }

    /// <summary>
    /// For every edge pixel of <paramref name="from"/> (raster order), the Euclidean distance in pixels to the
    /// nearest edge pixel of <paramref name="to"/>: MONAI's <c>get_surface_distance(edges_from, edges_to)</c>,
    /// by the exact distance transform of <see cref="DistanceTransform"/>. Empty when <paramref name="from"/> is
    /// empty; every distance is +infinity when <paramref name="to"/> is empty.
    /// </summary>
    public static double[] Distances(bool[] from, bool[] to, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        if (to.Length != from.Length) throw new ArgumentException($"masks differ in size: {from.Length} and {to.Length} pixels");
        return DistancesBetweenEdges(Edges(from, height, width), Edges(to, height, width), height, width);
    }

    internal static double[] DistancesBetweenEdges(bool[] fromEdges, bool[] toEdges, int height, int width)
    {
        // Every edge pixel of both lies in their joint bounding box, so the nearest one is found within it:
        // the transform runs on the box, not the image (small objects in large images).
        int y0 = height, y1 = -1, x0 = width, x1 = -1, count = 0;
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = y * width + x;
                if (fromEdges[i]) count++;
                if (!fromEdges[i] && !toEdges[i]) continue;
                y0 = Math.Min(y0, y);
                y1 = Math.Max(y1, y);
                x0 = Math.Min(x0, x);
                x1 = Math.Max(x1, x);
            }
        var d = new double[count];
        if (count == 0) return d;
        int h = y1 - y0 + 1, w = x1 - x0 + 1;
        var feature = new bool[h * w];
        var any = false;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                any |= feature[y * w + x] = toEdges[(y + y0) * width + x + x0];
        if (!any)
        {
            Array.Fill(d, double.PositiveInfinity);
            return d;
        }
        var sq = DistanceTransform.Squared(feature, h, w);
        var n = 0;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                if (fromEdges[(y + y0) * width + x + x0]) d[n++] = Math.Sqrt(sq[y * w + x]);
        return d;
    }
}
