using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// One ResNet stage (<see cref="ResNetStageSpec"/>): the optional 3x3 stride-2 max-pool, then residual
/// blocks y = relu(main(x) + identity(x)), main being conv-bn(-relu) steps and identity x itself or its
/// 1x1 projection. Registered under torchvision's names ("encoder.layer1.0.conv1", "encoder.layer2.0.downsample.0").
/// </summary>
public sealed class ResNetStage : Layer
{
    private readonly bool _pool;
    private readonly List<(string Scope, ConvBn[] Main, ConvBn? Projection)> _blocks = [];

    /// <summary>Creates the stage of <paramref name="spec"/> for <paramref name="inChannels"/> input channels.</summary>
    public ResNetStage(string path, ResNetStageSpec spec, int inChannels) : base(path)
    {
        _pool = spec.Stage == 1;
        var i = 0;
        foreach (var block in ResNetConvs.Stage(inChannels, spec.Width, spec.Blocks, spec.Stride, spec.Bottleneck))
        {
            var main = block.Where(c => !ResNetConvs.IsProjection(c)).Select(c => new ConvBn(c)).ToArray();
            var projection = block.FirstOrDefault(ResNetConvs.IsProjection) is { } p ? new ConvBn(p) : null;
            _blocks.Add((spec.BlockScope(i++), main, projection));
        }
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        var current = _pool ? nn.functional.max_pool2d(x, 3, 2, 1) : x.alias();
        foreach (var (_, main, projection) in _blocks)
        {
            var y = current.alias();
            for (var k = 0; k < main.Length; k++)
            {
                var z = main[k].Forward(y);
                y.Dispose();
                // The last step's ReLU waits for the residual sum; in place, as batch-norm backward does not need its output.
                y = k < main.Length - 1 ? z.relu_() : z;
            }
            using (var identity = projection is null ? current.alias() : projection.Forward(current))
            using (var id = MixedPrecision.Like(identity, y))
                y.add_(id).relu_();
            current.Dispose();
            current = y;
        }
        return current;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            foreach (var (scope, main, projection) in _blocks)
            {
                foreach (var c in main)
                {
                    yield return (scope, c.Spec.Name, c.Conv);
                    yield return (scope, "bn" + c.Spec.Name[^1], c.Norm);
                }
                if (projection is not null)
                {
                    yield return ($"{scope}.downsample", "0", projection.Conv);
                    yield return ($"{scope}.downsample", "1", projection.Norm);
                }
            }
        }
    }
}
