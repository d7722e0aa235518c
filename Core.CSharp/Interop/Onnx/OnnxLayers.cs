using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;
using Padding = CropCat.Shapes.Padding;

namespace CropCat.Interop.Onnx;

/// <summary>
/// Writes each node of a network description as ONNX operators computing what its runtime layer computes in
/// eval mode (dropout is the identity, batch norm uses its running statistics), with the network's
/// parameters as initializers under their state-dict names. Only the kinds listed in <see cref="Emit"/> are
/// known: any other kind is refused by path, so a new layer kind gets a refusal, never a wrong graph.
/// </summary>
internal sealed partial class OnnxLayers
{
    private readonly OnnxGraph _g;
    private readonly int _dims;
    private readonly Dictionary<string, Tensor> _parameters;
    private readonly Dictionary<string, nn.Module> _modules;

    public OnnxLayers(OnnxGraph graph, int dims, Dictionary<string, Tensor> parameters, Dictionary<string, nn.Module> modules)
    {
        _g = graph;
        _dims = dims;
        _parameters = parameters;
        _modules = modules;
    }

    /// <summary>Emits <paramref name="node"/> on the value <paramref name="x"/>; returns the output value's name.</summary>
    public string Emit(Named node, string x) => node.Spec switch
    {
        ChainSpec => node.Children.Aggregate(x, (v, c) => Emit(c, v)),
        BlockSpec b => Block(node, b, x),
        PoolSpec => _g.Node("MaxPool", $"{node.Path}", [x], OnnxMessages.Ints("kernel_shape", Fill(2)), OnnxMessages.Ints("strides", Fill(2))),
        UpSpec u => Up(node, u, x),
        HeadSpec => Conv(node.Path, node.Scope, x, 1, 0, bias: true),
        SkipSpec s => Skip(node, s, x),
        ResNetStemSpec => Stem(node, x),
        ResNetStageSpec r => Stage(node, r, x),
        NearestUpSpec => Nearest(node, x),
        BodyFirstSkipSpec => _g.Node("Concat", node.Path, [Emit(node.Children[0], x), x], OnnxMessages.Int("axis", 1)),
        SmpDecoderBlockSpec d => SmpBlock(node, d, x),
        SmpHeadSpec => Conv(node.Path, "segmentation_head.0", x, 3, 1, bias: true),
        _ => throw new OnnxExportException(node.Path,
            $"the ONNX exporter does not know the layer kind {node.Spec.GetType().Name} ({node.Spec.Kind(_dims)}); " +
            "it writes ConvBlock, MaxPool, UpConv/Bilinear/Interpolate, Head, Chain, CropConcat/Concat/PadConcat/Add skips (attention-gated or not) and the ResNet U-Net's layers"),
    };

    private long[] Fill(long v) => Enumerable.Repeat(v, _dims).ToArray();

    private string Block(Named node, BlockSpec b, string x)
    {
        var pad = b.Padding == Padding.Same ? 1 : 0;
        var bias = Layers.BlockParts.ConvBias(b.Normalization);
        var a = Conv($"{node.Path}/conv1", $"{node.Scope}.conv1", x, 3, pad, bias);
        a = BlockNorm(node, b, 1, a);
        a = Activation($"{node.Path}/act1", b, a);
        var y = Conv($"{node.Path}/conv2", $"{node.Scope}.conv2", a, 3, pad, bias);
        y = BlockNorm(node, b, 2, y);
        // Dropout is the identity at inference, which is what an exported graph is for.
        return b.FinalRelu ? Activation($"{node.Path}/act2", b, y) : y;
    }

    private string Up(Named node, UpSpec u, string x)
    {
        if (u.Mode == UpMode.Transposed)
        {
            var w = Parameter(node.Path, $"{node.Scope}.up.weight");
            var bias = Parameter(node.Path, $"{node.Scope}.up.bias");
            return _g.Node("ConvTranspose", node.Path, [x, w.Name, bias.Name],
                OnnxMessages.Ints("kernel_shape", Fill(2)), OnnxMessages.Ints("strides", Fill(2)));
        }
        // interpolate(scale_factor=2, align_corners=True): output 2n, sampling at i * (n - 1) / (2n - 1),
        // which is ONNX Resize's "align_corners" transform with scales 2 on the spatial axes.
        var scales = _g.Floats([1f, 1f, .. Enumerable.Repeat(2f, _dims)]);
        var up = _g.Node("Resize", $"{node.Path}/resize", [x, "", scales],
            OnnxMessages.StringAttr("mode", "linear"), OnnxMessages.StringAttr("coordinate_transformation_mode", "align_corners"));
        return u.Mode == UpMode.Bilinear ? Conv($"{node.Path}/conv", $"{node.Scope}.up", up, 1, 0, bias: true) : up;
    }

    private string Skip(Named node, SkipSpec s, string x)
    {
        var b = Emit(node.Children[0], x);
        switch (s.Merge)
        {
            case Merge.CropConcat:
                {
                    var c = CenterCrop(node.Path, x, b);
                    return _g.Node("Concat", node.Path, [Gate(node, s, c, b), b], OnnxMessages.Int("axis", 1));
                }
            case Merge.Concat:
                return _g.Node("Concat", node.Path, [Gate(node, s, x, b), b], OnnxMessages.Int("axis", 1));
            case Merge.PadConcat:
                return _g.Node("Concat", node.Path, [x, PadTo(node.Path, b, x)], OnnxMessages.Int("axis", 1));
            case Merge.Add:
                return _g.Node("Add", node.Path, [x, b]);
            default:
                throw new OnnxExportException(node.Path, $"the ONNX exporter does not know the merge {s.Merge}");
        }
    }

