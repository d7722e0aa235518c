using System;
using CropCat.Architecture;
using CropCat.Shapes;
using TorchSharp;
using Padding = CropCat.Shapes.Padding;

namespace CropCat.Nets;

/// <summary>
/// milesial/Pytorch-UNet's <c>UNet(n_channels, n_classes, bilinear)</c> with CropCat's layers and names,
/// so its checkpoints load (layout <see cref="Interop.StateDictLayout.Carvana"/>) and compute the same
/// function: DoubleConv = (3x3 conv without bias, batch norm, ReLU) x 2; Down = 2x2 max-pool + DoubleConv;
/// widths 64, 128, 256, 512, 1024 (times <c>baseWidth / 64</c>); skip concatenated as [skip, up];
/// OutConv = 1x1 conv. Transposed (bilinear = False, its published Carvana model): a 2x2 transposed conv
/// halves the channels, then DoubleConv(in, out). Bilinear: the bottom has 1024/2 channels, up-sampling
/// has no parameters and each decoder DoubleConv(in, out, in/2) halves the channels in its second conv.
/// Pooling floors odd sizes and the up-sampled map is zero-padded to the skip's size (<see cref="Shapes.Merge.PadConcat"/>),
/// as in milesial's code, so any size from 16 on is taken.
/// </summary>
public static class MilesialUNet
{
    /// <summary>milesial's widths for <paramref name="baseWidth"/> (64 in milesial's code): base, 2 base, …, 16 base.</summary>
    public static int[] Widths(int baseWidth = 64) =>
        baseWidth >= 1 ? [baseWidth, 2 * baseWidth, 4 * baseWidth, 8 * baseWidth, 16 * baseWidth]
            : throw new ArgumentException($"MilesialUNet: baseWidth must be >= 1, got {baseWidth}");

    /// <summary>
    /// The options of the transposed configuration (bilinear = False) as a plain <see cref="UNet"/>: the
    /// same net at sizes that are multiples of 16; <see cref="Layers"/> also pads at other sizes.
    /// </summary>
    public static UNetOptions TransposedOptions(int inChannels = 3, int classes = 2, int baseWidth = 64) => new()
    {
        InChannels = inChannels,
        Classes = classes,
        Widths = Widths(baseWidth),
        Padding = Padding.Same,
        BatchNorm = true,
        Up = UpMode.Transposed,
        Pool = PoolMode.Floor,
        Merge = Merge.Concat,
    };

    /// <summary>The description of milesial's <c>UNet(inChannels, classes, bilinear)</c>.</summary>
    /// <param name="inChannels">n_channels (3 for RGB).</param>
    /// <param name="classes">n_classes: 1 (one sigmoid mask) or 2 and more (softmax classes).</param>
    /// <param name="bilinear">milesial's bilinear flag: false for transposed up-convolutions.</param>
    /// <param name="baseWidth">The width milesial hard-codes as 64; smaller for tests.</param>
    public static NetSpec Describe(int inChannels = 3, int classes = 2, bool bilinear = false, int baseWidth = 64)
    {
        var o = TransposedOptions(inChannels, classes, baseWidth);
        o.Validate();
        var w = o.Widths;
        const int depth = 4;
        // factor = 2 when bilinear: down4 gives 1024 / 2 channels, so the parameterless up-step keeps them.
        var factor = bilinear ? 2 : 1;
        Spec inner = new BlockSpec(w[depth] / factor, Padding.Same, BatchNorm: true);
        for (var k = depth; k >= 1; k--)
        {
            var enc = new BlockSpec(w[k - 1], Padding.Same, BatchNorm: true);
            // Up(w[k], ...): transposed w[k] -> w[k] / 2 = w[k-1]; bilinear keeps the w[k-1] channels that arrive.
            var up = bilinear ? new UpSpec(w[k - 1], UpMode.Interpolate) : new UpSpec(w[k - 1], UpMode.Transposed);
            // DoubleConv on [skip, up] = 2 w[k-1] channels: transposed (in, out); bilinear (in, out, mid = in // 2).
            var outC = k == 1 ? w[0] : w[k - 2] * 2 / factor;
            var dec = new BlockSpec(outC, Padding.Same, BatchNorm: true, Mid: bilinear ? w[k - 1] : null);
            inner = UNets.Level(enc, new PoolSpec(PoolMode.Floor), inner, up, Merge.PadConcat, dec);
        }
        return new NetSpec(inChannels, new ChainSpec(inner, new HeadSpec(classes)));
    }

    /// <summary>Builds milesial's net (see <see cref="Describe"/>) on <see cref="Runtime.Devices.Default"/> (or <paramref name="device"/>).</summary>
    public static Network Create(int inChannels = 3, int classes = 2, bool bilinear = false, int baseWidth = 64,
        TorchSharp.torch.Device? device = null) =>
        Network.Create(Describe(inChannels, classes, bilinear, baseWidth), "MilesialUNet", device);
}
