using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;
using CropCat.Nets;
using CropCat.Shapes;

namespace CropCat.Inference;

/// <summary>
/// Where the tiles of one image (or volume) go. <see cref="Offsets"/> holds, per spatial axis, the starts
/// of the tiles' outputs in image coordinates; each input tile starts <see cref="Margin"/> pixels before
/// its output on every axis (outside the image the input is the mirror extension). Tiles are cubes of
/// <see cref="TileSize"/> on every axis. In exact mode every offset is a multiple of <see cref="Factor"/>,
/// so all tiles share the pooling grid of one pass over the whole padded image.
/// </summary>
/// <param name="TileSize">Input tile edge (a valid size of every axis).</param>
/// <param name="OutputSize">Output edge of one tile.</param>
/// <param name="Margin">Pixels lost per side: (TileSize - OutputSize) / 2; 92 for the paper's net.</param>
/// <param name="Factor">Down-sampling factor 2^depth of every axis.</param>
/// <param name="Step">Distance between neighbouring tiles' offsets (the last one may be closer in Gaussian mode).</param>
/// <param name="Mode">Exact or Gaussian (never Auto).</param>
/// <param name="Classes">Channels of the net's output.</param>
/// <param name="Offsets">Output offsets along each spatial axis (2-D: rows, then columns).</param>
public sealed record TilePlan(int TileSize, int OutputSize, int Margin, int Factor, int Step, TileMode Mode,
    int Classes, IReadOnlyList<IReadOnlyList<int>> Offsets)
{
    /// <summary>Number of tiles.</summary>
    public int Count => Offsets.Aggregate(1, (n, o) => n * o.Count);

    /// <summary>Output offsets along the height (the second-to-last axis).</summary>
    public IReadOnlyList<int> Rows => Offsets[^2];

    /// <summary>Output offsets along the width (the last axis).</summary>
    public IReadOnlyList<int> Columns => Offsets[^1];

    /// <summary>Every tile's output start, one entry per axis, in row-major order.</summary>
    public IEnumerable<int[]> Tiles()
    {
        IEnumerable<int[]> acc = [[]];
        foreach (var axis in Offsets) acc = acc.SelectMany(prefix => axis.Select(o => (int[])[.. prefix, o])).ToList();
        return acc;
    }

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
        net.Sizes is { Value: { } v } ? v
        : throw new ArgumentException($"no valid tile size for this network; the network says: {net.Sizes.Error!.Message}");

    /// <summary>Plans the tiles for an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    /// <exception cref="ArgumentException">Empty image, bad options, or no usable tile size.</exception>
    public static TilePlan For(Network net, int height, int width, TileOptions options) => For(net, [height, width], options);

    /// <summary>Plans the tiles for an image or volume of the spatial <paramref name="extents"/> (one per axis of the net).</summary>
    /// <exception cref="ArgumentException">Empty input, wrong number of axes, bad options, or no usable tile size.</exception>
    public static TilePlan For(Network net, IReadOnlyList<int> extents, TileOptions options)
    {
        options.Validate();
        if (extents.Count != net.Dims) throw new ArgumentException($"a {net.Dims}-D net tiles {net.Dims}-D inputs, got sizes {string.Join("x", extents)}");
        if (extents.Any(e => e < 1)) throw new ArgumentException($"cannot tile an empty image of {string.Join("x", extents)}");
        var f = net.Spec.DownsamplingFactor;
        var sizes = SolutionOf(net);
        var (tile, output) = ChooseTileSize(net, sizes, options.TileSize, 1);
        var margin = MarginOf(tile, output);
        var perTile = PerTileStatistics(net.Spec.Named);
        if (perTile is not null && options.Mode == TileMode.Exact)
            throw new ArgumentException(
                $"exact tiling is impossible for this net: {perTile} normalises each tile by that tile's own statistics, so stitched tiles " +
                "cannot equal a whole-image pass; use TileMode.Gaussian (the default for such nets: overlapping tiles blended, as nnU-Net does)");
        // Exact needs a net that computes each output pixel from its own context only; per-tile statistics break that.
        var mode = options.Mode != TileMode.Auto ? options.Mode : margin > 0 && perTile is null ? TileMode.Exact : TileMode.Gaussian;
        // Exact stitching steps by whole multiples of the factor, so a tile must yield at least one factor of output.
        var minOutput = mode == TileMode.Exact ? f : 1;
        // An input that fits into a smaller tile gets the smallest one that covers it: no work on mirrored filler.
        var requested = options.MemoryBudget is { } budget ? FromBudget(net, budget, options.BatchSize, minOutput, extents.Max() + 2 * margin + sizes.Period) : options.TileSize;
        var cover = Math.Min(requested, extents.Max() + 2 * margin);
        (tile, output) = ChooseTileSize(net, sizes, cover, minOutput);
        margin = MarginOf(tile, output);
        var o = output.Width;
        int step;
        if (mode == TileMode.Exact) step = o / f * f;
        else step = Math.Max(f, (int)Math.Floor(o * (1 - options.Overlap) / f) * f);
        step = Math.Min(step, Math.Max(1, o)); // a factor larger than the output (Gaussian mode) must not leave gaps
        return new TilePlan(tile, o, margin, f, step, mode, output.Channels,
            extents.Select(n => (IReadOnlyList<int>)AxisOffsets(n, o, step, mode)).ToArray());
    }

    /// <summary>"the block at PATH (instance norm)" for the first block normalised per image, or null when none is.</summary>
    private static string? PerTileStatistics(Named root) =>
        root.Descendants()
            .Select(n => n.Spec is BlockSpec { Normalization: Layers.BlockNorm.Instance or Layers.BlockNorm.Group } b
                ? $"the block at {n.Path} ({b.Normalization.ToString().ToLowerInvariant()} norm)"
                : null)
            .FirstOrDefault(p => p is not null);

    private static int FromBudget(Network net, long budget, int batch, int minOutput, int maxTile)
    {
        if (TileMemory.LargestFitting(net, budget, batch, minOutput, maxTile) is { } fit) return fit.Tile;
        var smallest = ChooseTileSize(net, 1, minOutput).Tile;
        throw new ArgumentException($"the memory budget of {TileMemory.FormatBytes(budget)} is below the predicted activation peak of the smallest tile ({smallest} px, batch {batch}: {TileMemory.FormatBytes(TileMemory.PeakBytes(net, smallest, batch))})");
    }

    /// <summary>
    /// The fraction of the computed input pixels that are recomputed margin, 1 - (Step / TileSize)^dims: the
    /// work a tile spends on context that its neighbour computes again (or, at the border, on mirrored context).
    /// </summary>
    public double MarginFraction => 1 - Math.Pow((double)Step / TileSize, Offsets.Count);

    private static int MarginOf(int tile, Shape output)
    {
        if (output.Extents.Distinct().Count() != 1)
            throw new ArgumentException($"a cube tile of {tile} gives a non-cube output {output}; CropCat's tiler needs equal output edges");
        var lost = tile - output.Width;
        if (lost < 0 || lost % 2 != 0)
            throw new ArgumentException($"tile {tile} gives output {output.Width}: the lost border {lost} is not an even, non-negative number, so the output cannot be centred on the input");
        return lost / 2;
    }

    private static int[] AxisOffsets(int n, int o, int step, TileMode mode)
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
/// <param name="Tile">Input tile edge, a valid input size of every axis.</param>
/// <param name="Output">The network's output for a cube of <paramref name="Tile"/> on every axis.</param>
public readonly record struct TileChoice(int Tile, Shape Output);
