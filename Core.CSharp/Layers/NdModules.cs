using System;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The TorchSharp modules and functions of one layer kind for 1, 2 or 3 spatial axes (Conv1d/2d/3d,
/// BatchNorm1d/2d/3d, max_pool1d/2d/3d, linear/bilinear/trilinear interpolation), so every layer is
/// written once for any number of axes.
/// </summary>
public static class NdModules
{
    private static void CheckDims(int dims)
    {
        if (dims is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(dims), dims, "CropCat builds 1-, 2- and 3-D layers");
    }

    /// <summary>A k^N convolution with stride 1 and zero padding <paramref name="padding"/>, He-initialised unless <paramref name="init"/> is false.</summary>
    public static Convolution Conv(int dims, int inChannels, int outChannels, int kernel, int padding, bool bias, bool init = true)
    {
        CheckDims(dims);
        Convolution c = dims switch
        {
            1 => nn.Conv1d(inChannels, outChannels, kernel, padding: padding, bias: bias),
            2 => nn.Conv2d(inChannels, outChannels, kernel, padding: padding, bias: bias),
            _ => nn.Conv3d(inChannels, outChannels, kernel, padding: padding, bias: bias),
        };
        if (init) He(c, kernel, dims);
        return c;
    }

    /// <summary>The paper's initialisation of a k^N convolution (N = k^N x input channels).</summary>
    public static void He(Convolution c, int kernel, int dims) =>
        Init.He(c.weight!, c.bias, (long)Math.Pow(kernel, dims) * c.in_channels);

    /// <summary>A 2^N transposed convolution with stride 2 (the up-convolution), He-initialised.</summary>
    public static Convolution UpConv(int dims, int inChannels, int outChannels, bool bias = true)
    {
        CheckDims(dims);
        Convolution c = dims switch
        {
            1 => nn.ConvTranspose1d(inChannels, outChannels, 2, stride: 2, bias: bias),
            2 => nn.ConvTranspose2d(inChannels, outChannels, 2, stride: 2, bias: bias),
            _ => nn.ConvTranspose3d(inChannels, outChannels, 2, stride: 2, bias: bias),
        };
        // Each output pixel of a stride-2 transposed conv with kernel 2 sees one tap per input channel.
        Init.He(c.weight!, c.bias, inChannels);
        return c;
    }

    /// <summary>Batch norm over <paramref name="channels"/> channels of an N-D map.</summary>
    public static BatchNorm Norm(int dims, int channels)
    {
        CheckDims(dims);
        return dims switch
        {
            1 => nn.BatchNorm1d(channels),
            2 => nn.BatchNorm2d(channels),
            _ => nn.BatchNorm3d(channels),
        };
    }

    /// <summary>2^N max-pool with stride 2 over the last <paramref name="dims"/> axes.</summary>
    public static Tensor MaxPool(int dims, Tensor x) => dims switch
    {
        1 => nn.functional.max_pool1d(x, 2, 2),
        2 => MaxPoolDown.Pool2x2(x),
        3 => nn.functional.max_pool3d(x, [2, 2, 2], [2, 2, 2]),
        _ => throw new ArgumentOutOfRangeException(nameof(dims), dims, "CropCat builds 1-, 2- and 3-D layers"),
    };

    /// <summary>x2 interpolation with aligned corners: linear (1-D), bilinear (2-D) or trilinear (3-D).</summary>
    public static Tensor Interpolate2x(int dims, Tensor x)
    {
        CheckDims(dims);
        var mode = dims switch { 1 => InterpolationMode.Linear, 2 => InterpolationMode.Bilinear, _ => InterpolationMode.Trilinear };
        var factors = new double[dims];
        Array.Fill(factors, 2.0);
        return nn.functional.interpolate(x, scale_factor: factors, mode: mode, align_corners: true);
    }
}
