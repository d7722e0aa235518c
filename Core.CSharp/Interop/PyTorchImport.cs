using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using CropCat.Architecture;
using CropCat.Data;
using CropCat.Nets;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>A PyTorch state dict whose architecture CropCat cannot tell from its keys; the message lists keys it could not place.</summary>
public sealed class UnknownLayoutException : Exception
{
    /// <summary>Creates the error.</summary>
    public UnknownLayoutException(string message) : base(message) { }
}

/// <summary>
/// Builds the CropCat network that computes what the PyTorch code that wrote a state dict computes, from the
/// state dict alone: its layout from the key names, its widths, input channels and classes from the tensors'
/// shapes. The reading group's "U-Net in 60 lines" (<see cref="UNetOptions.ReadingGroup"/>) and
/// milesial/Pytorch-UNet (transposed or bilinear, <see cref="MilesialUNet"/>; other depths as the padded
/// batch-norm U-Net of the same layout) are known. The weights are then loaded with every key and shape checked.
/// </summary>
public static class PyTorchImport
{
    /// <summary>The description of the net that <paramref name="stateDict"/>'s code builds, and the layout of its names.</summary>
    /// <exception cref="UnknownLayoutException">Neither known layout, or shapes that do not fit one.</exception>
    public static (NetSpec Spec, StateDictLayout Layout) Describe(IReadOnlyDictionary<string, Tensor> stateDict, string source = "state dict")
    {
        var layout = StateDictLayouts.Detect(stateDict.Keys);
        return layout switch
        {
            StateDictLayout.ReadingGroup => (ReadingGroup(stateDict, source), layout),
            StateDictLayout.Carvana => (Milesial(stateDict, source), layout),
            StateDictLayout.Smp => (Smp(stateDict, source), layout),
            _ => throw new UnknownLayoutException(
                $"{source}: no known PyTorch U-Net layout (the reading group's encoder.enc_blocks.* / decoder.* / head.*, milesial's inc.* / downN.* / upN.* / outc.*, " +
                $"or segmentation_models_pytorch's Unet on a ResNet: encoder.* / decoder.blocks.* / segmentation_head.0.*); " +
                $"keys it could not place: {string.Join(", ", stateDict.Keys.Order(StringComparer.Ordinal).Take(8))}{(stateDict.Count > 8 ? $" and {stateDict.Count - 8} more" : "")}"),
        };
    }