    /// <summary>x * sigmoid(psi(relu(W_x x + W_g g))), as <see cref="Layers.AttentionGate"/>; x itself without a gate.</summary>
    private string Gate(Named node, SkipSpec s, string x, string g)
    {
        if (s.Gate is null) return x;
        var p = $"{node.Path}/gate";
        var a = Conv($"{p}/wx", $"{node.Scope}.wx", x, 1, 0, bias: false);
        var b = Conv($"{p}/wg", $"{node.Scope}.wg", g, 1, 0, bias: true);
        var sum = _g.Node("Relu", $"{p}/relu", [_g.Node("Add", $"{p}/add", [a, b])]);
        var alpha = _g.Node("Sigmoid", $"{p}/alpha", [Conv($"{p}/psi", $"{node.Scope}.psi", sum, 1, 0, bias: true)]);
        return _g.Node("Mul", $"{p}/gated", [x, alpha]);
    }

    /// <summary>The spatial extents of <paramref name="v"/> at run time (Shape from axis 2), so spatial axes stay dynamic.</summary>
    private string Spatial(string path, string v) => _g.Node("Shape", $"{path}/shape", [v], OnnxMessages.Int("start", 2));

    /// <summary>
    /// <paramref name="x"/> centre-cropped to <paramref name="target"/>'s spatial size, computed from the run-time
    /// shapes: offset = (source - target) / 2 (integer division of a non-negative margin: floor, as
    /// <see cref="ShapeRules.CropOffset"/>), then Slice [offset, offset + target) on axes 2...
    /// </summary>
    private string CenterCrop(string path, string x, string target)
    {
        var xs = Spatial($"{path}/crop/x", x);
        var ts = Spatial($"{path}/crop/target", target);
        var offset = _g.Node("Div", $"{path}/crop/offset", [_g.Node("Sub", $"{path}/crop/margin", [xs, ts]), _g.Int64s(2)]);
        var end = _g.Node("Add", $"{path}/crop/end", [offset, ts]);
        var axes = _g.Int64s(Enumerable.Range(2, _dims).Select(a => (long)a).ToArray());
        return _g.Node("Slice", $"{path}/crop", [x, offset, end, axes]);
    }

    /// <summary>
    /// <paramref name="b"/> zero-padded to <paramref name="like"/>'s spatial size, margin d per axis split as
    /// d / 2 before and d - d / 2 after (the runtime Skip's F.pad).
    /// </summary>
    private string PadTo(string path, string b, string like)
    {
        var d = _g.Node("Sub", $"{path}/pad/margin", [Spatial($"{path}/pad/x", like), Spatial($"{path}/pad/body", b)]);
        var before = _g.Node("Div", $"{path}/pad/before", [d, _g.Int64s(2)]);
        var after = _g.Node("Sub", $"{path}/pad/after", [d, before]);
        var zeros = _g.Int64s(0, 0);
        var pads = _g.Node("Concat", $"{path}/pad/pads", [zeros, before, zeros, after], OnnxMessages.Int("axis", 0));
        return _g.Node("Pad", $"{path}/pad", [b, pads]);
    }

    private string Conv(string path, string module, string x, long kernel, long pad, bool bias, long stride = 1)
    {
        var w = Parameter(path, $"{module}.weight");
        var inputs = bias ? new[] { x, w.Name, Parameter(path, $"{module}.bias").Name } : [x, w.Name];
        var attributes = new List<ProtoWriter> { OnnxMessages.Ints("kernel_shape", Fill(kernel)), OnnxMessages.Ints("pads", Enumerable.Repeat(pad, 2 * _dims)) };
        // ONNX's default stride is 1: only strided convolutions say it, so the other graphs stay as they were.
        if (stride != 1) attributes.Add(OnnxMessages.Ints("strides", Fill(stride)));
        return _g.Node("Conv", path, inputs, [.. attributes]);
    }

    private string Norm(string path, string module, string x)
    {
        if (!_modules.TryGetValue(module, out var m) || m is not TorchSharp.Modules.BatchNorm bn)
            throw new OnnxExportException(path, $"the network has no batch-norm module '{module}'");
        if (!bn.track_running_stats)
            throw new OnnxExportException(path, "batch norm without running statistics normalises by each batch's own statistics, which an inference graph does not express");
        string P(string n) => Parameter(path, $"{module}.{n}").Name;
        return _g.Node("BatchNormalization", path, [x, P("weight"), P("bias"), P("running_mean"), P("running_var")],
            OnnxMessages.FloatAttr("epsilon", (float)bn.eps));
    }

    /// <summary>The parameter or buffer <paramref name="name"/> as an initializer (once; later uses share it).</summary>
    private (string Name, long[] Dims) Parameter(string path, string name)
    {
        if (!_parameters.TryGetValue(name, out var t))
            throw new OnnxExportException(path, $"the network has no parameter '{name}'");
        if (_written.TryGetValue(name, out var done)) return done;
        using var scope = NewDisposeScope();
        // detach() gives a new handle, so the scope never disposes the network's own parameter.
        var dense = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        var dims = dense.shape;
        return _written[name] = (_g.Weight(name, dims, dense.data<float>().ToArray()), dims);
    }

    private readonly Dictionary<string, (string, long[])> _written = [];
}
