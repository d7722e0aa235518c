using System;
using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Mixed-precision training's convolution (TorchSharp has no autocast): the fp32 master weight and bias are
/// cast to the compute dtype on every call, so autograd carries the gradient back through the cast to the fp32
/// parameter that the optimizer updates; the input is cast where it is not already in that dtype.
/// </summary>
internal static class CastConvolution
{
    /// <summary>Convolutions that compute in another dtype than their (fp32) weights, and that dtype.</summary>
    private static readonly ConditionalWeakTable<Convolution, StrongBox<ScalarType>> Computing = new();

    /// <summary>Makes <paramref name="c"/> compute in <paramref name="dtype"/> while its parameters stay as they are.</summary>
    public static void Compute(Convolution c, ScalarType dtype) => Computing.AddOrUpdate(c, new StrongBox<ScalarType>(dtype));

    /// <summary>Makes <paramref name="c"/> compute in its own weights' dtype again.</summary>
    public static void Plain(Convolution c) => Computing.Remove(c);

    /// <summary>The dtype module <paramref name="m"/> computes in when it differs from its weights' (mixed precision), else null.</summary>
    public static ScalarType? ComputeDtype(nn.Module m) =>
        m is Convolution c && Computing.TryGetValue(c, out var box) && box.Value != c.weight!.dtype ? box.Value : null;

    /// <summary>
    /// <paramref name="c"/>'s function of <paramref name="x"/> with <paramref name="weight"/> and <paramref name="bias"/>
    /// cast to <paramref name="dtype"/> (the result is in that dtype). The parameters are passed in, so the
    /// self-check can run it on detached copies.
    /// </summary>
    public static Tensor Apply(Convolution c, Tensor x, Tensor weight, Tensor? bias, ScalarType dtype)
    {
        if (c.padding_mode != PaddingModes.Zeros || c.padding_type is not null)
            throw new NotSupportedException($"mixed-precision convolution supports numeric zero padding only, not {c.padding_mode} / {c.padding_type}");
        using var xc = x.dtype == dtype ? x.alias() : x.to_type(dtype);
        using var w = weight.to_type(dtype);
        using var b = bias?.to_type(dtype);
        var dims = weight.dim() - 2;
        long[] stride = c.stride!, padding = c.padding!, dilation = c.dilation!, outPad = c.output_padding!;
        return (c.transposed, dims) switch
        {
            (false, 1) => nn.functional.conv1d(xc, w, b, stride[0], padding[0], dilation[0], c.groups),
            (false, 2) => nn.functional.conv2d(xc, w, b, stride, padding, dilation, c.groups),
            (false, 3) => nn.functional.conv3d(xc, w, b, stride, padding, dilation, c.groups),
            (true, 1) => nn.functional.conv_transpose1d(xc, w, b, stride[0], padding[0], outPad[0], dilation[0], c.groups),
            (true, 2) => nn.functional.conv_transpose2d(xc, w, b, stride, padding, outPad, dilation, c.groups),
            (true, 3) => nn.functional.conv_transpose3d(xc, w, b, stride, padding, outPad, dilation, c.groups),
            _ => throw new ArgumentOutOfRangeException(nameof(weight), dims, "CropCat builds 1-, 2- and 3-D convolutions"),
        };
    }
}
