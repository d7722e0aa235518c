using System.Collections.Generic;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The additive attention gate of Attention U-Net (Oktay et al. 2018) as a skip's merge weights: for the
/// skip feature x (already cropped to the gating feature's size) and the gating feature g (the decoder's
/// up-sampled map), alpha = sigmoid(psi(relu(W_x x + W_g g))) with 1^N convolutions W_x: Cx -> F,
/// W_g: Cg -> F, psi: F -> 1, and the skip passes as x * alpha.
/// </summary>
public sealed class AttentionGate
{
    private readonly Convolution _wx, _wg, _psi;
    private readonly string _scope;

    /// <summary>Creates the gate; parameters are "<paramref name="scope"/>.wx.weight", ".wg", ".psi".</summary>
    public AttentionGate(string scope, int dims, int skipChannels, int gateChannels, int interChannels)
    {
        NativeRuntime.EnsureLoaded();
        _scope = scope;
        _wx = NdModules.Conv(dims, skipChannels, interChannels, 1, 0, bias: false);
        _wg = NdModules.Conv(dims, gateChannels, interChannels, 1, 0, bias: true);
        _psi = NdModules.Conv(dims, interChannels, 1, 1, 0, bias: true);
    }

    /// <summary>x * alpha(x, g): the gated skip feature (a new tensor; neither input is disposed).</summary>
    public Tensor Apply(Tensor x, Tensor g)
    {
        using var a = MixedPrecision.Call(_wx, _wx.weight!, x);
        using var b = MixedPrecision.Call(_wg, _wg.weight!, g);
        using var sum = a + b;
        sum.relu_(); // in place: add's backward does not need its output
        using var logit = MixedPrecision.Call(_psi, _psi.weight!, sum);
        using var alpha = logit.sigmoid();
        using var alphaX = MixedPrecision.Like(alpha, x);
        return x * alphaX;
    }

    /// <summary>The gate's modules with their scope and names.</summary>
    public IEnumerable<(string Scope, string Name, nn.Module Module)> Modules
    {
        get
        {
            yield return (_scope, "wx", _wx);
            yield return (_scope, "wg", _wg);
            yield return (_scope, "psi", _psi);
        }
    }
}
