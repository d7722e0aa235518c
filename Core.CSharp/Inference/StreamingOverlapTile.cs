using System;
using System.Diagnostics;
using System.Linq;
using CropCat.Nets;
using CropCat.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>What one streamed prediction did.</summary>
/// <param name="Plan">The tile plan (tile and output size, offsets).</param>
/// <param name="TileRows">Rows of tiles processed.</param>
/// <param name="Tiles">Tiles predicted.</param>
/// <param name="BandRows">Rows of the band accumulator (one tile's output, or the image when it is shorter).</param>
/// <param name="Seconds">Wall time.</param>
public sealed record StreamingSummary(TilePlan Plan, int TileRows, int Tiles, int BandRows, double Seconds);

/// <summary>
/// Overlap-tile prediction of an image that is never held whole (<see cref="ITileSource"/>, e.g. a TIFF on disk):
/// the tiles of <see cref="OverlapTile"/>'s plan are read one by one with their mirrored margin, batched in the same
/// row-major order, run under no_grad in a dispose scope per batch, and stitched into a band of rows one tile output
/// high and the image wide. When a row of tiles is done, the rows that no later tile touches are final and handed to
/// the caller, top to bottom; the rest of the band is carried into the next one. Memory: one batch of tiles and its
/// activations, and the band ((classes, band rows, width) floats, twice, plus a weight sum in Gaussian mode): a band
/// of tiles, never the image.
/// <para>
/// The result equals <see cref="OverlapTile.Predict"/> on the whole image bit for bit, in both modes: the same plan,
/// the same windows, the same batches, and the same stitching arithmetic in the same order (exact mode: later tiles
/// overwrite the few shared rows and columns as in memory; Gaussian mode: the same weighted sums, carried across bands
/// for rows that two tile rows cover). 2-D nets only.
/// </para>
/// </summary>
public sealed class StreamingOverlapTile
{
    /// <summary>A streamed predictor for <paramref name="network"/>; <paramref name="engine"/> computes the tiles (the network itself when null).</summary>
    public StreamingOverlapTile(Network network, TileOptions? options = null, ITileEngine? engine = null)
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        Options = options ?? new TileOptions();
        Options.Validate();
        Engine = engine ?? new NetworkEngine(network);
    }

    /// <summary>The network whose description plans the tiles.</summary>
    public Network Network { get; }

    /// <summary>What computes each batch of tiles.</summary>
    public ITileEngine Engine { get; }

    /// <summary>The tiling settings.</summary>
    public TileOptions Options { get; }

    /// <summary>The tiles for an image of <paramref name="height"/> x <paramref name="width"/> (the in-memory tiler's plan).</summary>
    public TilePlan Plan(int height, int width) => TilePlan.For(Network, [height, width], Options);

    /// <summary>
    /// Predicts every pixel of <paramref name="source"/> and hands the result to <paramref name="rows"/> in blocks of
    /// finished rows, top to bottom: (first row, (classes, n, width) float32 CPU tensor of probabilities or logits, see
    /// <see cref="TileOptions.Output"/>). The block is a view of the band and valid during the call only; copy what
    /// should outlive it. The network runs in eval mode and gets its mode back.
    /// </summary>
    /// <param name="source">The image, read window by window.</param>
    /// <param name="rows">Receives each block of finished rows.</param>
    /// <param name="plan">The plan when the caller made one (<see cref="Plan"/>).</param>
    /// <param name="rowDone">Called after each row of tiles with (rows of tiles done, rows of tiles in all); null for none.</param>
    /// <exception cref="ArgumentException">A 3-D net, or a channel count that differs from the network's.</exception>
    public StreamingSummary Predict(ITileSource source, Action<int, Tensor> rows, TilePlan? plan = null, Action<int, int>? rowDone = null)
    {
        NativeRuntime.EnsureLoaded();
        if (source is null) throw new ArgumentNullException(nameof(source));
        if (rows is null) throw new ArgumentNullException(nameof(rows));
        if (Network.Dims != 2)
            throw new ArgumentException($"streamed prediction tiles 2-D images; this is a {Network.Dims}-D net (predict volumes in memory)");
        if (source.Channels != Network.InChannels)
            throw new ArgumentException($"the image has {source.Channels} channel(s) but the network expects {Network.InChannels}");
        int h = source.Height, w = source.Width, c = source.Channels;
        plan ??= Plan(h, w);
        if (plan.Offsets.Count != 2) throw new ArgumentException($"the plan has {plan.Offsets.Count} axes, a 2-D image 2");
        Allocator.KeepHeap();
        var watch = Stopwatch.StartNew();
        var tileRows = plan.Rows;
        var tiles = plan.Tiles().ToArray();
        var perRow = plan.Columns.Count;
        var bandRows = Math.Min(plan.OutputSize, h);
        var gaussian = plan.Mode == TileMode.Gaussian;
        var timings = Options.Timings;
        // Two bands: the rows of the current tile row, and the one its unfinished rows are carried into.
        var band = zeros([plan.Classes, bandRows, w], dtype: ScalarType.Float32, device: CPU);
        var spare = zeros([plan.Classes, bandRows, w], dtype: ScalarType.Float32, device: CPU);
        var weights = gaussian ? zeros([1, bandRows, w], dtype: ScalarType.Float32, device: CPU) : null;
        var spareWeights = gaussian ? zeros([1, bandRows, w], dtype: ScalarType.Float32, device: CPU) : null;
        using var importance = gaussian ? GaussianImportance.Map(plan.OutputSize, Options.SigmaScale, 2) : null;
        var batchSize = Math.Min(Options.BatchSize, tiles.Length);
        using var buffer = empty([batchSize, c, plan.TileSize, plan.TileSize], dtype: ScalarType.Float32, device: Engine.Device);
        var wasTraining = Network.training;
        Network.eval();
        var row = 0; // the tile row whose outputs the band holds; its first image row is tileRows[row]
        try
        {
            using var noGrad = no_grad();
            for (var first = 0; first < tiles.Length; first += batchSize)
            {
                var count = Math.Min(batchSize, tiles.Length - first);
                using var scope = NewDisposeScope();
                var t0 = Stopwatch.GetTimestamp();
                var x = count == batchSize ? buffer.alias() : buffer.narrow(0, 0, count);
                for (var j = 0; j < count; j++)
                {
                    var at = tiles[first + j];
                    var window = source.ReadWindow(at[0] - plan.Margin, at[1] - plan.Margin, plan.TileSize);
                    using var slot = x[j];
                    using var values = tensor(window, [c, plan.TileSize, plan.TileSize]);
                    slot.copy_(values);
                }
                t0 = OverlapTile.Lap(timings, TileStage.Assemble, t0);
                var host = OverlapTile.Scores(Engine, Options, x, ref t0);
                for (var j = 0; j < count; j++)
                {
                    var index = first + j;
                    var tileRow = index / perRow;
                    while (row < tileRow)
                    {
                        Finish(row, tileRows, h, band, weights, rows);
                        Carry(tileRows[row + 1] - tileRows[row], ref band, ref spare, ref weights, ref spareWeights);
                        row++;
                        rowDone?.Invoke(row, tileRows.Count);
                    }
                    var top = tileRows[row];
                    using var tile = host[j];
                    int[] start = [tiles[index][0] - top, tiles[index][1]];
                    OverlapTile.Accumulate(band, weights, importance, tile, start, plan.OutputSize, [Math.Min(bandRows, h - top), w]);
                }
                OverlapTile.Lap(timings, TileStage.Accumulate, t0);
                timings?.CountBatch();
                Options.Progress?.Invoke(first + count, tiles.Length);
            }
            using (NewDisposeScope()) Finish(row, tileRows, h, band, weights, rows);
            rowDone?.Invoke(tileRows.Count, tileRows.Count);
        }
        finally
        {
            Network.train(wasTraining);
            band.Dispose();
            spare.Dispose();
            weights?.Dispose();
            spareWeights?.Dispose();
        }
        return new StreamingSummary(plan, tileRows.Count, tiles.Length, bandRows, watch.Elapsed.TotalSeconds);
    }

    // The rows of tile row `row` that no later tile row touches: normalised (Gaussian) and handed on.
    private static void Finish(int row, System.Collections.Generic.IReadOnlyList<int> tileRows, int h, Tensor band, Tensor? weights, Action<int, Tensor> rows)
    {
        var top = tileRows[row];
        var end = row + 1 < tileRows.Count ? Math.Min(tileRows[row + 1], h) : h;
        if (end <= top) return;
        using var done = band.narrow(1, 0, end - top);
        if (weights is not null)
        {
            using var ws = weights.narrow(1, 0, end - top);
            done.div_(ws);
        }
        rows(top, done);
    }

    // Moves the band down by `step` rows: its rows from `step` on go to the top of the spare band, the rest is zeroed.
    private static void Carry(int step, ref Tensor band, ref Tensor spare, ref Tensor? weights, ref Tensor? spareWeights)
    {
        Shift(band, spare, step);
        (band, spare) = (spare, band);
        if (weights is null) return;
        Shift(weights, spareWeights!, step);
        (weights, spareWeights) = (spareWeights, weights);
    }

    private static void Shift(Tensor from, Tensor to, int step)
    {
        var n = (int)from.shape[1];
        var kept = Math.Max(0, n - step);
        if (kept > 0)
        {
            using var src = from.narrow(1, step, kept);
            using var dst = to.narrow(1, 0, kept);
            dst.copy_(src);
        }
        if (kept < n)
        {
            using var rest = to.narrow(1, kept, n - kept);
            rest.zero_();
        }
    }
}
