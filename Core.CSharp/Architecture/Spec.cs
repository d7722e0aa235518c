using System.Collections.Generic;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// One node of a network description: a tensor-free, immutable record that knows its shape rule (over
/// channels and N spatial axes), its parameter count, its naming role and how to build its runtime
/// <see cref="Layer"/>. Blocks carry their output channels only; input channels come from folding the
/// description from the input onwards. A new layer kind is one new record (plus its runtime layer).
/// Records compare by value, so descriptions can be compared, generated and shrunk.
/// </summary>
public abstract record Spec
{
    /// <summary>How <see cref="Naming"/> names the node (encoder/decoder block, down, up, head, skip, sequence).</summary>
    public abstract SpecRole Role { get; }

    /// <summary>The kind shown in summaries for a net of <paramref name="dims"/> spatial axes, e.g. "UpConv2x2".</summary>
    public abstract string Kind(int dims);

    /// <summary>The nodes directly inside this one, in execution order (empty for leaves).</summary>
    public virtual IReadOnlyList<Spec> Children => [];

    /// <summary>
    /// The size-independent checks (channels >= 1, probabilities in range): the output channels for
    /// <paramref name="inChannels"/> input channels, or why no size can work. <paramref name="node"/> is
    /// this spec's named form (paths for messages, named children).
    /// </summary>
    public abstract ChannelsResult Channels(Named node, int inChannels);

    /// <summary>
    /// The output shape for <paramref name="input"/>, adding this node's summary rows (and crops) to
    /// <paramref name="state"/>; null when the node refuses (the reason is in <see cref="InferState.Error"/>).
    /// </summary>
    public abstract Shape? Infer(Named node, Shape input, InferState state);

    /// <summary>Trainable parameters for <paramref name="inChannels"/> input channels over <paramref name="dims"/> axes.</summary>
    public abstract long Parameters(Named node, int inChannels, int dims);

    /// <summary>The runtime layer (with freshly initialised weights) for <paramref name="inChannels"/> input channels.</summary>
    public abstract Layer Build(Named node, int inChannels, int dims);

    /// <summary>
    /// How the node changes resolution, in powers of two from input to output (-1 for a down-step, +1 for
    /// an up-step), and the deepest down-sampling reached inside it relative to its input (&gt;= 0).
    /// </summary>
    public virtual (int Net, int Deepest) Resolution(Named node) => (0, 0);
}

/// <summary>What a node is for naming and resolution purposes.</summary>
public enum SpecRole
{
    /// <summary>A block of convolutions: "level k / enc", "level k / dec" or "bottom".</summary>
    Block,

    /// <summary>A down-step: "level k / down".</summary>
    Down,

    /// <summary>An up-step: "level k / up", parameters in the level's decoder scope.</summary>
    Up,

    /// <summary>The classifier: "head".</summary>
    Head,

    /// <summary>A skip connection: opens the next level.</summary>
    Skip,

    /// <summary>A sequence: no name of its own.</summary>
    Sequence,
}

/// <summary>The channels a node outputs, or why it cannot work at any size.</summary>
public readonly record struct ChannelsResult(int Channels, SpecError? Error)
{
    /// <summary>Accepted, with <paramref name="channels"/> output channels.</summary>
    public static ChannelsResult Ok(int channels) => new(channels, null);

    /// <summary>Refused at <paramref name="path"/>.</summary>
    public static ChannelsResult Fail(string path, string reason) => new(0, new SpecError(path, reason));
}

/// <summary>Why a description refuses: the layer's path and what is wrong there.</summary>
/// <param name="Path">The refusing layer, e.g. "level 2 / down".</param>
/// <param name="Reason">What is wrong, naming the offending size or channel count.</param>
public sealed record SpecError(string Path, string Reason)
{
    /// <summary>"path: reason", as <see cref="ShapeException"/> says it.</summary>
    public string Message => $"{Path}: {Reason}";

    /// <summary>The error as an exception.</summary>
    public ShapeException ToException() => new(Path, Reason);
}
