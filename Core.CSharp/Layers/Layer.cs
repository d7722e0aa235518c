using System.Collections.Generic;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// One node of a CropCat network: a leaf layer (conv block, pool, up, head) or a combinator
/// (chain, skip). A layer knows its display path ("level 2 / down"), its shape rule and its
/// forward pass; its trainable TorchSharp modules are registered by <see cref="Nets.Network"/>
/// under stable, readable names ("enc1.conv1.weight").
/// </summary>
public abstract class Layer
{
    /// <summary>Creates a layer shown as <paramref name="path"/> in summaries and shape errors.</summary>
    protected Layer(string path) => Path = path;

    /// <summary>The layer's path, e.g. "level 2 / enc"; used in summaries and shape errors.</summary>
    public string Path { get; }

    /// <summary>A short name of the layer kind for summaries, e.g. "ConvBlock".</summary>
    public abstract string Kind { get; }

    /// <summary>The output shape for <paramref name="input"/>, adding rows to <paramref name="trace"/>.</summary>
    /// <exception cref="ShapeException">The layer (or one inside it) refuses the shape; the message names its path.</exception>
    public abstract Shape Infer(Shape input, List<ShapeTrace>? trace = null);

    /// <summary>
    /// Computes the layer. Returns a new tensor the caller owns and never disposes <paramref name="x"/>;
    /// intermediates are disposed at their last use, so peak memory is what the graph needs, not the whole pass.
    /// </summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>Number of trainable parameters, computed from the hyperparameters alone.</summary>
    public abstract long ParameterCount { get; }

    /// <summary>The layers directly inside this one (empty for leaves).</summary>
    public virtual IEnumerable<Layer> Children => [];

    /// <summary>The TorchSharp modules this layer owns, with the scope and local name to register them under.</summary>
    public virtual IEnumerable<(string Scope, string Name, nn.Module Module)> Modules => [];
}
