using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>2^N max-pool with stride 2 (n -> n/2 per axis; Strict refuses odd sizes, Floor drops the last pixel).</summary>
/// <param name="Mode">Strict (the paper) or Floor (PyTorch's MaxPool).</param>
public sealed record PoolSpec(PoolMode Mode = PoolMode.Strict) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Down;

    /// <inheritdoc />
    public override string Kind(int dims) => $"MaxPool{ShapeRules.Kernel(2, dims)}";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) => ChannelsResult.Ok(inChannels);

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (state.Rule(node.Path, ShapeRules.MaxPool2x2(input, Mode)) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, 0);
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => 0;

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new MaxPoolDown(node.Path, dims);

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (-1, 1);
}
