using System;
using System.Collections.Generic;
using CropCat.Architecture;
using CropCat.Nets;
using CropCat.Shapes;

namespace CropCat.Inference;

/// <summary>
/// Where the tiles of one image go. Offsets are the top-left corners of the tiles' outputs in image
/// coordinates; each input tile starts <see cref="Margin"/> pixels above and left of its output
/// (outside the image the input is the mirror extension). In exact mode every offset is a multiple
/// of <see cref="Factor"/>, so all tiles share the pooling grid of one pass over the whole padded image.
/// </summary>
/// <param name="TileSize">Input tile edge (a valid input of the net).</param>
/// <param name="OutputSize">Output edge of one tile.</param>
/// <param name="Margin">Pixels lost per side: (TileSize - OutputSize) / 2; 92 for the paper's net.</param>
/// <param name="Factor">Total down-sampling factor 2^depth.</param>
/// <param name="Step">Distance between neighbouring tiles' offsets (the last one may be closer in Gaussian mode).</param>
/// <param name="Mode">Exact or Gaussian (never Auto).</param>
/// <param name="Classes">Channels of the net's output.</param>
/// <param name="Rows">Output offsets along the height.</param>
/// <param name="Columns">Output offsets along the width.</param>
public sealed record TilePlan(int TileSize, int OutputSize, int Margin, int Factor, int Step, TileMode Mode,
    int Classes, IReadOnlyList<int> Rows, IReadOnlyList<int> Columns)
{
    /// <summary>Number of tiles.</summary>
    public int Count => Rows.Count * Columns.Count;

    /// <summary>
    /// The smallest valid input edge at least <paramref name="requested"/> whose output is at least
    /// <paramref name="minOutput"/> pixels, from the net's valid-size solution (closed form, no probing).
    /// </summary>
    /// <exception cref="ArgumentException">The net has no valid size, or none with that output; the message says why.</exception>
    public static TileChoice ChooseTileSize(Network net, int requested, int minOutput = 1) =>
        ChooseTileSize(net, SolutionOf(net), requested, minOutput);

    private static TileChoice ChooseTileSize(Network net, Solution sizes, int requested, int minOutput)
    {
        var pick = sizes.AtLeast(Math.Max(1, requested), minOutput)
            ?? throw new ArgumentException($"no valid tile size for this network from {Math.Max(1, requested)} on with an output of at least {minOutput} px (valid sizes: {string.Join("; ", sizes.Progressions)})");
        return new TileChoice(pick.Input, net.Infer(net.Spec.Cube(pick.Input)));
    }

    /// <summary>The valid sizes of <paramref name="net"/>'s axes.</summary>
    /// <exception cref="ArgumentException">No input size works; the message carries the net's reason.</exception>
    public static Solution SolutionOf(Network net) =>
        ValidSizes.Solve(net.Spec) is { Value: { } v } ? v
        : throw new ArgumentException($"no valid tile size for this network; the network says: {ValidSizes.Solve(net.Spec).Error!.Message}");

    /// <summary>Plans the tiles for an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    /// <exception cref="ArgumentException">Empty image, bad options, or no usable tile size.</exception>
    public static TilePlan For(Network net, int height, int width, TileOptions options)
    {
        options.Validate();
        if (height < 1 || width < 1) throw new ArgumentException($"cannot tile an empty image of {height}x{width}");
        var f = net.Spec.DownsamplingFactor;
        var sizes = SolutionOf(net);
        var (tile, output) = ChooseTileSize(net, sizes, options.TileSize, 1);
        var margin = MarginOf(tile, output);
        var mode = options.Mode != TileMode.Auto ? options.Mode : margin > 0 ? TileMode.Exact : TileMode.Gaussian;
        // Exact stitching steps by whole multiples of the factor, so a tile must yield at least one factor of output.
        var minOutput = mode == TileMode.Exact ? f : 1;
        // An image that fits into a smaller tile gets the smallest one that covers it: no work on mirrored filler.
        var cover = Math.Min(options.TileSize, Math.Max(height, width) + 2 * margin);
        (tile, output) = ChooseTileSize(net, sizes, cover, minOutput);
        margin = MarginOf(tile, output);
        var o = output.Height;
        int step;
        if (mode == TileMode.Exact) step = o / f * f;
        else step = Math.Max(f, (int)Math.Floor(o * (1 - options.Overlap) / f) * f);
        step = Math.Min(step, Math.Max(1, o)); // a factor larger than the output (Gaussian mode) must not leave gaps
        return new TilePlan(tile, o, margin, f, step, mode, output.Channels,
            Offsets(height, o, step, mode), Offsets(width, o, step, mode));
    }

    private static int MarginOf(int tile, Shape output)
    {
        if (output.Height != output.Width)
            throw new ArgumentException($"a square tile of {tile} gives a non-square output {output}; CropCat's tiler needs square outputs");
        var lost = tile - output.Height;
        if (lost < 0 || lost % 2 != 0)
            throw new ArgumentException($"tile {tile} gives output {output.Height}: the lost border {lost} is not an even, non-negative number, so the output cannot be centred on the input");
        return lost / 2;
    }

    private static int[] Offsets(int n, int o, int step, TileMode mode)
    {
        var offsets = new List<int> { 0 };
        while (offsets[^1] + o < n) offsets.Add(offsets[^1] + step);
        // Gaussian mode keeps the last tile inside the image (as MONAI does), so the image border sees the
        // same zero padding as in a whole-image pass; exact mode must keep the factor grid and mirrors instead.
        if (mode == TileMode.Gaussian && n >= o && offsets[^1] + o > n)
        {
            offsets[^1] = n - o;
            if (offsets.Count > 1 && offsets[^2] == offsets[^1]) offsets.RemoveAt(offsets.Count - 1);
        }
        return offsets.ToArray();
    }
}

/// <summary>A tile size chosen for a network: the input edge and the output it yields.</summary>
/// <param name="Tile">Input tile edge, a valid input of the network.</param>
/// <param name="Output">The network's output for a <paramref name="Tile"/> x <paramref name="Tile"/> input.</param>
public readonly record struct TileChoice(int Tile, Shape Output);
