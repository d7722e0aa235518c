using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// A complete, tensor-free network description: the input's channels, its number of spatial axes
/// (2 for images, 3 for volumes) and the layers that follow. Everything about a network that does not
/// need its weights is answered here: names, shapes, refusals, parameter counts, valid sizes.
/// </summary>
/// <param name="InChannels">Channels of the input (1 for gray, 3 for RGB).</param>
/// <param name="Body">The layers, applied left to right.</param>
/// <param name="Dims">Spatial axes: 2 (height, width) or 3 (depth, height, width); 1 also works.</param>
public sealed record NetSpec(int InChannels, Spec Body, int Dims = 2)
{
    /// <summary>The description with every node named.</summary>
    public Named Named => Naming.Name(Body);

    /// <summary>
    /// The fixed per-channel normalisation the network applies to its input before the first layer, or null for
    /// none (the input is used as given; CropCat's folder training and prediction then standardise each image).
    /// Stored with the description (JSON "normalize"), so a checkpoint carries it; descriptions written before it
    /// existed have none and compute what they always did.
    /// </summary>
    public InputNormalization? Normalization { get; init; }

    /// <summary>
    /// The size-independent checks: input channels and axes, every node's channels (zero channels, bad
    /// dropout, a residual add of unequal channels); null when the description can work at some size.
    /// </summary>
    public SpecError? Check() => Check(Named);

    internal SpecError? Check(Named named)
    {
        if (InChannels < 1) return new SpecError("input", $"the input needs at least 1 channel, got {InChannels}");
        if (Dims is < 1 or > 3) return new SpecError("input", $"CropCat builds nets of 1, 2 or 3 spatial axes, got {Dims}");
        if (Normalization?.Problem(InChannels) is { } p) return new SpecError("input", p);
        return Body.Channels(named, InChannels).Error;
    }

    /// <summary>Output channels (the head's classes), or the refusal of <see cref="Check()"/>.</summary>
    public int OutChannels
    {
        get
        {
            var named = Named;
            var c = Body.Channels(named, InChannels);
            return c.Error is null ? c.Channels : throw Check(named)!.ToException();
        }
    }

    /// <summary>Trainable parameters (size-independent).</summary>
    /// <exception cref="ShapeException">The description cannot work at any size (<see cref="Check()"/>).</exception>
    public long Parameters
    {
        get
        {
            var named = Named;
            if (Check(named) is { } e) throw e.ToException();
            return Body.Parameters(named, InChannels, Dims);
        }
    }

    /// <summary>
    /// The deepest down-sampling of the net, in 2x2 down-steps (4 for the paper's net): the largest number
    /// of down-steps not yet undone on any path. Every axis is down-sampled alike.
    /// </summary>
    public int Depth => Body.Resolution(Named).Deepest;

    /// <summary>2^<see cref="Depth"/> (16 for the paper's net): tiles of an unpadded net start at multiples of it on every axis.</summary>
    public int DownsamplingFactor => 1 << Depth;

    /// <summary>The shape of an input of <paramref name="extents"/> (one per spatial axis).</summary>
    public Shape InputShape(IReadOnlyList<int> extents) => new(InChannels, extents);

    /// <summary>
    /// Inference for an input of <paramref name="extents"/>: every layer's output, or the first layer that
    /// refuses and how many summary rows passed before it (to pick the most telling refusal).
    /// </summary>
    public InferOutcome TryInfer(IReadOnlyList<int> extents) => TryInfer(Named, extents);

    internal InferOutcome TryInfer(Named named, IReadOnlyList<int> extents)
    {
        if (Check(named) is { } e) return new InferOutcome(null, e, 0);
        if (extents.Count != Dims)
            return new InferOutcome(null, new SpecError("input", $"a {Dims}-D net needs {Dims} sizes, got {extents.Count} ({string.Join("x", extents)})"), 0);
        if (extents.Any(x => x < 1))
            return new InferOutcome(null, new SpecError("input", $"size {string.Join("x", extents)} is empty"), 0);
        var input = InputShape(extents);
        var state = new InferState();
        var output = Body.Infer(named, input, state);
        return output is { } o
            ? new InferOutcome(new Inferred(input, state.Rows, state.Crops, o), null, state.Rows.Count)
            : new InferOutcome(null, state.Error, state.Rows.Count);
    }

    /// <summary>Every layer's output for an input of <paramref name="extents"/>.</summary>
    /// <exception cref="ShapeException">Some layer refuses; the message names it and the axis.</exception>
    public Inferred Infer(params int[] extents)
    {
        var o = TryInfer(extents);
        return o.Value ?? throw o.Error!.ToException();
    }

    /// <summary>The same size on every axis.</summary>
    public int[] Cube(int size) => Enumerable.Repeat(size, Dims).ToArray();
}

/// <summary>The outcome of <see cref="NetSpec.TryInfer(IReadOnlyList{int})"/>.</summary>
/// <param name="Value">The inference, when every layer accepted.</param>
/// <param name="Error">The first refusal, otherwise.</param>
/// <param name="Reached">Summary rows that passed before the refusal (all rows on success).</param>
public sealed record InferOutcome(Inferred? Value, SpecError? Error, int Reached)
{
    /// <summary>Whether every layer accepted.</summary>
    public bool IsOk => Value is not null;
}