    /// <summary>Builds the net for <paramref name="stateDict"/> and loads it (every key placed, every shape checked).</summary>
    /// <exception cref="UnknownLayoutException">The layout is not known.</exception>
    /// <exception cref="StateDictMismatchException">Keys or shapes do not fit the net the layout's code builds.</exception>
    public static (Network Network, LoadReport Report) Build(IReadOnlyDictionary<string, Tensor> stateDict, string source = "state dict")
    {
        var (spec, layout) = Describe(stateDict, source);
        var net = Network.Create(spec, layout switch
        {
            StateDictLayout.ReadingGroup => "ReadingGroupUNet",
            StateDictLayout.Smp => "SmpUNet",
            _ => "MilesialUNet",
        });
        try
        {
            return (net, StateDictLoader.LoadInto(net, stateDict, layout, source));
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>The label schema an imported net predicts by default: one sigmoid channel -> foreground; two classes -> 0/255; else class indices.</summary>
    public static LabelSchema DefaultLabels(NetSpec spec) => spec.OutChannels switch
    {
        1 => LabelSchema.Foreground,
        2 => LabelSchema.Binary255,
        var k => LabelSchema.Identity(k),
    };

    private static NetSpec ReadingGroup(IReadOnlyDictionary<string, Tensor> sd, string source)
    {
        var blocks = Indexed(sd, @"^encoder\.enc_blocks\.(\d+)\.conv1\.weight$");
        if (blocks.Count < 2) throw Refused(source, "the reading group's encoder needs at least two blocks (encoder.enc_blocks.0/1.conv1.weight)");
        var widths = blocks.Select(t => (int)t.shape[0]).ToArray();
        var inChannels = (int)blocks[0].shape[1];
        var classes = sd.TryGetValue("head.weight", out var head) ? (int)head.shape[0] : throw Refused(source, "no head.weight");
        return UNets.Describe(UNetOptions.ReadingGroup(widths, inChannels, classes));
    }

    private static NetSpec Milesial(IReadOnlyDictionary<string, Tensor> sd, string source)
    {
        var inc = sd.TryGetValue("inc.double_conv.0.weight", out var t) ? t : throw Refused(source, "no inc.double_conv.0.weight");
        var downs = Indexed(sd, @"^down(\d+)\.maxpool_conv\.1\.double_conv\.3\.weight$", first: 1);
        var baseWidth = (int)inc.shape[0];
        var inChannels = (int)inc.shape[1];
        var classes = sd.TryGetValue("outc.conv.weight", out var outc) ? (int)outc.shape[0] : throw Refused(source, "no outc.conv.weight");
        // Transposed up-steps have weights (up1.up.weight); bilinear ones have none.
        var bilinear = !sd.ContainsKey("up1.up.weight");
        if (downs.Count == 4) return MilesialUNet.Describe(inChannels, classes, bilinear, baseWidth);
        if (bilinear) throw Refused(source, $"a bilinear milesial net of depth {downs.Count}; CropCat builds milesial's bilinear net at depth 4 only");
        // The same layout at another depth: the padded batch-norm U-Net with transposed up-steps and plain concat.
        var widths = new[] { baseWidth }.Concat(downs.Select(d => (int)d.shape[0])).ToArray();
        return UNets.Describe(new UNetOptions
        {
            InChannels = inChannels,
            Classes = classes,
            Widths = widths,
            Padding = Padding.Same,
            BatchNorm = true,
            Up = UpMode.Transposed,
            Merge = Merge.Concat,
        });
    }

    /// <summary>
    /// smp's Unet on a torchvision ResNet: the encoder from the block counts (2,2,2,2 basic: resnet18; 3,4,6,3 basic:
    /// resnet34; 3,4,6,3 with conv3, the bottleneck: resnet50), input channels from encoder.conv1, the five decoder
    /// widths from decoder.blocks.N.conv2.0, the classes from segmentation_head.0 (a 3x3 conv, smp's default).
    /// </summary>
    private static NetSpec Smp(IReadOnlyDictionary<string, Tensor> sd, string source)
    {
        var stem = sd.TryGetValue("encoder.conv1.weight", out var c) ? c : throw Refused(source, "smp's layout (segmentation_head.0.*) without encoder.conv1.weight: only ResNet encoders are known");
        var bottleneck = sd.ContainsKey("encoder.layer1.0.conv3.weight");
        var blocks = Enumerable.Range(1, 4).Select(s => Indexed(sd, $@"^encoder\.layer{s}\.(\d+)\.conv1\.weight$").Count).ToArray();
        var encoder = Enum.GetValues<ResNetEncoder>().Cast<ResNetEncoder?>()
            .FirstOrDefault(e => ResNetUNets.Layout(e!.Value) is var (b, bn) && b.SequenceEqual(blocks) && bn == bottleneck)
            ?? throw Refused(source, $"an smp encoder of {(bottleneck ? "bottleneck" : "basic")} blocks {string.Join(", ", blocks)} per stage; CropCat knows resnet18 (basic 2, 2, 2, 2), resnet34 (basic 3, 4, 6, 3) and resnet50 (bottleneck 3, 4, 6, 3)");
        var decoder = Indexed(sd, @"^decoder\.blocks\.(\d+)\.conv2\.0\.weight$");
        if (decoder.Count != 5) throw Refused(source, $"smp's decoder has {decoder.Count} blocks (decoder.blocks.N.conv2.0.weight); CropCat builds encoder depth 5 (five blocks)");
        var head = sd.TryGetValue("segmentation_head.0.weight", out var h) ? h : throw Refused(source, "no segmentation_head.0.weight");
        if (head.dim() != 4 || head.shape[2] != 3 || head.shape[3] != 3)
            throw Refused(source, $"segmentation_head.0.weight has shape [{string.Join(", ", head.shape)}]; CropCat builds smp's default 3x3 head");
        return ResNetUNets.Describe(encoder, (int)head.shape[0], (int)stem.shape[1], decoder.Select(t => (int)t.shape[0]).ToArray());
    }

    /// <summary>The tensors of keys matching <paramref name="pattern"/> (one index group) in index order; indices must run from <paramref name="first"/> without gaps.</summary>
    private static List<Tensor> Indexed(IReadOnlyDictionary<string, Tensor> sd, string pattern, int first = 0)
    {
        var found = new SortedDictionary<int, Tensor>();
        foreach (var (k, v) in sd)
            if (Regex.Match(k, pattern) is { Success: true } m) found[int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)] = v;
        var list = new List<Tensor>();
        for (var i = first; found.TryGetValue(i, out var v); i++) list.Add(v);
        return list;
    }

    private static UnknownLayoutException Refused(string source, string what) => new($"{source}: {what}");
}
