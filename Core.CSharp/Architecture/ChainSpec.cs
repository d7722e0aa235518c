using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>The specs in order, each feeding the next. Equality compares the items in order.</summary>
/// <param name="Items">The specs, applied left to right.</param>
public sealed record ChainSpec(IReadOnlyList<Spec> Items) : Spec
{
    /// <summary>A chain of <paramref name="items"/>.</summary>
    public ChainSpec(params Spec[] items) : this((IReadOnlyList<Spec>)items) { }

    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Sequence;

    /// <inheritdoc />
    public override IReadOnlyList<Spec> Children => Items;

    /// <inheritdoc />
    public override string Kind(int dims) => "Chain";

    /// <inheritdoc />
    public bool Equals(ChainSpec? other) => other is not null && Items.SequenceEqual(other.Items);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var i in Items) h.Add(i);
        return h.ToHashCode();
    }

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        var c = ChannelsResult.Ok(inChannels);
        for (var i = 0; i < Items.Count && c.Error is null; i++) c = Items[i].Channels(node.Children[i], c.Channels);
        return c;
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        Shape? s = input;
        for (var i = 0; i < Items.Count && s is not null; i++) s = Items[i].Infer(node.Children[i], s.Value, state);
        return s;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims)
    {
        long total = 0;
        var c = inChannels;
        for (var i = 0; i < Items.Count; i++)
        {
            total += Items[i].Parameters(node.Children[i], c, dims);
            c = Items[i].Channels(node.Children[i], c).Channels;
        }
        return total;
    }

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims)
    {
        var layers = new Layer[Items.Count];
        var c = inChannels;
        for (var i = 0; i < Items.Count; i++)
        {
            layers[i] = Items[i].Build(node.Children[i], c, dims);
            c = Items[i].Channels(node.Children[i], c).Channels;
        }
        return new Chain(node.Path, layers);
    }

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node)
    {
        int running = 0, deepest = 0;
        for (var i = 0; i < Items.Count; i++)
        {
            var (net, d) = Items[i].Resolution(node.Children[i]);
            // Going down lowers the resolution: a down-step's Net is -1, so depth is -running.
            deepest = Math.Max(deepest, -running + d);
            running += net;
        }
        return (running, deepest);
    }
}
