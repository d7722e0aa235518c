using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The runtime form of one node of a network description (<see cref="Architecture.Spec"/>): a leaf layer
/// (conv block, pool, up-step, head) or a combinator (chain, skip) with its forward pass and its
/// trainable TorchSharp modules. Shapes, names and parameter counts belong to the description;
/// <see cref="Nets.Network"/> registers the modules under the description's stable names
/// ("enc1.conv1.weight").
/// </summary>
public abstract class Layer
{
    /// <summary>Creates a layer shown as <paramref name="path"/>.</summary>
    protected Layer(string path) => Path = path;

    /// <summary>The layer's path, e.g. "level 2 / enc", as in summaries and shape errors.</summary>
    public string Path { get; }

    /// <summary>
    /// Computes the layer. Returns a new tensor the caller owns and never disposes <paramref name="x"/>;
    /// intermediates are disposed at their last use, so peak memory is what the graph needs, not the whole pass.
    /// </summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>The layers directly inside this one (empty for leaves).</summary>
    public virtual IEnumerable<Layer> Children => [];

    /// <summary>The TorchSharp modules this layer owns, with the scope and local name to register them under.</summary>
    public virtual IEnumerable<(string Scope, string Name, nn.Module Module)> Modules => [];
}
