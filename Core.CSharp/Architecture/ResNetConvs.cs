using System.Collections.Generic;
using System.Linq;

namespace CropCat.Architecture;

/// <summary>
/// One convolution of a ResNet residual block, always followed by batch norm (so without bias), as
/// torchvision names it inside the block: "conv1", "conv2", "conv3" or "downsample" (the 1x1 projection
/// of the identity, torchvision's "downsample.0" conv and "downsample.1" batch norm).
/// </summary>
/// <param name="Name">torchvision's name inside the block.</param>
/// <param name="In">Input channels.</param>
/// <param name="Out">Output channels.</param>
/// <param name="Kernel">Kernel edge (7, 3 or 1).</param>
/// <param name="Stride">Stride on every axis.</param>
/// <param name="Padding">Zero padding on every side.</param>
public sealed record ResNetConv(string Name, int In, int Out, int Kernel, int Stride, int Padding)
{
    /// <summary>Trainable parameters of the convolution and its batch norm (weight and bias per channel), over <paramref name="dims"/> axes.</summary>
    public long Parameters(int dims)
    {
        var taps = 1L;
        for (var a = 0; a < dims; a++) taps *= Kernel;
        return taps * In * Out + 2L * Out;
    }
}

/// <summary>
/// The convolutions of torchvision's residual blocks, the one definition that shapes, parameter counts and
/// the runtime blocks read. BasicBlock (ResNet-18/34): conv1 3x3 (stride s), conv2 3x3. Bottleneck
/// (ResNet-50, torchvision's "v1.5" with the stride on the 3x3): conv1 1x1, conv2 3x3 (stride s), conv3 1x1
/// to 4x the width. A block whose stride is not 1 or whose input channels differ from its output has the
/// 1x1 "downsample" projection on the identity.
/// </summary>
public static class ResNetConvs
{
    /// <summary>Output channels of a block of <paramref name="width"/>: the width, or 4x it for a bottleneck.</summary>
    public static int OutChannels(int width, bool bottleneck) => bottleneck ? 4 * width : width;

    /// <summary>The convolutions of one block, in execution order, the projection (if any) last.</summary>
    public static IReadOnlyList<ResNetConv> Block(int inChannels, int width, int stride, bool bottleneck)
    {
        var output = OutChannels(width, bottleneck);
        var convs = bottleneck
            ? new List<ResNetConv>
            {
                new("conv1", inChannels, width, 1, 1, 0),
                new("conv2", width, width, 3, stride, 1),
                new("conv3", width, output, 1, 1, 0),
            }
            : [new("conv1", inChannels, width, 3, stride, 1), new("conv2", width, width, 3, 1, 1)];
        if (stride != 1 || inChannels != output) convs.Add(new("downsample", inChannels, output, 1, stride, 0));
        return convs;
    }

    /// <summary>Whether <paramref name="c"/> is the identity's projection rather than a main-path convolution.</summary>
    public static bool IsProjection(ResNetConv c) => c.Name == "downsample";

    /// <summary>Every block of a stage: block 0 takes <paramref name="inChannels"/> and the stride, the rest stride 1.</summary>
    public static IEnumerable<IReadOnlyList<ResNetConv>> Stage(int inChannels, int width, int blocks, int stride, bool bottleneck) =>
        Enumerable.Range(0, blocks).Select(i =>
            Block(i == 0 ? inChannels : OutChannels(width, bottleneck), width, i == 0 ? stride : 1, bottleneck));
}
