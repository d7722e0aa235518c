using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// Up-sampling by two (n -> 2n per axis) to <see cref="Width"/> channels: a 2^N transposed convolution
/// (the paper's up-convolution), (bi/tri)linear x2 + a 1^N convolution, or the interpolation alone
/// (<see cref="UpMode.Interpolate"/>: no parameters, the channels pass unchanged and <see cref="Width"/> is ignored).
/// </summary>
/// <param name="Width">Output channels (not used by Interpolate).</param>
/// <param name="Mode">Transposed, Bilinear or Interpolate.</param>
public sealed record UpSpec(int Width, UpMode Mode = UpMode.Transposed) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Up;

    /// <inheritdoc />
    public override string Kind(int dims) => Mode switch
    {
        UpMode.Transposed => $"UpConv{ShapeRules.Kernel(2, dims)}",
        UpMode.Bilinear => dims == 3 ? "Trilinear2x+1x1x1" : dims == 1 ? "Linear2x+1" : "Bilinear2x+1x1",
        _ => dims == 3 ? "Trilinear2x" : dims == 1 ? "Linear2x" : "Bilinear2x",
    };

    /// <summary>Parameters of an up-step from <paramref name="inC"/> to <paramref name="outC"/> channels.</summary>
    public static long UpParameters(int inC, int outC, UpMode mode, int dims = 2) => mode switch
    {
        UpMode.Transposed => (1L << dims) * inC * outC + outC,
        UpMode.Bilinear => (long)inC * outC + outC,
        _ => 0,
    };

    private int OutChannels(int inChannels) => Mode == UpMode.Interpolate ? inChannels : Width;

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels) =>
        Mode != UpMode.Interpolate && Width < 1
            ? ChannelsResult.Fail(node.Path, $"up-sampling needs at least 1 output channel, got {Width}")
            : ChannelsResult.Ok(OutChannels(inChannels));

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (state.Rule(node.Path, ShapeRules.Up2x(input, input.Channels, OutChannels(input.Channels))) is not { } y) return null;
        state.Row(node.Path, Kind(input.Dims), y, UpParameters(input.Channels, y.Channels, Mode, input.Dims));
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) =>
        UpParameters(inChannels, OutChannels(inChannels), Mode, dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) =>
        new Up(node.Path, node.Scope, dims, inChannels, OutChannels(inChannels), Mode);

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node) => (1, 0);
}
