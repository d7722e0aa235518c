using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace CropCat.Interop;

/// <summary>The parameter naming of a state dict: CropCat's own or one of the classic PyTorch U-Net codes.</summary>
public enum StateDictLayout
{
    /// <summary>Recognise the layout from the keys.</summary>
    Auto,

    /// <summary>
    /// CropCat's names: enc{k}.conv1/bn1/conv2/bn2.*, bottom.*, dec{k}.up.*, dec{k}.conv1/…, head.*
    /// (k = 1 at the top level), skip concatenated as [skip, up].
    /// </summary>
    CropCat,

    /// <summary>
    /// The reading group's "U-Net in 60 lines" (Block / Encoder / Decoder):
    /// encoder.enc_blocks.{i}.conv1|conv2 (i = 0 at the top; the last block is the bottom),
    /// decoder.upconvs.{i} and decoder.dec_blocks.{i}.conv1|conv2 (i = 0 at the bottom-most level),
    /// head. It concatenates [up, skip], so the input channels of every decoder conv1 weight are
    /// swapped into CropCat's [skip, up] order. Its Block has no ReLU after conv2 and its
    /// retain_dim option resizes the output: the weights map one to one, the function differs there.
    /// </summary>
    ReadingGroup,

    /// <summary>
    /// milesial/Pytorch-UNet, the popular Carvana implementation (UNet with DoubleConv / Down / Up /
    /// OutConv): inc.double_conv.{0,1,3,4}, down{n}.maxpool_conv.1.double_conv.*, up{n}.up (transposed
    /// only; bilinear up-sampling has no parameters), up{n}.conv.double_conv.*, outc.conv — indices 0/3
    /// are the convolutions, 1/4 their batch norms. It concatenates [skip, up] like CropCat. Build the
    /// CropCat net with <see cref="Nets.MilesialUNet.Create"/> (either configuration); conv biases of
    /// old checkpoints are folded into batch norm (<see cref="BiasFold"/>).
    /// </summary>
    Carvana,

    /// <summary>
    /// segmentation_models_pytorch's <c>Unet(encoder_name="resnet18|34|50")</c>: encoder.* (torchvision's ResNet keys:
    /// encoder.conv1, encoder.bn1, encoder.layer1..4), decoder.blocks.N.conv1|conv2.0 (conv) / .1 (batch norm),
    /// segmentation_head.0. These are the names of CropCat's ResNet U-Net (<see cref="Architecture.ResNetUNets"/>),
    /// so they map one to one; it concatenates [up, skip] (<see cref="Architecture.BodyFirstSkipSpec"/>).
    /// </summary>
    Smp,
}

/// <summary>Where one source key goes in a CropCat net, and whether its input channels must be reordered.</summary>
/// <param name="Target">CropCat's parameter or buffer name.</param>
/// <param name="SwapInputHalves">Swap the two halves of dimension 1 ([up, skip] to [skip, up]).</param>
public sealed record KeyMapping(string Target, bool SwapInputHalves);

/// <summary>
/// The documented key mappings between PyTorch U-Net layouts and CropCat's names, both ways.
/// The <c>depth</c> argument of every function is the number of down-steps (4 for the paper's net).
/// </summary>
public static class StateDictLayouts
{
    private static readonly string[] CarvanaParts = ["conv1", "bn1", null!, "conv2", "bn2"];

    /// <summary>The layout whose characteristic names appear in <paramref name="keys"/> (CropCat when none does).</summary>
    public static StateDictLayout Detect(IEnumerable<string> keys)
    {
        var ks = keys.ToList();
        if (ks.Any(k => k.StartsWith("encoder.enc_blocks.", StringComparison.Ordinal))) return StateDictLayout.ReadingGroup;
        if (ks.Any(k => k.StartsWith("inc.double_conv.", StringComparison.Ordinal))) return StateDictLayout.Carvana;
        if (ks.Any(k => k.StartsWith("segmentation_head.0.", StringComparison.Ordinal))) return StateDictLayout.Smp;
        return StateDictLayout.CropCat;
    }

