using CropCat.Layers;
using CropCat.Shapes;
using TorchSharp;

namespace CropCat.Nets;

/// <summary>
/// Builds U-Nets as a fold over levels:
/// level k inner = enc_k >> skip merge (down >> inner >> up_k) >> dec_k, with the bottom block innermost.
/// </summary>
public static class UNet
{
    /// <summary>The layer tree of a U-Net with <paramref name="o"/>'s hyperparameters.</summary>
    public static Layer Layers(UNetOptions o)
    {
        o.Validate();
        var w = o.Widths;
        var depth = o.Depth;
        // Innermost first: the bottom block sits below the deepest down-step.
        Layer inner = new ConvBlock("bottom", "bottom", w[depth - 1], w[depth], o.Padding, o.BatchNorm, o.BottomDropout);
        for (var k = depth; k >= 1; k--)
        {
            var inC = k == 1 ? o.InChannels : w[k - 2];
            var lvl = $"level {k}";
            var enc = new ConvBlock($"{lvl} / enc", $"enc{k}", inC, w[k - 1], o.Padding, o.BatchNorm);
            var body = new Chain($"{lvl} / body",
                new MaxPoolDown($"{lvl} / down", o.Pool),
                inner,
                new Up($"{lvl} / up", $"dec{k}", w[k], w[k - 1], o.Up));
            var skip = new Skip($"{lvl} / merge", body, o.Merge);
            var decIn = o.Merge == Merge.Add ? w[k - 1] : 2 * w[k - 1];
            var dec = new ConvBlock($"{lvl} / dec", $"dec{k}", decIn, w[k - 1], o.Padding, o.BatchNorm);
            inner = new Chain(lvl, enc, skip, dec);
        }
        return new Chain("unet", inner, new Head("head", "head", w[0], o.Classes));
    }

    /// <summary>Builds the network on <see cref="Runtime.Devices.Default"/> (or <paramref name="device"/>).</summary>
    public static Network Create(UNetOptions options, TorchSharp.torch.Device? device = null)
    {
        var net = new Network(Layers(options), options.InChannels, "UNet");
        net.to(device ?? Runtime.Devices.Default);
        return net;
    }

    /// <summary>The paper's Fig. 1 network: 572x572 in, 388x388x2 out, 31,030,658 parameters.</summary>
    public static Network Paper(TorchSharp.torch.Device? device = null) => Create(UNetOptions.Paper, device);
}
