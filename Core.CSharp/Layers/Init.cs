using System;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>Weight initialisation.</summary>
public static class Init
{
    /// <summary>
    /// The paper's initialisation: weights from a Gaussian with std sqrt(2/N), N = incoming
    /// nodes of one neuron (3x3 conv over 64 channels: N = 9 * 64 = 576); biases zero.
    /// </summary>
    public static void He(Tensor weight, Tensor? bias, long incoming)
    {
        using var _ = no_grad();
        nn.init.normal_(weight, 0.0, Math.Sqrt(2.0 / incoming));
        if (bias is not null) nn.init.zeros_(bias);
    }
}
