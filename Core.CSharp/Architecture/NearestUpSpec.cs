using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// Nearest-neighbour up-sampling by two (n -> 2n per axis), no parameters, channels unchanged: the
/// up-step of segmentation_models_pytorch's U-Net decoder (<c>F.interpolate(x, scale_factor=2, mode="nearest")</c>).
/// </summary>
public sealed record NearestUpSpec : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Up;

    /// <inheritdoc />
    public override string Kind(int dims) => "Nearest2x";

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) => ChannelsResult.Ok(inChannels);

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (state.Rule(node.Path, ShapeRules.Up2x(input, input.Channels, input.Channels)) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, 0);
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) => 0;

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) => new NearestUp(node.Path, dims);

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (1, 0);
}
