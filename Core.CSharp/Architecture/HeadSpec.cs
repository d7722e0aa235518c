using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>The 1^N convolution from features to <see cref="Classes"/> class scores.</summary>
/// <param name="Classes">Output channels: 1 for a sigmoid mask, 2 or more for softmax classes.</param>
public sealed record HeadSpec(int Classes) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Head;

    /// <inheritdoc />
    public override string Kind(int dims) => $"Head{ShapeRules.Kernel(1, dims)}";

    /// <summary>Parameters of the head (weights plus one bias per class).</summary>
    public static long HeadParameters(int inChannels, int classes) => (long)inChannels * classes + classes;

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) =>
        Classes < 1 ? ChannelsResult.Fail(node.Path, $"the head needs at least 1 class, got {Classes}") : ChannelsResult.Ok(Classes);

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (state.Rule(node.Path, ShapeRules.Head1x1(input, input.Channels, Classes)) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, HeadParameters(input.Channels, Classes));
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => HeadParameters(inChannels, Classes);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) =>
        new Head(node.Path, node.Scope, dims, inChannels, Classes);
}
