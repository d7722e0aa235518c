using System;
using System.Linq;
using CropCat.Architecture;
using CropCat.Layers;

namespace CropCat.Interop.Onnx;

/// <summary>The normalisations and activations of a block as ONNX operators (opset 17).</summary>
internal sealed partial class OnnxLayers
{
    /// <summary>The block's <paramref name="index"/>-th normalisation on <paramref name="x"/>; x itself without one.</summary>
    private string BlockNorm(Named node, BlockSpec b, int index, string x)
    {
        var module = $"{node.Scope}.{BlockParts.NormName(b.Normalization, index)}";
        var path = $"{node.Path}/{BlockParts.NormName(b.Normalization, index)}";
        return b.Normalization switch
        {
            Layers.BlockNorm.None => x,
            Layers.BlockNorm.Batch => Norm(path, module, x),
            Layers.BlockNorm.Instance => _g.Node("InstanceNormalization", path,
                [x, Parameter(path, $"{module}.weight").Name, Parameter(path, $"{module}.bias").Name],
                OnnxMessages.FloatAttr("epsilon", (float)Eps(path, module))),
            Layers.BlockNorm.Group => GroupNorm(path, module, b.Groups, x),
            _ => throw new OnnxExportException(path, $"the ONNX exporter does not know the normalisation {b.Normalization}"),
        };
    }

    /// <summary>
    /// Group norm without opset 18's GroupNormalization: reshape (N, C, ...) to (N, G, -1), instance-normalise the G
    /// "channels" with unit scale and zero shift (the statistics over each group's channels and pixels), reshape back
    /// and apply the per-channel affine weight and bias, as PyTorch's GroupNorm computes.
    /// </summary>
    private string GroupNorm(string path, string module, int groups, string x)
    {
        var shape = _g.Node("Shape", $"{path}/shape", [x]);
        var grouped = _g.Node("Reshape", $"{path}/grouped", [x, _g.Int64s(0, groups, -1)]);
        var ones = _g.Floats(Enumerable.Repeat(1f, groups).ToArray());
        var zeros = _g.Floats(new float[groups]);
        var normalised = _g.Node("InstanceNormalization", $"{path}/normalise", [grouped, ones, zeros],
            OnnxMessages.FloatAttr("epsilon", (float)Eps(path, module)));
        var back = _g.Node("Reshape", $"{path}/ungrouped", [normalised, shape]);
        // (C) -> (C, 1, ...): broadcast over the spatial axes.
        var perChannel = _g.Int64s([-1, .. Enumerable.Repeat(1L, _dims)]);
        var weight = _g.Node("Reshape", $"{path}/weight", [Parameter(path, $"{module}.weight").Name, perChannel]);
        var bias = _g.Node("Reshape", $"{path}/bias", [Parameter(path, $"{module}.bias").Name, perChannel]);
        return _g.Node("Add", path, [_g.Node("Mul", $"{path}/scale", [back, weight]), bias]);
    }

    private double Eps(string path, string module) => _modules.TryGetValue(module, out var m)
        ? m switch
        {
            TorchSharp.Modules.InstanceNorm i => i.eps,
            TorchSharp.Modules.GroupNorm g => g.eps,
            _ => throw new OnnxExportException(path, $"'{module}' is not an instance or group norm but {m.GetType().Name}"),
        }
        : throw new OnnxExportException(path, $"the network has no normalisation module '{module}'");

    private string Activation(string path, BlockSpec b, string x) => b.Activation switch
    {
        BlockActivation.ReLU => _g.Node("Relu", path, [x]),
        BlockActivation.LeakyReLU => _g.Node("LeakyRelu", path, [x], OnnxMessages.FloatAttr("alpha", (float)b.Slope)),
        BlockActivation.ELU => _g.Node("Elu", path, [x], OnnxMessages.FloatAttr("alpha", 1f)),
        // Opset 17 has no SiLU operator: x * sigmoid(x).
        BlockActivation.SiLU => _g.Node("Mul", path, [x, _g.Node("Sigmoid", $"{path}/sigmoid", [x])]),
        _ => throw new OnnxExportException(path, $"the ONNX exporter does not know the activation {b.Activation}"),
    };
}
