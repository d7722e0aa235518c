using System.Collections.Generic;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Bilinear x2 interpolation with aligned corners and no parameters, PyTorch's
/// <c>nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)</c>: the up-step of milesial's
/// bilinear U-Net, whose decoder convolutions then reduce the channels. Maps n -> 2n, channels unchanged.
/// (<see cref="Up"/> in bilinear mode adds a 1x1 convolution instead.)
/// </summary>
public sealed class BilinearUp : Layer
{
    /// <summary>Creates the up-step for inputs of <paramref name="channels"/> channels.</summary>
    public BilinearUp(string path, int channels) : base(path) => Channels = channels;

    /// <summary>Input (and output) channels.</summary>
    public int Channels { get; }

    /// <inheritdoc />
    public override string Kind => "Bilinear2x";

    /// <inheritdoc />
    public override long ParameterCount => 0;

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var y = ShapeRules.Up2x(input, Channels, Channels).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, 0));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) =>
        nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: true);
}
