using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using CropCat.Nets;
using CropCat.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using CropCat.Numerics;

namespace CropCat.Inference;

/// <summary>
/// Segments images of any size tile by tile with the paper's overlap-tile strategy.
/// <para>
/// Exact mode (unpadded nets): the image is extended by mirroring, each input tile is larger than its
/// output by the net's lost border (92 px per side for the paper's net), tiles start at multiples of the
/// down-sampling factor 2^depth, and the valid centres are stitched. The result equals one forward pass
/// over the whole mirror-padded image (up to float rounding): every output pixel sees exactly its own
/// context, and aligned tiles pool the same 2x2 blocks as the whole image would.
/// </para>
/// <para>
/// Gaussian mode (padded nets): tiles overlap and are averaged with a Gaussian importance map, because a
/// zero-padded net sees false context near every tile border; the result is close to a whole-image
/// pass away from the tile borders, not equal to it.
/// </para>
/// <para>
/// Memory is bounded by the tile, not the image: besides the image and the (classes, H, W) CPU result
/// (plus an (H, W) weight sum in Gaussian mode), only one batch of tiles and its activations exist at a
/// time, inside a dispose scope under no_grad. Tiles go to the network's device; results come back to the CPU.
/// </para>
/// </summary>
public sealed class OverlapTile
{
    /// <summary>A predictor for <paramref name="network"/> with <paramref name="options"/> (defaults when null).</summary>
    public OverlapTile(Network network, TileOptions? options = null)
        : this(network, options, null) { }

