using System;
using CropCat.Nets;
using CropCat.Runtime;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// One forward pass over a whole image, mirror-padded by the net's margin and up to a valid input size,
/// then cropped back: the right-hand side of the overlap-tile law, and the fast path for images whose
/// activations fit in memory. Memory grows with the image; use <see cref="OverlapTile"/> for large ones.
/// </summary>
public static class WholeImage
{
    /// <summary>
    /// Predicts a (C, H, W) or (H, W) image in one pass; returns a (classes, H, W) float32 CPU tensor of
    /// probabilities or logits. The padding keeps the tiler's grid: the margin on the top/left, the rest
    /// on the bottom/right, so the result equals <see cref="OverlapTile.Predict"/> for unpadded nets.
    /// </summary>
    public static Tensor Predict(Network net, Tensor image, TileOutput output = TileOutput.Probabilities)
    {
        NativeRuntime.EnsureLoaded();
        if (image.dim() is not (2 or 3))
            throw new ArgumentException($"whole-image prediction expects an image (C, H, W) or (H, W), got shape [{string.Join(", ", image.shape)}]");
        var h = (int)image.shape[^2];
        var w = (int)image.shape[^1];
        // The tile chooser with a request covering the image gives a valid size and the net's margin.
        var probe = TilePlan.ChooseTileSize(net, 1);
        var margin = (probe.Tile - probe.Output.Height) / 2;
        var ph = TilePlan.ChooseTileSize(net, h + 2 * margin).Tile;
        var pw = TilePlan.ChooseTileSize(net, w + 2 * margin).Tile;
        var wasTraining = net.training;
        net.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var x = image.dim() == 2 ? image.unsqueeze(0) : image;
            if (x.shape[0] != net.InChannels)
                throw new ArgumentException($"the image has {x.shape[0]} channel(s) but the network expects {net.InChannels}");
            var padded = Mirror.Pad(x.to(ScalarType.Float32).cpu(), margin, ph - h - margin, margin, pw - w - margin);
            var y = net.forward(padded.unsqueeze(0).to(OverlapTile.DeviceOf(net)));
            if (output == TileOutput.Probabilities) y = y.softmax(1);
            var cropped = y[0].narrow(1, 0, h).narrow(2, 0, w).to(ScalarType.Float32).cpu().contiguous();
            return cropped.MoveToOuterDisposeScope();
        }
        finally
        {
            net.train(wasTraining);
        }
    }
}
