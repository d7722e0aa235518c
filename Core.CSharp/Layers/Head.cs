using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>The final 1x1 convolution that maps features to class scores (logits).</summary>
public sealed class Head : Layer
{
    private readonly Conv2d _conv;
    private readonly string _scope;

    /// <summary>Creates the head; its parameters are named "<paramref name="scope"/>.weight".</summary>
    public Head(string path, string scope, int inChannels, int classes) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        InChannels = inChannels;
        Classes = classes;
        _scope = scope;
        _conv = nn.Conv2d(inChannels, classes, 1);
        Init.He(_conv.weight!, _conv.bias, inChannels);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Number of classes (output channels).</summary>
    public int Classes { get; }

    /// <inheritdoc />
    public override string Kind => "Head1x1";

    /// <inheritdoc />
    public override long ParameterCount => (long)InChannels * Classes + Classes;

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var y = ShapeRules.Head1x1(input, InChannels, Classes).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, ParameterCount));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => MixedPrecision.Call(_conv, _conv.weight!, x);

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            // The head's weights sit directly in its scope: "head.weight", "head.bias".
            yield return (_scope, "", _conv);
        }
    }
}
