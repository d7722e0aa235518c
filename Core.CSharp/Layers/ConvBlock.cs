using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Padding = CropCat.Shapes.Padding;

namespace CropCat.Layers;

/// <summary>
/// Two 3^N convolutions, each followed by (optional batch norm and) ReLU, then optional dropout:
/// the paper's basic block (<see cref="Architecture.BlockSpec"/>).
/// </summary>
public sealed class ConvBlock : Layer
{
    private readonly Convolution _conv1, _conv2;
    private readonly BatchNorm? _bn1, _bn2;
    private readonly Dropout? _dropout;
    private readonly string _scope;
    private readonly bool _finalRelu;

    /// <summary>Creates the block.</summary>
    /// <param name="path">Display path, e.g. "level 1 / enc".</param>
    /// <param name="scope">Parameter-name scope, e.g. "enc1" (gives "enc1.conv1.weight").</param>
    /// <param name="dims">Spatial axes: 2 for images, 3 for volumes.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="midChannels">Output channels of the first convolution.</param>
    /// <param name="outChannels">Output channels of the block (of the second convolution).</param>
    /// <param name="padding">Valid (n -> n - 4 per axis) or Same (n -> n).</param>
    /// <param name="batchNorm">Batch norm after each convolution (then the conv has no bias).</param>
    /// <param name="dropout">Dropout probability after the block; 0 for none.</param>
    /// <param name="finalRelu">ReLU after the second convolution (false: the block ends with the convolution, or its batch norm).</param>
    public ConvBlock(string path, string scope, int dims, int inChannels, int midChannels, int outChannels,
        Padding padding, bool batchNorm, double dropout, bool finalRelu = true) : base(path)
    {
        _finalRelu = finalRelu;
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        var pad = padding == Padding.Same ? 1 : 0;
        // Both convolutions are made before either is initialised: the random stream (and so a seeded
        // net's weights) is the same as in every earlier release.
        _conv1 = NdModules.Conv(dims, inChannels, midChannels, 3, pad, bias: !batchNorm, init: false);
        _conv2 = NdModules.Conv(dims, midChannels, outChannels, 3, pad, bias: !batchNorm, init: false);
        NdModules.He(_conv1, 3, dims);
        NdModules.He(_conv2, 3, dims);
        if (batchNorm)
        {
            _bn1 = NdModules.Norm(dims, midChannels);
            _bn2 = NdModules.Norm(dims, outChannels);
        }
        if (dropout > 0) _dropout = nn.Dropout(dropout);
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        var a = Step(_conv1, _bn1, x, relu: true);
        var b = Step(_conv2, _bn2, a, _finalRelu);
        a.Dispose(); // last use of the first activation: free it before the next block runs
        if (_dropout is null) return b;
        var d = _dropout.call(b);
        if (!ReferenceEquals(d, b)) b.Dispose();
        return d;
    }

    private static Tensor Step(Convolution conv, BatchNorm? bn, Tensor x, bool relu)
    {
        var y = MixedPrecision.Call(conv, conv.weight!, x);
        if (bn is not null)
        {
            var z = MixedPrecision.Call(bn, bn.weight!, y);
            y.Dispose();
            y = z;
        }
        // In place: neither conv nor batch-norm backward needs its own output, so autograd allows it.
        return relu ? y.relu_() : y;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            yield return (_scope, "conv1", _conv1);
            if (_bn1 is not null) yield return (_scope, "bn1", _bn1);
            yield return (_scope, "conv2", _conv2);
            if (_bn2 is not null) yield return (_scope, "bn2", _bn2);
            if (_dropout is not null) yield return (_scope, "dropout", _dropout);
        }
    }
}
