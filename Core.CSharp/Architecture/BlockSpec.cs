using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// Two 3^N convolutions with ReLU (valid: n -> n - 4 per axis; same: n -> n), optional batch norm after
/// each convolution (then the convolutions have no bias) and dropout after the block. The first
/// convolution outputs <see cref="Mid"/> channels (default <see cref="Width"/>): the 3-D U-Net doubles
/// the channels in the second convolution, milesial's bilinear decoder halves them.
/// </summary>
/// <param name="Width">Output channels of the block.</param>
/// <param name="Padding">Valid (the paper) or Same.</param>
/// <param name="BatchNorm">Batch norm after each convolution.</param>
/// <param name="Dropout">Dropout probability after the block; 0 for none.</param>
/// <param name="Mid">Output channels of the first convolution; null for <paramref name="Width"/>.</param>
/// <param name="FinalRelu">
/// ReLU after the second convolution too (the paper, milesial, smp). False for codes whose block ends with the
/// bare convolution, such as the reading group's "U-Net in 60 lines" (<c>conv2(relu(conv1(x)))</c>): loading
/// its weights into a block with the ReLU would compute another function.
/// </param>
public sealed record BlockSpec(int Width, Padding Padding = Padding.Valid, bool BatchNorm = false, double Dropout = 0.0, int? Mid = null, bool FinalRelu = true) : Spec
{
    /// <summary>A copy with the given fields replaced (for F#, which has no <c>with</c> on C# records).</summary>
    public BlockSpec With(int? width = null, Padding? padding = null, bool? batchNorm = null, double? dropout = null) =>
        this with { Width = width ?? Width, Padding = padding ?? Padding, BatchNorm = batchNorm ?? BatchNorm, Dropout = dropout ?? Dropout };

    /// <summary>Output channels of the first convolution.</summary>
    public int MidChannels => Mid ?? Width;

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Block;

    /// <inheritdoc />
    public override string Kind(int dims) => "ConvBlock";

    /// <summary>The summary kind of each of the block's convolutions: "Conv3x3+ReLU" (3-D: "Conv3x3x3+ReLU").</summary>
    public static string ConvKind(int dims) => $"Conv{ShapeRules.Kernel(3, dims)}+ReLU";

    /// <summary>Parameters of one 3^N conv (+ batch norm) from <paramref name="inC"/> to <paramref name="outC"/>.</summary>
    public static long ConvParameters(int inC, int outC, bool batchNorm, int dims = 2)
    {
        var taps = 1L;
        for (var a = 0; a < dims; a++) taps *= 3;
        return batchNorm ? taps * inC * outC + 2L * outC : taps * inC * outC + outC;
    }

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        if (Width < 1) return ChannelsResult.Fail(node.Path, $"a conv block needs at least 1 output channel, got {Width}");
        if (MidChannels < 1) return ChannelsResult.Fail(node.Path, $"a conv block's first convolution needs at least 1 output channel, got {MidChannels}");
        if (!(Dropout >= 0.0 && Dropout < 1.0)) return ChannelsResult.Fail(node.Path, $"dropout must be in [0, 1), got {Dropout}");
        return ChannelsResult.Ok(Width);
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        var kind = ConvKind(input.Dims);
        if (state.Rule($"{node.Path} / conv1", ShapeRules.Conv3x3(input, input.Channels, MidChannels, Padding)) is not { } a) return null;
        state.Row($"{node.Path} / conv1", kind, a, ConvParameters(input.Channels, MidChannels, BatchNorm, input.Dims));
        if (state.Rule($"{node.Path} / conv2", ShapeRules.Conv3x3(a, MidChannels, Width, Padding)) is not { } b) return null;
        state.Row($"{node.Path} / conv2", FinalRelu ? kind : $"Conv{ShapeRules.Kernel(3, input.Dims)}", b, ConvParameters(MidChannels, Width, BatchNorm, input.Dims));
        return b;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) =>
        ConvParameters(inChannels, MidChannels, BatchNorm, dims) + ConvParameters(MidChannels, Width, BatchNorm, dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) =>
        new ConvBlock(node.Path, node.Scope, dims, inChannels, MidChannels, Width, Padding, BatchNorm, Dropout, FinalRelu);
}
