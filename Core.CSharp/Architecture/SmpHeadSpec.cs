using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// segmentation_models_pytorch's segmentation head: one padded 3x3 convolution (with bias) to
/// <see cref="Classes"/> logits, n -> n, named "segmentation_head.0.weight/bias" (smp's head is a
/// Sequential of the conv, an identity up-sampling and an identity activation).
/// </summary>
/// <param name="Classes">Output channels: 1 for a sigmoid mask, 2 or more for softmax classes.</param>
public sealed record SmpHeadSpec(int Classes) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Head;

    /// <inheritdoc />
    public override string Kind(int dims) => $"Head{ShapeRules.Kernel(3, dims)}";

    /// <summary>Parameters: 3^N taps per input channel and class, plus one bias per class.</summary>
    public static long HeadParameters(int inChannels, int classes, int dims)
    {
        var taps = 1L;
        for (var a = 0; a < dims; a++) taps *= 3;
        return taps * inChannels * classes + classes;
    }

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) =>
        Classes < 1 ? ChannelsResult.Fail(node.Path, $"the head needs at least 1 class, got {Classes}") : ChannelsResult.Ok(Classes);

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (state.Rule(node.Path, StridedRules.Conv(input, input.Channels, Classes, 3, 1, 1)) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, HeadParameters(input.Channels, Classes, input.Dims));
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => HeadParameters(inChannels, Classes, dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new SmpHead(node.Path, dims, inChannels, Classes);
}
