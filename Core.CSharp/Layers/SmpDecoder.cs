using System.Collections.Generic;
using CropCat.Architecture;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>Nearest-neighbour x2 up-sampling (<see cref="NearestUpSpec"/>), as <c>F.interpolate(x, scale_factor=2, mode="nearest")</c>.</summary>
public sealed class NearestUp : Layer
{
    private readonly double[] _factors;

    /// <summary>Creates the up-step over <paramref name="dims"/> axes.</summary>
    public NearestUp(string path, int dims) : base(path)
    {
        _factors = new double[dims];
        System.Array.Fill(_factors, 2.0);
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => nn.functional.interpolate(x, scale_factor: _factors, mode: InterpolationMode.Nearest);
}

/// <summary>y = cat([body(x), x]) on channels (<see cref="BodyFirstSkipSpec"/>), smp's decoder order.</summary>
public sealed class BodyFirstSkip : Layer
{
    /// <summary>Creates the skip around <paramref name="body"/>.</summary>
    public BodyFirstSkip(string path, Layer body) : base(path) => Body = body;

    /// <summary>The layer the skip goes around.</summary>
    public Layer Body { get; }

    /// <inheritdoc />
    public override IEnumerable<Layer> Children => [Body];

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        using var body = Body.Forward(x);
        using var b = MixedPrecision.Like(body, x);
        return cat([b, x], 1);
    }
}

/// <summary>smp's decoder block convolutions (<see cref="SmpDecoderBlockSpec"/>): twice relu(bn(conv3x3(x))).</summary>
public sealed class SmpDecoderBlock : Layer
{
    private readonly string _scope;
    private readonly (Convolution Conv, BatchNorm Norm)[] _steps;

    /// <summary>Creates the block of <paramref name="convs"/> under <paramref name="scope"/> ("decoder.blocks.0").</summary>
    public SmpDecoderBlock(string path, string scope, IReadOnlyList<ResNetConv> convs, int dims) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        _steps = new (Convolution, BatchNorm)[convs.Count];
        for (var i = 0; i < convs.Count; i++)
            _steps[i] = (NdModules.Conv(dims, convs[i].In, convs[i].Out, 3, 1, bias: false), NdModules.Norm(dims, convs[i].Out));
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        var y = x.alias();
        foreach (var (conv, norm) in _steps)
        {
            using var c = MixedPrecision.Call(conv, conv.weight!, y);
            y.Dispose();
            y = MixedPrecision.Call(norm, norm.weight!, c).relu_();
        }
        return y;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            for (var i = 0; i < _steps.Length; i++)
            {
                // smp's Conv2dReLU is a Sequential: 0 the conv, 1 the batch norm, 2 the ReLU.
                yield return ($"{_scope}.conv{i + 1}", "0", _steps[i].Conv);
                yield return ($"{_scope}.conv{i + 1}", "1", _steps[i].Norm);
            }
        }
    }
}

/// <summary>smp's segmentation head (<see cref="SmpHeadSpec"/>): a padded 3x3 convolution to the class logits, "segmentation_head.0".</summary>
public sealed class SmpHead : Layer
{
    private readonly Convolution _conv;

    /// <summary>Creates the head.</summary>
    public SmpHead(string path, int dims, int inChannels, int classes) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        _conv = NdModules.Conv(dims, inChannels, classes, 3, 1, bias: true);
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => MixedPrecision.Call(_conv, _conv.weight!, x);

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get { yield return ("segmentation_head", "0", _conv); }
    }
}
