using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Nets;
using CropCat.Runtime;
using TorchSharp;
using static TorchSharp.torch;

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
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        Options = options ?? new TileOptions();
        Options.Validate();
    }

    /// <summary>The network that predicts each tile.</summary>
    public Network Network { get; }

    /// <summary>The tiling settings.</summary>
    public TileOptions Options { get; }

    /// <summary>The tiles for an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public TilePlan Plan(int height, int width) => TilePlan.For(Network, height, width, Options);

    /// <summary>
    /// Predicts every pixel of <paramref name="image"/>, a (C, H, W) tensor or, for one channel, (H, W).
    /// Returns a new (classes, H, W) float32 CPU tensor of probabilities (or logits, see
    /// <see cref="TileOptions.Output"/>) that the caller owns. The network runs in eval mode for the call
    /// and gets its previous mode back afterwards. Any H, W >= 1 work, including images smaller than a tile
    /// and single rows (whose mirror extension repeats the row).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong rank, channel count that differs from the network's, or an empty image.</exception>
    public Tensor Predict(Tensor image)
    {
        NativeRuntime.EnsureLoaded();
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (image.dim() is not (2 or 3))
            throw new ArgumentException($"overlap-tile prediction expects an image (C, H, W) or (H, W), got shape [{string.Join(", ", image.shape)}]");
        var channels = image.dim() == 2 ? 1 : (int)image.shape[0];
        if (channels != Network.InChannels)
            throw new ArgumentException($"the image has {channels} channel(s) (shape [{string.Join(", ", image.shape)}]) but the network expects {Network.InChannels}");
        var height = (int)image.shape[^2];
        var width = (int)image.shape[^1];
        var plan = Plan(height, width);
        Allocator.KeepHeap();

        using var source = AsCpuFloat(image);
        var result = zeros(plan.Classes, height, width, dtype: ScalarType.Float32, device: CPU);
        using var weightSum = plan.Mode == TileMode.Gaussian ? zeros(1, height, width, dtype: ScalarType.Float32, device: CPU) : null;
        using var importance = plan.Mode == TileMode.Gaussian ? GaussianImportance.Map(plan.OutputSize, Options.SigmaScale) : null;
        var device = DeviceOf(Network);
        var tiles = (from r in plan.Rows from c in plan.Columns select (Row: r, Col: c)).ToArray();
        var wasTraining = Network.training;
        Network.eval();
        try
        {
            using var noGrad = no_grad();
            for (var first = 0; first < tiles.Length; first += Options.BatchSize)
            {
                var batch = tiles.Skip(first).Take(Options.BatchSize).ToArray();
                // One scope per batch: the tiles, their activations and the CPU copy die before the next batch.
                using var scope = NewDisposeScope();
                var inputs = batch.Select(t => Mirror.Window(source, t.Row - plan.Margin, t.Col - plan.Margin, plan.TileSize, plan.TileSize)).ToArray();
                var x = stack(inputs, 0).to(device);
                var y = Network.forward(x);
                if (Options.Output == TileOutput.Probabilities) y = y.softmax(1);
                var host = y.to(ScalarType.Float32).cpu();
                for (var j = 0; j < batch.Length; j++)
                    Accumulate(result, weightSum, importance, host[j], batch[j].Row, batch[j].Col, plan.OutputSize, height, width);
                Options.Progress?.Invoke(first + batch.Length, tiles.Length);
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

    /// <summary>The class of highest score per pixel of a (classes, H, W) tensor: an (H, W) int64 tensor.</summary>
    public static Tensor ClassMap(Tensor scores)
    {
        if (scores.dim() != 3) throw new ArgumentException($"a class map needs (classes, H, W) scores, got shape [{string.Join(", ", scores.shape)}]");
        return scores.argmax(0, false);
    }

    /// <summary>The device of the network's first parameter (the CPU for a net without parameters).</summary>
    public static Device DeviceOf(Network network)
    {
        foreach (var p in network.parameters()) return p.device;
        return CPU;
    }

    // Exact: copy the tile's output (clipped to the image). Gaussian: add weight * output and the weight.
    private static void Accumulate(Tensor result, Tensor? weightSum, Tensor? importance, Tensor tile,
        int row, int col, int size, int height, int width)
    {
        var h = Math.Min(size, height - row);
        var w = Math.Min(size, width - col);
        using var src = tile.narrow(1, 0, h).narrow(2, 0, w);
        using var dst = result.narrow(1, row, h).narrow(2, col, w);
        if (importance is null)
        {
            dst.copy_(src);
            return;
        }
        using var weight = importance.narrow(1, 0, h).narrow(2, 0, w);
        using var weighted = src * weight;
        dst.add_(weighted);
        using var ws = weightSum!.narrow(1, row, h).narrow(2, col, w);
        ws.add_(weight);
    }

    private static Tensor AsCpuFloat(Tensor image)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == 2 ? image.unsqueeze(0) : image.alias();
        var cpu = t.to(ScalarType.Float32).cpu().contiguous();
        return cpu.MoveToOuterDisposeScope();
    }
}
