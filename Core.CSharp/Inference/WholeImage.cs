using System;
using System.Linq;
using CropCat.Nets;
using CropCat.Runtime;
using static TorchSharp.torch;
using CropCat.Numerics;

namespace CropCat.Inference;

/// <summary>
/// One forward pass over a whole image, mirror-padded by the net's margin and up to a valid input size,
/// then cropped back: the right-hand side of the overlap-tile law, and the fast path for images whose
/// activations fit in memory. Memory grows with the image; use <see cref="OverlapTile"/> for large ones.
/// </summary>
public static class WholeImage
{
    /// <summary>
    /// Predicts a (C, H, W) or (H, W) image (3-D nets: (C, D, H, W) or (D, H, W)) in one pass; returns a
    /// (classes, spatial...) float32 CPU tensor of probabilities or logits. The padding keeps the tiler's
    /// grid: the margin before each axis, the rest after it, so the result equals
    /// <see cref="OverlapTile.Predict"/> for unpadded nets.
    /// </summary>
    public static Tensor Predict(Network net, Tensor image, TileOutput output = TileOutput.Probabilities)
    {
        NativeRuntime.EnsureLoaded();
        var dims = net.Dims;
        if (image.dim() != dims && image.dim() != dims + 1)
            throw new ArgumentException($"whole-image prediction with a {dims}-D net expects (C, spatial...) or (spatial...), got shape [{string.Join(", ", image.shape)}]");
        var extents = image.shape[^dims..].Select(e => (int)e).ToArray();
        // The tile chooser with a request covering the image gives a valid size and the net's margin.
        var probe = TilePlan.ChooseTileSize(net, 1);
        var margin = (probe.Tile - probe.Output.Width) / 2;
        var padded = extents.Select(n => TilePlan.ChooseTileSize(net, n + 2 * margin).Tile).ToArray();
        var wasTraining = net.training;
        net.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var x = image.dim() == dims ? image.unsqueeze(0) : image;
            if (x.shape[0] != net.InChannels)
                throw new ArgumentException($"the image has {x.shape[0]} channel(s) but the network expects {net.InChannels}");
            var input = Mirror.Pad(x.to(ScalarType.Float32).cpu(), extents.Select((n, a) => (margin, padded[a] - n - margin)).ToArray());
            var y = net.forward(input.unsqueeze(0).to(OverlapTile.DeviceOf(net)));
            if (output == TileOutput.Probabilities) y = ClassProbabilities.Of(y);
            var cropped = Views.Box(y[0], new long[dims], extents.Select(e => (long)e).ToArray());
            return cropped.to(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();
        }
        finally
        {
            net.train(wasTraining);
        }
    }
}
