using System;
using System.Linq;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// Hyperparameters of a U-Net. <see cref="Widths"/> lists the channels of every level from the top
/// to the bottom block: [64, 128, 256, 512, 1024] is the paper's depth-4 net.
/// </summary>
public sealed record UNetOptions
{
    /// <summary>Channels of the input image (1 for gray).</summary>
    public int InChannels { get; init; } = 1;
    /// <summary>Number of classes of the 1x1 head.</summary>
    public int Classes { get; init; } = 2;
    /// <summary>Channels per level, top to bottom; the last one is the bottom block. At least two entries (depth >= 1).</summary>
    public int[] Widths { get; init; } = [64, 128, 256, 512, 1024];
    /// <summary>Valid (the paper) or Same padding of the 3x3 convolutions.</summary>
    public Padding Padding { get; init; } = Padding.Valid;
    /// <summary>Transposed (the paper) or Bilinear up-sampling.</summary>
    public UpMode Up { get; init; } = UpMode.Transposed;
    /// <summary>Strict (the paper: refuse odd sizes) or Floor pooling.</summary>
    public PoolMode Pool { get; init; } = PoolMode.Strict;
    /// <summary>Batch norm after every 3x3 convolution.</summary>
    public bool BatchNorm { get; init; }
    /// <summary>Instance or group norm after every 3x3 convolution instead (None: <see cref="BatchNorm"/> decides).</summary>
    public BlockNorm Norm { get; init; }

    /// <summary>Groups of group norm (every level's width must be a multiple of it).</summary>
    public int Groups { get; init; } = 8;

    /// <summary>The activation after every 3x3 convolution (the paper: ReLU; nnU-Net: leaky ReLU with slope 0.01).</summary>
    public BlockActivation Activation { get; init; } = BlockActivation.ReLU;

    /// <summary>Negative slope of leaky ReLU.</summary>
    public double Slope { get; init; } = 0.01;

    /// <summary>Dropout after the bottom block ("end of the contracting path"); 0 for none.</summary>
    public double BottomDropout { get; init; }
    /// <summary>Skip merge; CropConcat for unpadded nets, Concat or CropConcat for padded ones.</summary>
    public Merge Merge { get; init; } = Merge.CropConcat;
    /// <summary>Spatial axes: 2 for images, 3 for volumes (3^3 convolutions, 2^3 pools).</summary>
    public int Dims { get; init; } = 2;
    /// <summary>Attention gates on every skip with this many intermediate channels (Attention U-Net); 0 for none.</summary>
    public int Gate { get; init; }
    /// <summary>
    /// ReLU after each block's second convolution (the paper). False builds the reading group's "U-Net in 60
    /// lines" block, <c>conv2(relu(conv1(x)))</c>, so that its weights compute what its code computes.
    /// </summary>
    public bool FinalRelu { get; init; } = true;

    /// <summary>Number of down-steps (levels above the bottom).</summary>
    public int Depth => Widths.Length - 1;

    /// <summary>The paper's Fig. 1 net: 1 channel in, 2 classes, widths 64..1024, valid convs, transposed up, dropout 0.5 at the bottom.</summary>
    public static UNetOptions Paper => new() { BottomDropout = 0.5 };

    /// <summary>
    /// The padded net popular for the Carvana car-masking data: RGB in, 1 class (a sigmoid mask), same padding,
    /// batch norm, bilinear up + 1x1, plain concat; any multiple of 16, output size = input size.
    /// </summary>
    public static UNetOptions Carvana => new()
    {
        InChannels = 3,
        Classes = 1,
        Padding = Padding.Same,
        Up = UpMode.Bilinear,
        BatchNorm = true,
        Merge = Merge.Concat,
    };

    /// <summary>
    /// The reading group's "U-Net in 60 lines" with these widths: valid convolutions, blocks without a ReLU after
    /// their second convolution, transposed up-convolutions, crop-and-cat (their [up, skip] order is a weight
    /// permutation the PyTorch loader applies; their CenterCrop's rounding equals CropCat's floor for every size
    /// CropCat accepts, whose crop margins are even), a 1x1 head.
    /// </summary>
    public static UNetOptions ReadingGroup(int[] widths, int inChannels = 1, int classes = 2) =>
        new() { Widths = widths, InChannels = inChannels, Classes = classes, FinalRelu = false };

    /// <summary>A copy with the given fields replaced (for F#, which has no <c>with</c> on C# records).</summary>
    public UNetOptions With(int[]? widths = null, int? inChannels = null, int? classes = null, int? gate = null, int? dims = null,
        Padding? padding = null, UpMode? up = null, PoolMode? pool = null, bool? batchNorm = null, double? bottomDropout = null, Merge? merge = null,
        bool? finalRelu = null, BlockNorm? norm = null, int? groups = null, BlockActivation? activation = null, double? slope = null) =>
        this with
        {
            Widths = widths ?? Widths,
            InChannels = inChannels ?? InChannels,
            Classes = classes ?? Classes,
            Gate = gate ?? Gate,
            Dims = dims ?? Dims,
            Padding = padding ?? Padding,
            Up = up ?? Up,
            Pool = pool ?? Pool,
            BatchNorm = batchNorm ?? BatchNorm,
            BottomDropout = bottomDropout ?? BottomDropout,
            Merge = merge ?? Merge,
            FinalRelu = finalRelu ?? FinalRelu,
            Norm = norm ?? Norm,
            Groups = groups ?? Groups,
            Activation = activation ?? Activation,
            Slope = slope ?? Slope,
        };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (InChannels < 1) throw new ArgumentException($"UNetOptions.InChannels must be >= 1, got {InChannels}");
        if (Classes < 1) throw new ArgumentException($"UNetOptions.Classes must be >= 1, got {Classes}");
        if (Widths.Length < 2) throw new ArgumentException($"UNetOptions.Widths needs at least 2 entries (depth >= 1), got {Widths.Length}");
        var bad = Array.FindIndex(Widths, w => w < 1);
        if (bad >= 0) throw new ArgumentException($"UNetOptions.Widths[{bad}] must be >= 1, got {Widths[bad]}");
        if (Dims is < 1 or > 3) throw new ArgumentException($"UNetOptions.Dims must be 1, 2 or 3, got {Dims}");
        if (Gate < 0) throw new ArgumentException($"UNetOptions.Gate must be >= 0 (0: no attention gates), got {Gate}");
        if (BottomDropout is < 0 or >= 1) throw new ArgumentException($"UNetOptions.BottomDropout must be in [0, 1), got {BottomDropout}");
        if (Merge == Merge.Add && Widths.Distinct().Count() > 1)
            throw new ArgumentException("Merge.Add needs the skip and the up path to have equal channels; CropCat's U-Net concatenates instead");
    }
}
