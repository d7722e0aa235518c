using System.Linq;
using CropCat.Architecture;

namespace CropCat.Interop.Onnx;

/// <summary>
/// The ONNX operators of the ResNet U-Net's layers (<see cref="ResNetUNets"/>), in eval mode like the rest of the
/// exporter: torchvision's stem and stages (Conv + BatchNormalization, ReLU, the stage-1 max-pool with padding 1, the
/// residual Add), smp's nearest x2 up-sampling (Resize "nearest", asymmetric coordinates, floor: source index
/// floor(i / 2), as PyTorch's nearest), its [up, skip] concat, decoder blocks and 3x3 head. Weights are read under
/// the net's names ("encoder.layer2.0.downsample.0.weight", "decoder.blocks.0.conv1.1.running_mean").
/// </summary>
internal sealed partial class OnnxLayers
{
    private string ConvBn(string path, string conv, string norm, string x, ResNetConv c, bool relu)
    {
        var y = Norm($"{path}/bn", norm, Conv(path, conv, x, c.Kernel, c.Padding, bias: false, stride: c.Stride));
        return relu ? _g.Node("Relu", $"{path}/relu", [y]) : y;
    }

    private string Stem(Named node, string x)
    {
        // The stem's input channels are its weight's: the rest of the convolution is fixed by torchvision.
        var (_, dims) = Parameter(node.Path, "encoder.conv1.weight");
        var spec = (ResNetStemSpec)node.Spec;
        return ConvBn($"{node.Path}/encoder.conv1", "encoder.conv1", "encoder.bn1", x, spec.Conv((int)dims[1]), relu: true);
    }

    private string Stage(Named node, ResNetStageSpec r, string x)
    {
        var current = x;
        if (r.Stage == 1)
            current = _g.Node("MaxPool", $"{node.Path}/encoder.maxpool", [current],
                OnnxMessages.Ints("kernel_shape", Fill(3)), OnnxMessages.Ints("strides", Fill(2)), OnnxMessages.Ints("pads", Fill(1).Concat(Fill(1)).ToArray()));
        var (_, first) = Parameter(node.Path, $"{r.BlockScope(0)}.conv1.weight");
        var i = 0;
        foreach (var block in ResNetConvs.Stage((int)first[1], r.Width, r.Blocks, r.Stride, r.Bottleneck))
        {
            var scope = r.BlockScope(i++);
            var main = block.Where(c => !ResNetConvs.IsProjection(c)).ToList();
            var y = current;
            for (var k = 0; k < main.Count; k++)
            {
                var c = main[k];
                // The last convolution's ReLU follows the residual sum.
                y = ConvBn($"{node.Path}/{scope}.{c.Name}", $"{scope}.{c.Name}", $"{scope}.bn{c.Name[^1]}", y, c, relu: k < main.Count - 1);
            }
            var identity = block.FirstOrDefault(ResNetConvs.IsProjection) is { } p
                ? ConvBn($"{node.Path}/{scope}.downsample", $"{scope}.downsample.0", $"{scope}.downsample.1", current, p, relu: false)
                : current;
            current = _g.Node("Relu", $"{node.Path}/{scope}/relu", [_g.Node("Add", $"{node.Path}/{scope}/add", [y, identity])]);
        }
        return current;
    }

    private string Nearest(Named node, string x)
    {
        var scales = _g.Floats([1f, 1f, .. Enumerable.Repeat(2f, _dims)]);
        return _g.Node("Resize", node.Path, [x, "", scales],
            OnnxMessages.StringAttr("mode", "nearest"), OnnxMessages.StringAttr("coordinate_transformation_mode", "asymmetric"),
            OnnxMessages.StringAttr("nearest_mode", "floor"));
    }

    private string SmpBlock(Named node, SmpDecoderBlockSpec d, string x)
    {
        var (_, dims) = Parameter(node.Path, $"{d.Scope}.conv1.0.weight");
        var y = x;
        foreach (var c in d.Convs((int)dims[1]))
            y = ConvBn($"{node.Path}/{d.Scope}.{c.Name}", $"{d.Scope}.{c.Name}.0", $"{d.Scope}.{c.Name}.1", y, c, relu: true);
        return y;
    }
}