    /// <summary>
    /// A predictor that plans from <paramref name="network"/>'s description and computes each batch of tiles
    /// with <paramref name="engine"/> (the network itself when null), e.g. ONNX Runtime on the exported graph.
    /// </summary>
    public OverlapTile(Network network, TileOptions? options, ITileEngine? engine)
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        Options = options ?? new TileOptions();
        Options.Validate();
        Engine = engine ?? new NetworkEngine(network);
    }

    /// <summary>The network whose description plans the tiles (and, with the default engine, predicts them).</summary>
    public Network Network { get; }

    /// <summary>What computes each batch of tiles.</summary>
    public ITileEngine Engine { get; }

    /// <summary>The tiling settings.</summary>
    public TileOptions Options { get; }

    /// <summary>The tiles for an input of the spatial <paramref name="extents"/> (2-D: height, width; 3-D: depth, height, width).</summary>
    public TilePlan Plan(params int[] extents) => TilePlan.For(Network, extents, Options);

    /// <summary>
    /// Predicts every pixel (voxel) of <paramref name="image"/>: (C, H, W) or, for one channel, (H, W) for a
    /// 2-D net; (C, D, H, W) or (D, H, W) for a 3-D net. Returns a new (classes, spatial...) float32 CPU
    /// tensor of probabilities (or logits, see <see cref="TileOptions.Output"/>) that the caller owns. The
    /// network runs in eval mode for the call and gets its previous mode back afterwards. Any sizes >= 1
    /// work, including inputs smaller than a tile and single rows (whose mirror extension repeats the row).
    /// </summary>
    /// <param name="image">The image or volume.</param>
    /// <param name="plan">The plan for this image when the caller already made one (<see cref="Plan"/>), so it is made once.</param>
    /// <exception cref="ArgumentException">Wrong rank, channel count that differs from the network's, or an empty image.</exception>
    public Tensor Predict(Tensor image, TilePlan? plan = null)
    {
        NativeRuntime.EnsureLoaded();
        if (image is null) throw new ArgumentNullException(nameof(image));
        var dims = Network.Dims;
        if (image.dim() != dims && image.dim() != dims + 1)
            throw new ArgumentException($"overlap-tile prediction with a {dims}-D net expects {(dims == 3 ? "a volume (C, D, H, W) or (D, H, W)" : "an image (C, H, W) or (H, W)")}, got shape [{string.Join(", ", image.shape)}]");
        var channels = image.dim() == dims ? 1 : (int)image.shape[0];
        if (channels != Network.InChannels)
            throw new ArgumentException($"the image has {channels} channel(s) (shape [{string.Join(", ", image.shape)}]) but the network expects {Network.InChannels}");
        var extents = image.shape[^dims..].Select(e => (int)e).ToArray();
        plan ??= Plan(extents);
        if (plan.Offsets.Count != dims) throw new ArgumentException($"the plan has {plan.Offsets.Count} axes, the input {dims}");
        Allocator.KeepHeap();

        using var source = AsCpuFloat(image, dims);
        var result = zeros([plan.Classes, .. extents.Select(e => (long)e)], dtype: ScalarType.Float32, device: CPU);
        using var weightSum = plan.Mode == TileMode.Gaussian ? zeros([1, .. extents.Select(e => (long)e)], dtype: ScalarType.Float32, device: CPU) : null;
        using var importance = plan.Mode == TileMode.Gaussian ? GaussianImportance.Map(plan.OutputSize, Options.SigmaScale, dims) : null;
        var device = Engine.Device;
        var tiles = plan.Tiles().ToArray();
        var timings = Options.Timings;
        var wasTraining = Network.training;
        Network.eval();
        // One input buffer for every batch, on the engine's device: each tile's window is written into its
        // slot (a view where the tile lies inside the image), so there is no per-tile tensor and no stack.
        var batchSize = Math.Min(Options.BatchSize, tiles.Length);
        using var buffer = empty([batchSize, channels, .. Enumerable.Repeat((long)plan.TileSize, dims)], dtype: ScalarType.Float32, device: device);
        try
        {
            using var noGrad = no_grad();
            for (var first = 0; first < tiles.Length; first += batchSize)
            {
                var count = Math.Min(batchSize, tiles.Length - first);
                // One scope per batch: the activations and the CPU result die before the next batch.
                using var scope = NewDisposeScope();
                var t0 = Stopwatch.GetTimestamp();
                var x = count == batchSize ? buffer.alias() : buffer.narrow(0, 0, count);
                for (var j = 0; j < count; j++)
                {
                    using var slot = x[j];
                    TileWindow.CopyInto(source, tiles[first + j].Select(o => (long)(o - plan.Margin)).ToArray(), plan.TileSize, slot);
                }
                t0 = Lap(timings, TileStage.Assemble, t0);
                t0 = Lap(timings, TileStage.Transfer, t0); // the buffer lives on the device: on a GPU the window copy is the transfer, timed as assembly
                var host = Scores(Engine, Options, x, ref t0);
                for (var j = 0; j < count; j++)
                {
                    using var tile = host[j];
                    Accumulate(result, weightSum, importance, tile, tiles[first + j], plan.OutputSize, extents);
                }
                Lap(timings, TileStage.Accumulate, t0);
                timings?.CountBatch();
                Options.Progress?.Invoke(first + count, tiles.Length);
            }
            if (weightSum is not null) result.div_(weightSum);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            Network.train(wasTraining);
        }
        return result;
    }

    /// <summary>
    /// The class per pixel of (classes, H, W) (or (classes, D, H, W)) probabilities: an int64 tensor without the class
    /// axis (the argmax; for a one-channel sigmoid head, probability >= <paramref name="threshold"/>). See <see cref="ClassProbabilities"/>.
    /// </summary>
    public static Tensor ClassMap(Tensor scores, double threshold = 0.5) => ClassProbabilities.ClassMap(scores, threshold);

    /// <summary>The device of the network's first parameter (the CPU for a net without parameters).</summary>
    public static Device DeviceOf(Network network)
    {
        foreach (var p in network.parameters()) return p.device;
        return CPU;
    }

    internal static long Lap(TileStageTimes? timings, TileStage stage, long since) =>
        timings is null ? since : timings.Lap(stage, since);

    // One batch of tiles through the engine, as float32 CPU scores (probabilities or logits, per options.Output),
    // with the forward, probabilities and copy-back stages timed from t0; the streamed path computes batches with this too.
    internal static Tensor Scores(ITileEngine engine, TileOptions options, Tensor batch, ref long t0)
    {
        var y = engine.Forward(batch);
        t0 = Lap(options.Timings, TileStage.Forward, t0);
        if (options.Output == TileOutput.Probabilities) y = ClassProbabilities.Of(y);
        t0 = Lap(options.Timings, TileStage.Probabilities, t0);
        var host = y.device_type == DeviceType.CPU && y.dtype == ScalarType.Float32 ? y : y.to(ScalarType.Float32).cpu();
        t0 = Lap(options.Timings, TileStage.CopyBack, t0);
        return host;
    }

    // Exact: copy the tile's output (clipped to the image). Gaussian: add weight * output and the weight.
    // The streamed path stitches with this too, into a band of rows, so both compute the same values.
    internal static void Accumulate(Tensor result, Tensor? weightSum, Tensor? importance, Tensor tile,
        int[] start, int size, int[] extents)
    {
        var lengths = start.Select((s, a) => (long)Math.Min(size, extents[a] - s)).ToArray();
        var origin = new long[lengths.Length];
        var at = start.Select(s => (long)s).ToArray();
        // Tiles and the importance map are read from their origin, the result written at the tile's start.
        Tensor Region(Tensor t, bool atOrigin) => Views.Box(t, atOrigin ? origin : at, lengths);
        using var src = Region(tile, true);
        using var dst = Region(result, false);
        if (importance is null)
        {
            dst.copy_(src);
            return;
        }
        using var weight = Region(importance, true);
        using var weighted = src * weight;
        dst.add_(weighted);
        using var ws = Region(weightSum!, false);
        ws.add_(weight);
    }

    private static Tensor AsCpuFloat(Tensor image, int dims)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == dims ? image.unsqueeze(0) : image.alias();
        var cpu = t.to(ScalarType.Float32).cpu().contiguous();
        return cpu.MoveToOuterDisposeScope();
    }
}
