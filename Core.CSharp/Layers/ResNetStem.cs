using System.Collections.Generic;
using CropCat.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>torchvision's stem relu(bn1(conv1(x))) (<see cref="ResNetStemSpec"/>), registered as "encoder.conv1", "encoder.bn1".</summary>
public sealed class ResNetStem : Layer
{
    private readonly ConvBn _conv;

    /// <summary>Creates the stem for the convolution <paramref name="conv"/>.</summary>
    public ResNetStem(string path, ResNetConv conv) : base(path) => _conv = new ConvBn(conv);

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => _conv.Forward(x).relu_();

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            yield return ("encoder", "conv1", _conv.Conv);
            yield return ("encoder", "bn1", _conv.Norm);
        }
    }
}
