using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// torchvision's ResNet stem: a 7x7 stride-2 convolution with zero padding 3 (no bias) to
/// <see cref="Width"/> channels, batch norm, ReLU (n -> ceil(n/2) per axis). Its parameters are
/// torchvision's "conv1" and "bn1" under "encoder." ("encoder.conv1.weight"), as in
/// segmentation_models_pytorch. 2-D only.
/// </summary>
/// <param name="Width">Output channels (64 in every torchvision ResNet).</param>
/// <param name="Sizes">
/// Strict (the U-Net) refuses odd sizes: a halving of an odd size could not be met by the decoder's x2
/// up-sampling, which is why smp asks for multiples of 32. Floor is torchvision's arithmetic (ceil(n/2) here).
/// </param>
public sealed record ResNetStemSpec(int Width = 64, PoolMode Sizes = PoolMode.Strict) : Spec
{
    /// <summary>The stem's convolution.</summary>
    public ResNetConv Conv(int inChannels) => new("conv1", inChannels, Width, 7, 2, 3);

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Block;

    /// <inheritdoc />
    public override string Kind(int dims) => "Conv7x7/2+BN+ReLU";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) =>
        Width < 1 ? ChannelsResult.Fail(node.Path, $"the ResNet stem needs at least 1 output channel, got {Width}") : ChannelsResult.Ok(Width);

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (input.Dims != 2) return state.Rule(node.Path, ShapeResult.Fail($"the ResNet encoder is 2-D, got a {input.Dims}-D input"));
        if (state.Rule(node.Path, StridedRules.Halving(input, Sizes, "the ResNet stem")) is null) return null;
        var c = Conv(input.Channels);
        if (state.Rule($"{node.Path} / encoder.conv1", StridedRules.Conv(input, c.In, c.Out, c.Kernel, c.Stride, c.Padding)) is not { } y) return null;
        state.Row($"{node.Path} / encoder.conv1", Kind(2), y, c.Parameters(2));
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => Conv(inChannels).Parameters(dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new ResNetStem(node.Path, Conv(inChannels));

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (-1, 1);
}
