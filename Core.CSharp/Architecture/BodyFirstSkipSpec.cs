using System;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// y = cat([body x, x]) on channels, equal sizes required: the merge of segmentation_models_pytorch's
/// U-Net decoder, which puts the up-sampled decoder feature first and the encoder's skip feature second
/// (<see cref="SkipSpec"/> with <see cref="Merge.Concat"/> puts x first). The order matters for weights:
/// the next convolution's input channels are read in this order.
/// </summary>
/// <param name="Body">What the skip goes around.</param>
public sealed record BodyFirstSkipSpec(Spec Body) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Skip;

    /// <inheritdoc />
    public override System.Collections.Generic.IReadOnlyList<Spec> Children => [Body];

    /// <inheritdoc />
    public override string Kind(int dims) => "ConcatBodyFirst";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        var b = Body.Channels(node.Children[0], inChannels);
        return b.Error is not null ? b : ChannelsResult.Ok(b.Channels + inChannels);
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (Body.Infer(node.Children[0], input, state) is not { } b) return null;
        if (state.Rule(node.Path, ShapeRules.MergeShapes(input, b, Merge.Concat)) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, 0);
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => Body.Parameters(node.Children[0], inChannels, dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new BodyFirstSkip(node.Path, Body.Build(node.Children[0], inChannels, dims));

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (0, Math.Max(0, Body.Resolution(node.Children[0]).Deepest));
}