    /// <summary>CropCat's name for <paramref name="key"/> of <paramref name="layout"/>, or null when the key has no place in a CropCat net.</summary>
    public static KeyMapping? ToCropCat(string key, StateDictLayout layout, int depth)
    {
        Match m;
        switch (layout)
        {
            case StateDictLayout.CropCat:
            case StateDictLayout.Auto:
            case StateDictLayout.Smp:
                return new KeyMapping(key, false);
            case StateDictLayout.ReadingGroup:
                if ((m = Regex.Match(key, @"^encoder\.enc_blocks\.(\d+)\.(conv[12])\.(weight|bias)$")).Success)
                {
                    var i = Int(m, 1);
                    if (i > depth) return null;
                    return new KeyMapping($"{(i < depth ? $"enc{i + 1}" : "bottom")}.{m.Groups[2].Value}.{m.Groups[3].Value}", false);
                }
                if ((m = Regex.Match(key, @"^decoder\.upconvs\.(\d+)\.(weight|bias)$")).Success)
                    return Int(m, 1) < depth ? new KeyMapping($"dec{depth - Int(m, 1)}.up.{m.Groups[2].Value}", false) : null;
                if ((m = Regex.Match(key, @"^decoder\.dec_blocks\.(\d+)\.(conv[12])\.(weight|bias)$")).Success)
                    return Int(m, 1) < depth
                        ? new KeyMapping($"dec{depth - Int(m, 1)}.{m.Groups[2].Value}.{m.Groups[3].Value}",
                            m.Groups[2].Value == "conv1" && m.Groups[3].Value == "weight")
                        : null;
                if ((m = Regex.Match(key, @"^head\.(weight|bias)$")).Success) return new KeyMapping(key, false);
                return null;
            case StateDictLayout.Carvana:
                if ((m = Regex.Match(key, @"^inc\.double_conv\.([0134])\.(.+)$")).Success)
                    return new KeyMapping($"enc1.{CarvanaParts[Int(m, 1)]}.{m.Groups[2].Value}", false);
                if ((m = Regex.Match(key, @"^down(\d+)\.maxpool_conv\.1\.double_conv\.([0134])\.(.+)$")).Success)
                {
                    var n = Int(m, 1);
                    if (n < 1 || n > depth) return null;
                    return new KeyMapping($"{(n < depth ? $"enc{n + 1}" : "bottom")}.{CarvanaParts[Int(m, 2)]}.{m.Groups[3].Value}", false);
                }
                if ((m = Regex.Match(key, @"^up(\d+)\.up\.(weight|bias)$")).Success)
                    return Int(m, 1) is var u && u >= 1 && u <= depth ? new KeyMapping($"dec{depth + 1 - u}.up.{m.Groups[2].Value}", false) : null;
                if ((m = Regex.Match(key, @"^up(\d+)\.conv\.double_conv\.([0134])\.(.+)$")).Success)
                    return Int(m, 1) is var v && v >= 1 && v <= depth
                        ? new KeyMapping($"dec{depth + 1 - v}.{CarvanaParts[Int(m, 2)]}.{m.Groups[3].Value}", false)
                        : null;
                if ((m = Regex.Match(key, @"^outc\.conv\.(weight|bias)$")).Success) return new KeyMapping($"head.{m.Groups[1].Value}", false);
                return null;
            default:
                throw new ArgumentOutOfRangeException(nameof(layout), layout, null);
        }
    }

    /// <summary>
    /// The name of CropCat's <paramref name="cropCatKey"/> in <paramref name="layout"/> (the inverse of
    /// <see cref="ToCropCat"/>, with the same channel swap), or null when the layout has no such parameter.
    /// </summary>
    public static KeyMapping? FromCropCat(string cropCatKey, StateDictLayout layout, int depth)
    {
        if (layout is StateDictLayout.CropCat or StateDictLayout.Auto or StateDictLayout.Smp) return new KeyMapping(cropCatKey, false);
        var m = Regex.Match(cropCatKey, @"^(enc(\d+)|bottom|dec(\d+)|head)\.(?:(conv1|conv2|bn1|bn2|up)\.)?(.+)$");
        if (!m.Success) return null;
        var rest = m.Groups[5].Value;
        var part = m.Groups[4].Value;
        var scope = m.Groups[1].Value;
        int? enc = m.Groups[2].Success ? Int(m, 2) : null;
        int? dec = m.Groups[3].Success ? Int(m, 3) : null;
        if (layout == StateDictLayout.ReadingGroup)
        {
            if (part.StartsWith("bn", StringComparison.Ordinal)) return null;
            if (scope == "head") return part.Length == 0 ? new KeyMapping($"head.{rest}", false) : null;
            if (enc is { } e) return new KeyMapping($"encoder.enc_blocks.{e - 1}.{part}.{rest}", false);
            if (scope == "bottom") return new KeyMapping($"encoder.enc_blocks.{depth}.{part}.{rest}", false);
            if (dec is { } d)
                return part == "up"
                    ? new KeyMapping($"decoder.upconvs.{depth - d}.{rest}", false)
                    : new KeyMapping($"decoder.dec_blocks.{depth - d}.{part}.{rest}", part == "conv1" && rest == "weight");
            return null;
        }
        // Carvana
        var index = Array.IndexOf(CarvanaParts, part);
        if (scope == "head") return part.Length == 0 ? new KeyMapping($"outc.conv.{rest}", false) : null;
        if (enc == 1) return new KeyMapping($"inc.double_conv.{index}.{rest}", false);
        if (enc is { } en) return new KeyMapping($"down{en - 1}.maxpool_conv.1.double_conv.{index}.{rest}", false);
        if (scope == "bottom") return new KeyMapping($"down{depth}.maxpool_conv.1.double_conv.{index}.{rest}", false);
        if (dec is { } de)
            return part == "up"
                ? new KeyMapping($"up{depth + 1 - de}.up.{rest}", false)
                : new KeyMapping($"up{depth + 1 - de}.conv.double_conv.{index}.{rest}", false);
        return null;
    }

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
}
