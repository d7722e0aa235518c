using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// One stage of torchvision's ResNet, "layer1" ... "layer4": <see cref="Blocks"/> residual blocks
/// (<see cref="ResNetConvs"/>) of <see cref="Width"/> (BasicBlock) or 4x <see cref="Width"/> (Bottleneck)
/// output channels. Stage 1 starts with the 3x3 stride-2 max-pool (padding 1) and its blocks keep the size;
/// stages 2-4 halve it in their first block (stride 2): n -> ceil(n/2) per axis either way. Parameters are
/// torchvision's keys under "encoder." ("encoder.layer2.0.downsample.0.weight"). 2-D only.
/// </summary>
/// <param name="Stage">1 to 4: torchvision's layer number.</param>
/// <param name="Blocks">Residual blocks in the stage (ResNet-34: 3, 4, 6, 3).</param>
/// <param name="Width">The blocks' width (64, 128, 256, 512).</param>
/// <param name="Bottleneck">Bottleneck blocks (ResNet-50 and deeper) instead of basic blocks.</param>
/// <param name="Sizes">Strict (the U-Net) refuses odd sizes before halving them (see <see cref="ResNetStemSpec.Sizes"/>); Floor is torchvision's arithmetic.</param>
public sealed record ResNetStageSpec(int Stage, int Blocks, int Width, bool Bottleneck = false, PoolMode Sizes = PoolMode.Strict) : Spec
{
    /// <summary>The stride of the first block: 1 in stage 1 (the max-pool halves), 2 after.</summary>
    public int Stride => Stage == 1 ? 1 : 2;

    /// <summary>The parameter scope of block <paramref name="i"/>: "encoder.layer{Stage}.{i}".</summary>
    public string BlockScope(int i) => $"encoder.layer{Stage}.{i}";

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Down;

    /// <inheritdoc />
    public override string Kind(int dims) => Bottleneck ? "Bottleneck" : "BasicBlock";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        if (Stage is < 1 or > 4) return ChannelsResult.Fail(node.Path, $"a ResNet stage is layer1 to layer4, got layer{Stage}");
        if (Blocks < 1) return ChannelsResult.Fail(node.Path, $"a ResNet stage needs at least 1 block, got {Blocks}");
        if (Width < 1) return ChannelsResult.Fail(node.Path, $"a ResNet stage needs at least 1 channel, got {Width}");
        return ChannelsResult.Ok(ResNetConvs.OutChannels(Width, Bottleneck));
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (input.Dims != 2) return state.Rule(node.Path, ShapeResult.Fail($"the ResNet encoder is 2-D, got a {input.Dims}-D input"));
        if (state.Rule(node.Path, StridedRules.Halving(input, Sizes, $"encoder.layer{Stage}")) is null) return null;
        var x = input;
        if (Stage == 1)
        {
            if (state.Rule($"{node.Path} / encoder.maxpool", StridedRules.MaxPool(x, 3, 2, 1)) is not { } p) return null;
            state.Row($"{node.Path} / encoder.maxpool", "MaxPool3x3/2", p, 0);
            x = p;
        }
        var i = 0;
        foreach (var block in ResNetConvs.Stage(x.Channels, Width, Blocks, Stride, Bottleneck))
        {
            var main = x;
            foreach (var c in block)
            {
                var path = $"{node.Path} / {BlockScope(i)}.{c.Name}";
                var from = ResNetConvs.IsProjection(c) ? x : main;
                if (state.Rule(path, StridedRules.Conv(from, c.In, c.Out, c.Kernel, c.Stride, c.Padding)) is not { } y) return null;
                state.Row(path, $"Conv{ShapeRules.Kernel(c.Kernel, 2)}/{c.Stride}+BN", y, c.Parameters(2));
                if (!ResNetConvs.IsProjection(c)) main = y;
            }
            x = main;
            i++;
        }
        return x;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims)
    {
        long total = 0;
        foreach (var block in ResNetConvs.Stage(inChannels, Width, Blocks, Stride, Bottleneck))
            foreach (var c in block) total += c.Parameters(dims);
        return total;
    }

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new ResNetStage(node.Path, this, inChannels);

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (-1, 1);
}
