using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// Two 3^N convolutions, each with an activation (ReLU by default; leaky ReLU, ELU, SiLU) (valid: n -> n - 4 per
/// axis; same: n -> n), an optional normalisation after each convolution (batch, instance or group norm; before
/// batch and instance norm the convolutions have no bias, which those remove exactly) and dropout after the block. The first
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
/// <param name="Norm">
/// Instance or group norm after each convolution (None: batch norm when <paramref name="BatchNorm"/>, else none;
/// Batch is the same as <paramref name="BatchNorm"/>). <see cref="Normalization"/> is the one in effect.
/// </param>
/// <param name="Groups">Groups of group norm; both convolutions' output channels must be multiples of it.</param>
/// <param name="Activation">The activation after each convolution (after the second only when <paramref name="FinalRelu"/>).</param>
/// <param name="Slope">Negative slope of leaky ReLU (nnU-Net's 0.01), in (0, 1].</param>
public sealed record BlockSpec(int Width, Padding Padding = Padding.Valid, bool BatchNorm = false, double Dropout = 0.0, int? Mid = null, bool FinalRelu = true,
    BlockNorm Norm = BlockNorm.None, int Groups = 8, BlockActivation Activation = BlockActivation.ReLU, double Slope = 0.01) : Spec
{
    /// <summary>A copy with the given fields replaced (for F#, which has no <c>with</c> on C# records).</summary>
    public BlockSpec With(int? width = null, Padding? padding = null, bool? batchNorm = null, double? dropout = null,
        BlockNorm? norm = null, int? groups = null, BlockActivation? activation = null, double? slope = null) =>
        this with
        {
            Width = width ?? Width,
            Padding = padding ?? Padding,
            BatchNorm = batchNorm ?? BatchNorm,
            Dropout = dropout ?? Dropout,
            Norm = norm ?? Norm,
            Groups = groups ?? Groups,
            Activation = activation ?? Activation,
            Slope = slope ?? Slope,
        };

    /// <summary>The normalisation in effect: <see cref="Norm"/>, or Batch when only <see cref="BatchNorm"/> is set.</summary>
    public BlockNorm Normalization => Norm != BlockNorm.None ? Norm : BatchNorm ? BlockNorm.Batch : BlockNorm.None;

    /// <summary>Output channels of the first convolution.</summary>
    public int MidChannels => Mid ?? Width;

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Block;

    /// <inheritdoc />
    public override string Kind(int dims) => "ConvBlock";

    /// <summary>
    /// The summary kind of this block's convolutions: "Conv3x3+ReLU" for the paper's, else with the normalisation and
    /// the activation named, e.g. "Conv3x3+InstanceNorm+LeakyReLU"; without the activation after a bare last convolution.
    /// </summary>
    public string KindOf(int dims, bool activated)
    {
        var norm = Normalization is BlockNorm.Instance or BlockNorm.Group ? $"+{Normalization}Norm" : "";
        return $"Conv{ShapeRules.Kernel(3, dims)}{norm}{(activated ? "+" + BlockParts.Name(Activation) : "")}";
    }

    /// <summary>Parameters of one 3^N conv (+ batch norm) from <paramref name="inC"/> to <paramref name="outC"/>.</summary>
    public static long ConvParameters(int inC, int outC, bool batchNorm, int dims = 2) =>
        ConvParameters(inC, outC, batchNorm ? BlockNorm.Batch : BlockNorm.None, dims);

    /// <summary>
    /// Parameters of one 3^N conv and its normalisation from <paramref name="inC"/> to <paramref name="outC"/>: the
    /// kernel, the bias where the convolution has one (<see cref="BlockParts.ConvBias"/>), 2 per channel for an affine norm.
    /// </summary>
    public static long ConvParameters(int inC, int outC, BlockNorm norm, int dims = 2)
    {
        var taps = 1L;
        for (var a = 0; a < dims; a++) taps *= 3;
        return taps * inC * outC + (BlockParts.ConvBias(norm) ? outC : 0) + (norm == BlockNorm.None ? 0 : 2L * outC);
    }

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        if (Width < 1) return ChannelsResult.Fail(node.Path, $"a conv block needs at least 1 output channel, got {Width}");
        if (MidChannels < 1) return ChannelsResult.Fail(node.Path, $"a conv block's first convolution needs at least 1 output channel, got {MidChannels}");
        if (!(Dropout >= 0.0 && Dropout < 1.0)) return ChannelsResult.Fail(node.Path, $"dropout must be in [0, 1), got {Dropout}");
        if (BatchNorm && Norm is BlockNorm.Instance or BlockNorm.Group)
            return ChannelsResult.Fail(node.Path, $"a block has one normalisation: batchNorm and {Norm.ToString().ToLowerInvariant()} norm both given");
        if (Normalization == BlockNorm.Group)
        {
            if (Groups < 1) return ChannelsResult.Fail(node.Path, $"group norm needs at least 1 group, got {Groups}");
            if (MidChannels % Groups != 0 || Width % Groups != 0)
                return ChannelsResult.Fail(node.Path, $"group norm with {Groups} groups needs channel counts that are multiples of {Groups}; the block's convolutions output {MidChannels} and {Width}");
        }
        if (Activation == BlockActivation.LeakyReLU && !(Slope > 0.0 && Slope <= 1.0))
            return ChannelsResult.Fail(node.Path, $"leaky ReLU's negative slope must be in (0, 1], got {Slope}");
        return ChannelsResult.Ok(Width);
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        var norm = Normalization;
        if (state.Rule($"{node.Path} / conv1", ShapeRules.Conv3x3(input, input.Channels, MidChannels, Padding)) is not { } a) return null;
        state.Row($"{node.Path} / conv1", KindOf(input.Dims, activated: true), a, ConvParameters(input.Channels, MidChannels, norm, input.Dims));
        if (state.Rule($"{node.Path} / conv2", ShapeRules.Conv3x3(a, MidChannels, Width, Padding)) is not { } b) return null;
        state.Row($"{node.Path} / conv2", KindOf(input.Dims, FinalRelu), b, ConvParameters(MidChannels, Width, norm, input.Dims));
        return b;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims) =>
        ConvParameters(inChannels, MidChannels, Normalization, dims) + ConvParameters(MidChannels, Width, Normalization, dims);

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims) =>
        new ConvBlock(node.Path, node.Scope, dims, inChannels, MidChannels, Width, Padding, BatchNorm, Dropout, FinalRelu,
            Normalization, Groups, Activation, Slope);
}
