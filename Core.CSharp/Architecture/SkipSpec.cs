using System;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// The attention gate of Attention U-Net (Oktay et al. 2018) on a skip: the skip feature x is weighted by
/// alpha = sigmoid(psi(relu(W_x x + W_g g))) before the merge, g being the body's output. Its weights are
/// the skip's own: "att{k}.wx.weight" (x -> <see cref="Channels"/>, no bias), "att{k}.wg.weight/bias"
/// (g -> <see cref="Channels"/>), "att{k}.psi.weight/bias" (<see cref="Channels"/> -> 1).
/// </summary>
/// <param name="Channels">The gate's intermediate channels (F_int in the paper).</param>
public sealed record GateSpec(int Channels)
{
    /// <summary>Parameters of the gate for skip channels <paramref name="skip"/> and gating channels <paramref name="gate"/>.</summary>
    public long Parameters(int skip, int gate) => (long)skip * Channels + ((long)gate * Channels + Channels) + (Channels + 1L);
}

/// <summary>
/// y = merge(x, body x). CropConcat centre-crops x to the body's size and concatenates [x, body x] (the
/// paper's "copy and crop"); Concat needs equal sizes; PadConcat pads the body to x's size (milesial);
/// Add needs equal shapes. With a <see cref="Gate"/> (CropConcat and Concat only) x is attention-gated first.
/// </summary>
/// <param name="Merge">How x and body x are merged.</param>
/// <param name="Body">What the skip goes around.</param>
/// <param name="Gate">An attention gate on x, or null.</param>
public sealed record SkipSpec(Merge Merge, Spec Body, GateSpec? Gate = null) : Spec
{
    /// <inheritdoc />
    public override SpecRole Role => SpecRole.Skip;

    /// <inheritdoc />
    public override System.Collections.Generic.IReadOnlyList<Spec> Children => [Body];

    /// <inheritdoc />
    public override string Kind(int dims) => (Gate is null ? "" : "Attn") + Merge switch
    {
        Merge.CropConcat => "CropCat",
        Merge.Concat => "Concat",
        Merge.PadConcat => "PadConcat",
        Merge.Add => "Add",
        _ => throw new ArgumentOutOfRangeException(nameof(Merge), Merge, "unknown merge"),
    };

    /// <inheritdoc />
    public override ChannelsResult Channels(Named node, int inChannels)
    {
        var b = Body.Channels(node.Children[0], inChannels);
        if (b.Error is not null) return b;
        if (Gate is not null)
        {
            if (Merge is not (Merge.CropConcat or Merge.Concat))
                return ChannelsResult.Fail(node.Path, $"an attention gate needs a crop-and-cat or concat merge, got {Merge}");
            if (Gate.Channels < 1)
                return ChannelsResult.Fail(node.Path, $"an attention gate needs at least 1 intermediate channel, got {Gate.Channels}");
        }
        if (Merge == Merge.Add)
            return b.Channels == inChannels
                ? b
                : ChannelsResult.Fail(node.Path, $"add needs equal channels, got skip {inChannels} and body {b.Channels}");
        return ChannelsResult.Ok(inChannels + b.Channels);
    }

    /// <inheritdoc />
    public override Shape? Infer(Named node, Shape input, InferState state)
    {
        if (Body.Infer(node.Children[0], input, state) is not { } b) return null;
        if (state.Rule(node.Path, ShapeRules.MergeShapes(input, b, Merge)) is not { } y) return null;
        if (Merge == Merge.CropConcat) state.Crops.Add(new CropMargin(node.Path, input, b));
        state.Row(node.Path, Kind(input.Dims), y, Gate?.Parameters(input.Channels, b.Channels) ?? 0);
        return y;
    }

    /// <inheritdoc />
    public override long Parameters(Named node, int inChannels, int dims)
    {
        var body = Body.Parameters(node.Children[0], inChannels, dims);
        var gate = Gate?.Parameters(inChannels, Body.Channels(node.Children[0], inChannels).Channels) ?? 0;
        return body + gate;
    }

    /// <inheritdoc />
    public override Layer Build(Named node, int inChannels, int dims)
    {
        var body = Body.Build(node.Children[0], inChannels, dims);
        var gate = Gate is null
            ? null
            : new AttentionGate(node.Scope, dims, inChannels, Body.Channels(node.Children[0], inChannels).Channels, Gate.Channels);
        return new Skip(node.Path, body, Merge, gate);
    }

    /// <inheritdoc />
    public override (int Net, int Deepest) Resolution(Named node)
    {
        // Crop-and-cat (and the equal-size merges) keep the body's resolution; pad-and-cat the skip input's.
        var (net, deepest) = Body.Resolution(node.Children[0]);
        return (Merge == Merge.PadConcat ? 0 : net, Math.Max(0, deepest));
    }
}
