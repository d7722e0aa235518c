using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>The torchvision ResNets CropCat builds as U-Net encoders.</summary>
public enum ResNetEncoder
{
    /// <summary>BasicBlocks 2, 2, 2, 2.</summary>
    ResNet18,

    /// <summary>BasicBlocks 3, 4, 6, 3.</summary>
    ResNet34,

    /// <summary>Bottlenecks 3, 4, 6, 3.</summary>
    ResNet50,
}

/// <summary>
/// The U-Net of segmentation_models_pytorch (<c>smp.Unet(encoder_name="resnet34")</c>, encoder depth 5) as a
/// CropCat description: torchvision's ResNet trunk (stem, layer1 ... layer4; no average pool, no fc) as the
/// encoder, and smp's decoder: for block N, nearest x2 up-sampling, concat [up, skip] with the encoder
/// feature of that scale (none for the last block), two conv3x3-BN-ReLU; then a 3x3 head. Sizes must be
/// multiples of 32 (five halvings that the decoder's concats must meet exactly).
/// </summary>
public static class ResNetUNets
{
    /// <summary>The prefix of the encoder's parameter names ("encoder.conv1.weight", "encoder.layer2.0.bn1.bias"), smp's naming.</summary>
    public const string EncoderPrefix = "encoder.";

    /// <summary>smp's default decoder widths, deepest block first.</summary>
    public static readonly IReadOnlyList<int> DefaultDecoder = [256, 128, 64, 32, 16];

    /// <summary>Blocks per stage and whether they are bottlenecks.</summary>
    public static (int[] Blocks, bool Bottleneck) Layout(ResNetEncoder encoder) => encoder switch
    {
        ResNetEncoder.ResNet18 => ([2, 2, 2, 2], false),
        ResNetEncoder.ResNet34 => ([3, 4, 6, 3], false),
        ResNetEncoder.ResNet50 => ([3, 4, 6, 3], true),
        _ => throw new ArgumentOutOfRangeException(nameof(encoder), encoder, "unknown ResNet"),
    };

    /// <summary>The name torchvision and smp use: "resnet18", "resnet34", "resnet50".</summary>
    public static string Name(ResNetEncoder encoder) => encoder.ToString().ToLowerInvariant();

    /// <summary>The encoder named <paramref name="name"/> ("resnet34"), or null.</summary>
    public static ResNetEncoder? Parse(string name) =>
        Enum.GetValues<ResNetEncoder>().Cast<ResNetEncoder?>().FirstOrDefault(e => Name(e!.Value) == name.Trim().ToLowerInvariant());

    /// <summary>torchvision's four stages of <paramref name="encoder"/> (widths 64, 128, 256, 512).</summary>
    /// <remarks><paramref name="sizes"/>: Strict for the U-Net (even sizes before every halving), Floor for torchvision's trunk alone.</remarks>
    public static ResNetStageSpec[] Stages(ResNetEncoder encoder, PoolMode sizes = PoolMode.Strict)
    {
        var (blocks, bottleneck) = Layout(encoder);
        return Enumerable.Range(0, 4).Select(i => new ResNetStageSpec(i + 1, blocks[i], 64 << i, bottleneck, sizes)).ToArray();
    }

    /// <summary>The encoder alone (stem and four stages) with torchvision's size arithmetic (any size of at least 1), for tests against torchvision's trunk.</summary>
    public static NetSpec Encoder(ResNetEncoder encoder, int inChannels = 3) =>
        new(inChannels, new ChainSpec([new ResNetStemSpec(64, PoolMode.Floor), .. Stages(encoder, PoolMode.Floor)]));

    /// <summary>
    /// The smp U-Net on <paramref name="encoder"/> with <paramref name="classes"/> outputs and five <paramref name="decoder"/>
    /// widths (default 256, 128, 64, 32, 16). With <paramref name="normalization"/> (e.g. <see cref="InputNormalization.ImageNet"/>
    /// for ImageNet encoder weights, adapted by <see cref="InputNormalization.ForChannels"/>) the net normalises its input
    /// itself; without, it computes smp's module on inputs normalised beforehand.
    /// </summary>
    /// <exception cref="ArgumentException">Not five decoder widths.</exception>
    public static NetSpec Describe(ResNetEncoder encoder, int classes, int inChannels = 3, IReadOnlyList<int>? decoder = null, InputNormalization? normalization = null)
    {
        var widths = decoder ?? DefaultDecoder;
        if (widths.Count != 5)
            throw new ArgumentException($"the ResNet U-Net has five decoder blocks (encoder depth 5), got {widths.Count} widths ({string.Join(", ", widths)})", nameof(decoder));
        var stages = Stages(encoder);
        // Innermost first: layer4 up-sampled, merged with layer3's feature, decoded by block 0, and so outwards.
        Spec inner = new ChainSpec(stages[3], new NearestUpSpec());
        for (var s = 2; s >= 0; s--)
            inner = new ChainSpec(stages[s], new BodyFirstSkipSpec(inner), new SmpDecoderBlockSpec(2 - s, widths[2 - s]), new NearestUpSpec());
        var body = new ChainSpec(
            new ResNetStemSpec(),
            new BodyFirstSkipSpec(inner),
            new SmpDecoderBlockSpec(3, widths[3]),
            new NearestUpSpec(),
            new SmpDecoderBlockSpec(4, widths[4]),
            new SmpHeadSpec(classes));
        return new NetSpec(inChannels, body) { Normalization = normalization };
    }
}
