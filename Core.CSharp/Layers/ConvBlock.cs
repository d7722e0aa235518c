using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Padding = CropCat.Shapes.Padding;

namespace CropCat.Layers;

/// <summary>
/// Two 3^N convolutions, each followed by an optional normalisation (batch, instance or group) and an activation
/// (ReLU, leaky ReLU, ELU or SiLU), then optional dropout: the paper's basic block and the variants real codes use
/// (<see cref="Architecture.BlockSpec"/>).
/// </summary>
public sealed class ConvBlock : Layer
{
    private readonly Convolution _conv1, _conv2;
    private readonly nn.Module<Tensor, Tensor>? _norm1, _norm2;
    private readonly Dropout? _dropout;
    private readonly string _scope;
    private readonly bool _finalRelu;
    private readonly BlockNorm _norm;
    private readonly BlockActivation _activation;
    private readonly double _slope;

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
    /// <param name="finalRelu">The activation after the second convolution too (false: the block ends with the convolution, or its normalisation).</param>
    /// <param name="norm">Normalisation after each convolution; overrides <paramref name="batchNorm"/> unless None.</param>
    /// <param name="groups">Groups of <see cref="BlockNorm.Group"/>.</param>
    /// <param name="activation">The activation after each convolution.</param>
    /// <param name="slope">Negative slope of <see cref="BlockActivation.LeakyReLU"/>.</param>
    public ConvBlock(string path, string scope, int dims, int inChannels, int midChannels, int outChannels,
        Padding padding, bool batchNorm, double dropout, bool finalRelu = true,
        BlockNorm norm = BlockNorm.None, int groups = 8, BlockActivation activation = BlockActivation.ReLU, double slope = 0.01) : base(path)
    {
        _finalRelu = finalRelu;
        _norm = norm != BlockNorm.None ? norm : batchNorm ? BlockNorm.Batch : BlockNorm.None;
        _activation = activation;
        _slope = slope;
        var bias = BlockParts.ConvBias(_norm);
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        var pad = padding == Padding.Same ? 1 : 0;
        // Both convolutions are made before either is initialised: the random stream (and so a seeded
        // net's weights) is the same as in every earlier release.
        _conv1 = NdModules.Conv(dims, inChannels, midChannels, 3, pad, bias, init: false);
        _conv2 = NdModules.Conv(dims, midChannels, outChannels, 3, pad, bias, init: false);
        NdModules.He(_conv1, 3, dims);
        NdModules.He(_conv2, 3, dims);
        _norm1 = BlockParts.Norm(_norm, dims, midChannels, groups);
        _norm2 = BlockParts.Norm(_norm, dims, outChannels, groups);
        if (dropout > 0) _dropout = nn.Dropout(dropout);
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        var a = Step(_conv1, _norm1, x, activate: true);
        var b = Step(_conv2, _norm2, a, _finalRelu);
        a.Dispose(); // last use of the first activation: free it before the next block runs
        if (_dropout is null) return b;
        var d = _dropout.call(b);
        if (!ReferenceEquals(d, b)) b.Dispose();
        return d;
    }

    private Tensor Step(Convolution conv, nn.Module<Tensor, Tensor>? norm, Tensor x, bool activate)
    {
        var y = MixedPrecision.Call(conv, conv.weight!, x);
        if (norm is not null)
        {
            var z = MixedPrecision.Call(norm, BlockParts.Weight(norm), y);
            y.Dispose();
            y = z;
        }
        // In place where the activation allows: neither conv nor normalisation backward needs its own output.
        return activate ? BlockParts.Apply(_activation, _slope, y) : y;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            yield return (_scope, "conv1", _conv1);
            if (_norm1 is not null) yield return (_scope, BlockParts.NormName(_norm, 1), _norm1);
            yield return (_scope, "conv2", _conv2);
            if (_norm2 is not null) yield return (_scope, BlockParts.NormName(_norm, 2), _norm2);
            if (_dropout is not null) yield return (_scope, "dropout", _dropout);
        }
    }
}
