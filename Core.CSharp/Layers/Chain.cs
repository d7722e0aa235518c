using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>Sequential composition: the output of each layer is the input of the next.</summary>
public sealed class Chain : Layer
{
    private readonly Layer[] _layers;

    /// <summary>Composes <paramref name="layers"/> left to right.</summary>
    public Chain(string path, params Layer[] layers) : base(path) => _layers = layers;

    /// <summary>The composed layers in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <inheritdoc />
    public override IEnumerable<Layer> Children => _layers;

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        if (_layers.Length == 0) return x.alias();
        var current = x;
        foreach (var l in _layers)
        {
            var next = l.Forward(current);
            // Each intermediate dies as soon as the next layer has consumed it.
            if (!ReferenceEquals(current, x)) current.Dispose();
            current = next;
        }
        return current;
    }
}
