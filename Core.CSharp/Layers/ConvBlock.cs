using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using Padding = CropCat.Shapes.Padding;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Two 3x3 convolutions, each followed by (optional batch norm and) ReLU, then optional dropout:
/// the paper's basic block. Valid padding loses 4 pixels per axis, same padding none.
/// </summary>
public sealed class ConvBlock : Layer
{
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d? _bn1, _bn2;
    private readonly Dropout? _dropout;
    private readonly string _scope;

    /// <summary>Creates the block.</summary>
    /// <param name="path">Display path, e.g. "level 1 / enc".</param>
    /// <param name="scope">Parameter-name scope, e.g. "enc1" (gives "enc1.conv1.weight").</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels of the block (of the second convolution).</param>
    /// <param name="padding">Valid (the paper, n -> n - 4) or Same (n -> n).</param>
    /// <param name="batchNorm">Batch norm after each convolution (then the conv has no bias).</param>
    /// <param name="dropout">Dropout probability after the block; 0 for none.</param>
    /// <param name="midChannels">Output channels of the first convolution; null for <paramref name="outChannels"/>
    /// (milesial's bilinear decoder blocks halve the channels in the second convolution).</param>
    public ConvBlock(string path, string scope, int inChannels, int outChannels,
        Padding padding = Padding.Valid, bool batchNorm = false, double dropout = 0.0, int? midChannels = null) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        InChannels = inChannels;
        OutChannels = outChannels;
        MidChannels = midChannels ?? outChannels;
        Padding = padding;
        BatchNorm = batchNorm;
        Dropout = dropout;
        _scope = scope;
        var pad = padding == Padding.Same ? 1 : 0;
        _conv1 = nn.Conv2d(inChannels, MidChannels, 3, padding: pad, bias: !batchNorm);
        _conv2 = nn.Conv2d(MidChannels, outChannels, 3, padding: pad, bias: !batchNorm);
        Init.He(_conv1.weight!, _conv1.bias, 9L * inChannels);
        Init.He(_conv2.weight!, _conv2.bias, 9L * MidChannels);
        if (batchNorm)
        {
            _bn1 = nn.BatchNorm2d(MidChannels);
            _bn2 = nn.BatchNorm2d(outChannels);
        }
        if (dropout > 0) _dropout = nn.Dropout(dropout);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; }
    /// <summary>Output channels of the first convolution (<see cref="OutChannels"/> unless set).</summary>
    public int MidChannels { get; }
    /// <summary>Border treatment of both convolutions.</summary>
    public Padding Padding { get; }
    /// <summary>Whether batch norm follows each convolution.</summary>
    public bool BatchNorm { get; }
    /// <summary>Dropout probability after the block (0: none).</summary>
    public double Dropout { get; }

    /// <inheritdoc />
    public override string Kind => "ConvBlock";

    /// <summary>Parameters of one 3x3 conv (+ batch norm) from <paramref name="inC"/> to <paramref name="outC"/>.</summary>
    public static long ConvParameters(int inC, int outC, bool batchNorm) =>
        batchNorm ? 9L * inC * outC + 2L * outC : 9L * inC * outC + outC;

    /// <inheritdoc />
    public override long ParameterCount =>
        ConvParameters(InChannels, MidChannels, BatchNorm) + ConvParameters(MidChannels, OutChannels, BatchNorm);

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var a = ShapeRules.Conv3x3(input, InChannels, MidChannels, Padding).OrThrow($"{Path} / conv1");
        trace?.Add(new ShapeTrace($"{Path} / conv1", "Conv3x3+ReLU", a, ConvParameters(InChannels, MidChannels, BatchNorm)));
        var b = ShapeRules.Conv3x3(a, MidChannels, OutChannels, Padding).OrThrow($"{Path} / conv2");
        trace?.Add(new ShapeTrace($"{Path} / conv2", "Conv3x3+ReLU", b, ConvParameters(MidChannels, OutChannels, BatchNorm)));
        return b;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        var a = Step(_conv1, _bn1, x);
        var b = Step(_conv2, _bn2, a);
        a.Dispose(); // last use of the first activation: free it before the next block runs
        if (_dropout is null) return b;
        var d = _dropout.call(b);
        if (!ReferenceEquals(d, b)) b.Dispose();
        return d;
    }

    private static Tensor Step(Conv2d conv, BatchNorm2d? bn, Tensor x)
    {
        var y = MixedPrecision.Call(conv, conv.weight!, x);
        if (bn is not null)
        {
            var z = MixedPrecision.Call(bn, bn.weight!, y);
            y.Dispose();
            y = z;
        }
        // In place: neither conv nor batch-norm backward needs its own output, so autograd allows it.
        return y.relu_();
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
