using System.Collections.Generic;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Up-sampling by two (<see cref="Architecture.UpSpec"/>). Transposed: a 2^N transposed convolution with
/// stride 2 (the paper's "up-convolution"). Bilinear: (bi/tri)linear x2 interpolation with aligned
/// corners, then a 1x1 convolution that sets the channels. Interpolate: the interpolation alone.
/// </summary>
public sealed class Up : Layer
{
    private readonly Convolution? _conv;
    private readonly string _scope;
    private readonly int _dims;
    private readonly UpMode _mode;

    /// <summary>Creates the up-step.</summary>
    /// <param name="path">Display path, e.g. "level 3 / up".</param>
    /// <param name="scope">Parameter scope, e.g. "dec3" (gives "dec3.up.weight").</param>
    /// <param name="dims">Spatial axes.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels (ignored by <see cref="UpMode.Interpolate"/>, which keeps them).</param>
    /// <param name="mode">Transposed, Bilinear or Interpolate.</param>
    public Up(string path, string scope, int dims, int inChannels, int outChannels, UpMode mode) : base(path)
    {
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        _dims = dims;
        _mode = mode;
        _conv = mode switch
        {
            UpMode.Transposed => NdModules.UpConv(dims, inChannels, outChannels),
            UpMode.Bilinear => NdModules.Conv(dims, inChannels, outChannels, 1, 0, bias: true),
            _ => null,
        };
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        if (_mode == UpMode.Transposed) return MixedPrecision.Call(_conv!, _conv!.weight!, x);
        var up = NdModules.Interpolate2x(_dims, x);
        if (_conv is null) return up;
        using (up) return MixedPrecision.Call(_conv, _conv.weight!, up);
    }

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get { if (_conv is not null) yield return (_scope, "up", _conv); }
    }
}
