using System;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The normalisation after each convolution of a block: none, batch norm (the CropCat default when
/// <c>batchNorm</c> is set; running statistics), instance norm (nnU-Net's; per image and channel, the same in
/// training and inference, affine) or group norm (per image and group of channels, affine).
/// </summary>
public enum BlockNorm
{
    /// <summary>No normalisation: the convolutions have a bias.</summary>
    None,

    /// <summary>Batch norm with running statistics (PyTorch's BatchNorm2d defaults).</summary>
    Batch,

    /// <summary>Instance norm, affine, without running statistics (PyTorch's InstanceNorm2d(C, affine=True)).</summary>
    Instance,

    /// <summary>Group norm over <c>Groups</c> groups of channels, affine (PyTorch's GroupNorm(G, C)).</summary>
    Group,
}

/// <summary>The activation after each convolution (and its normalisation) of a block.</summary>
public enum BlockActivation
{
    /// <summary>max(x, 0): the paper.</summary>
    ReLU,

    /// <summary>x for x > 0, slope * x otherwise (nnU-Net: slope 0.01).</summary>
    LeakyReLU,

    /// <summary>x for x > 0, exp(x) - 1 otherwise (alpha 1).</summary>
    ELU,

    /// <summary>x * sigmoid(x) (also called swish).</summary>
    SiLU,
}

/// <summary>Builds the normalisation modules and applies the activations of <see cref="ConvBlock"/>.</summary>
public static class BlockParts
{
    /// <summary>
    /// Whether a convolution right before <paramref name="norm"/> has a bias. Batch and instance norm subtract each
    /// channel's mean, which removes a per-channel bias exactly, so the convolution has none (as milesial and smp);
    /// group norm subtracts only a group's mean, so there a bias still changes the function and is kept.
    /// </summary>
    public static bool ConvBias(BlockNorm norm) => norm is BlockNorm.None or BlockNorm.Group;

    /// <summary>The module's name in the state dict: "bn1"/"bn2" for batch norm (as in every earlier release), "norm1"/"norm2" otherwise.</summary>
    public static string NormName(BlockNorm norm, int index) => norm == BlockNorm.Batch ? $"bn{index}" : $"norm{index}";

    /// <summary>The normalisation module over <paramref name="channels"/> channels of an N-D map; null for <see cref="BlockNorm.None"/>.</summary>
    public static nn.Module<Tensor, Tensor>? Norm(BlockNorm norm, int dims, int channels, int groups) => norm switch
    {
        BlockNorm.None => null,
        BlockNorm.Batch => NdModules.Norm(dims, channels),
        BlockNorm.Instance => dims switch
        {
            1 => nn.InstanceNorm1d(channels, affine: true),
            2 => nn.InstanceNorm2d(channels, affine: true),
            3 => nn.InstanceNorm3d(channels, affine: true),
            _ => throw new ArgumentOutOfRangeException(nameof(dims), dims, "1, 2 or 3 spatial axes"),
        },
        BlockNorm.Group => nn.GroupNorm(groups, channels, affine: true),
        _ => throw new ArgumentOutOfRangeException(nameof(norm), norm, null),
    };

    /// <summary>The affine weight of a normalisation module (its dtype is the one the module computes in).</summary>
    public static Tensor Weight(nn.Module<Tensor, Tensor> norm) => norm switch
    {
        TorchSharp.Modules.BatchNorm b => b.weight!,
        TorchSharp.Modules.InstanceNorm i => i.weight!,
        TorchSharp.Modules.GroupNorm g => g.weight!,
        _ => throw new ArgumentException($"not a normalisation module: {norm.GetType().Name}", nameof(norm)),
    };

    /// <summary>
    /// <paramref name="activation"/> applied to <paramref name="y"/>, a convolution's or a normalisation's fresh output
    /// that nothing else holds: in place where autograd allows it (ReLU, leaky ReLU and ELU backward read their own
    /// output; the convolution and normalisation backward do not need it); SiLU's backward needs its input, so it makes a
    /// new tensor and frees <paramref name="y"/>.
    /// </summary>
    public static Tensor Apply(BlockActivation activation, double slope, Tensor y)
    {
        switch (activation)
        {
            case BlockActivation.ReLU:
                return y.relu_();
            case BlockActivation.LeakyReLU:
                return nn.functional.leaky_relu(y, slope, inplace: true);
            case BlockActivation.ELU:
                return nn.functional.elu(y, 1.0, inplace: true);
            case BlockActivation.SiLU:
                {
                    var s = nn.functional.silu(y);
                    y.Dispose();
                    return s;
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    /// <summary>The activation's name in summaries and JSON: "ReLU", "LeakyReLU", "ELU", "SiLU".</summary>
    public static string Name(BlockActivation activation) => activation.ToString();
}
