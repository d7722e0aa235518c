using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// The convolutions of segmentation_models_pytorch's U-Net decoder block N: two padded 3x3 convolutions
/// (no bias) each with batch norm and ReLU (n -> n), to <see cref="Width"/> channels. Parameters are smp's
/// "decoder.blocks.N.conv1.0.weight" (conv), "decoder.blocks.N.conv1.1.weight" (batch norm), likewise conv2.
/// The up-sampling and the concat before it are <see cref="NearestUpSpec"/> and <see cref="BodyFirstSkipSpec"/>.
/// </summary>
/// <param name="Index">smp's block number N (0 is the deepest).</param>
/// <param name="Width">Output channels of both convolutions.</param>
public sealed record SmpDecoderBlockSpec(int Index, int Width) : Spec
{
    /// <summary>The block's two convolutions for <paramref name="inChannels"/> input channels (named "conv1", "conv2").</summary>
    public ResNetConv[] Convs(int inChannels) => [new("conv1", inChannels, Width, 3, 1, 1), new("conv2", Width, Width, 3, 1, 1)];

    /// <summary>The parameter scope, "decoder.blocks.N".</summary>
    public string Scope => $"decoder.blocks.{Index}";

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Block;

    /// <inheritdoc />
    public override string Kind(int dims) => "Conv3x3+BN+ReLU";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        if (Index < 0) return ChannelsResult.Fail(node.Path, $"a decoder block's index is 0 or more, got {Index}");
        return Width < 1 ? ChannelsResult.Fail(node.Path, $"a decoder block needs at least 1 output channel, got {Width}") : ChannelsResult.Ok(Width);
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        Shape? x = input;
        foreach (var c in Convs(input.Channels))
        {
            var path = $"{node.Path} / {Scope}.{c.Name}";
            if (state.Rule(path, StridedRules.Conv(x.Value, c.In, c.Out, c.Kernel, c.Stride, c.Padding)) is not { } y) return null;
            state.Row(path, Kind(input.Dims), y, c.Parameters(input.Dims));
            x = y;
        }
        return x;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims)
    {
        var c = Convs(inChannels);
        return c[0].Parameters(dims) + c[1].Parameters(dims);
    }

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new SmpDecoderBlock(node.Path, Scope, Convs(inChannels), dims);
}
