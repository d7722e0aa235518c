using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Up-sampling by two. Transposed: a 2x2 transposed convolution with stride 2 (the paper's
/// "up-convolution"). Bilinear: bilinear x2 interpolation (align corners) followed by a 1x1
/// convolution that sets the channels. Both map n -> 2n.
/// </summary>
public sealed class Up : Layer
{
    private readonly ConvTranspose2d? _transposed;
    private readonly Conv2d? _project;
    private readonly string _scope;

    /// <summary>Creates the up-step.</summary>
    /// <param name="path">Display path, e.g. "level 3 / up".</param>
    /// <param name="scope">Parameter scope, e.g. "dec3" (gives "dec3.up.weight").</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (half the input in the paper).</param>
    /// <param name="mode">Transposed or Bilinear.</param>
    public Up(string path, string scope, int inChannels, int outChannels, UpMode mode = UpMode.Transposed) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        InChannels = inChannels;
        OutChannels = outChannels;
        Mode = mode;
        _scope = scope;
        if (mode == UpMode.Transposed)
        {
            _transposed = nn.ConvTranspose2d(inChannels, outChannels, 2, stride: 2);
            // Each output pixel of a stride-2 2x2 transposed conv sees one tap per input channel.
            Init.He(_transposed.weight!, _transposed.bias, inChannels);
        }
        else
        {
            _project = nn.Conv2d(inChannels, outChannels, 1);
            Init.He(_project.weight!, _project.bias, inChannels);
        }
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; }
    /// <summary>Transposed or Bilinear.</summary>
    public UpMode Mode { get; }

    /// <inheritdoc />
    public override string Kind => Mode == UpMode.Transposed ? "UpConv2x2" : "Bilinear2x+1x1";

    /// <summary>Parameters of an up-step from <paramref name="inC"/> to <paramref name="outC"/> channels.</summary>
    public static long Parameters(int inC, int outC, UpMode mode) =>
        mode == UpMode.Transposed ? 4L * inC * outC + outC : (long)inC * outC + outC;

    /// <inheritdoc />
    public override long ParameterCount => Parameters(InChannels, OutChannels, Mode);

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var y = ShapeRules.Up2x(input, InChannels, OutChannels).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, ParameterCount));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        if (_transposed is not null) return MixedPrecision.Call(_transposed, _transposed.weight!, x);
        using var up = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: true);
        return MixedPrecision.Call(_project!, _project!.weight!, up);
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get { yield return (_scope, "up", (nn.Module?)_transposed ?? _project!); }
    }
}
