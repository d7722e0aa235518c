using CropCat.Architecture;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>A ResNet convolution (no bias, He-initialised) with its batch norm (weight 1, bias 0, as torchvision starts).</summary>
internal sealed class ConvBn
{
    public ConvBn(ResNetConv c)
    {
        NativeRuntime.EnsureLoaded();
        Spec = c;
        Conv = nn.Conv2d(c.In, c.Out, c.Kernel, stride: c.Stride, padding: c.Padding, bias: false);
        NdModules.He(Conv, c.Kernel, 2);
        Norm = nn.BatchNorm2d(c.Out);
    }

    public ResNetConv Spec { get; }
    public Convolution Conv { get; }
    public BatchNorm Norm { get; }

    /// <summary>bn(conv(x)), the convolution's output freed once normalised.</summary>
    public Tensor Forward(Tensor x)
    {
        using var y = MixedPrecision.Call(Conv, Conv.weight!, x);
        return MixedPrecision.Call(Norm, Norm.weight!, y);
    }
}
