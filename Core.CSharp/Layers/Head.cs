using System.Collections.Generic;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>The final 1^N convolution that maps features to class scores (logits) (<see cref="Architecture.HeadSpec"/>).</summary>
public sealed class Head : Layer
{
    private readonly Convolution _conv;
    private readonly string _scope;

    /// <summary>Creates the head; its parameters are named "<paramref name="scope"/>.weight".</summary>
    public Head(string path, string scope, int dims, int inChannels, int classes) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        _conv = NdModules.Conv(dims, inChannels, classes, 1, 0, bias: true);
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
