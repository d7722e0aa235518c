using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// One loss (not a sum): checks the shapes and the head, turns <c>valid</c> and <see cref="IgnoreIndex"/> into one
/// mask, neutralises the logits and labels of masked pixels and evaluates the formula inside a dispose scope, so that
/// every intermediate tensor is freed when <see cref="Compute"/> returns.
/// </summary>
public abstract record BasicObjective : Objective
{
    /// <summary>Pixels whose target is this label are left out like invalid ones (e.g. 255); null: none.
    /// It must not be a class index of the head.</summary>
    public int? IgnoreIndex { get; init; }

    /// <summary>This loss with <see cref="IgnoreIndex"/> set to <paramref name="label"/> (for languages without <c>with</c>).</summary>
    public BasicObjective WithIgnoreIndex(int? label) => this with { IgnoreIndex = label };

    /// <summary>The loss's name in the text form (e.g. <c>bce</c>).</summary>
    public abstract string Name { get; }

    private protected abstract Heads Accepts { get; }

    /// <summary>Parameters that differ from their defaults, as text-form pairs, in the order Parse lists them.</summary>
    private protected abstract IEnumerable<(string Key, string Value)> OwnParameters();

    private protected abstract Tensor Evaluate(LossInputs x);

    internal IEnumerable<(string Key, string Value)> Parameters()
    {
        foreach (var p in OwnParameters()) yield return p;
        if (IgnoreIndex is int i) yield return ("ignore_index", ObjectiveText.Number(i));
    }

    /// <inheritdoc />
    public override void Validate() { }

    /// <inheritdoc />
    public sealed override Tensor Compute(Tensor logits, Tensor target, Tensor? weights = null, Tensor? valid = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        Validate();
        LossInputs.Check(Name, Accepts, logits, target, weights, valid, IgnoreIndex);
        using var scope = NewDisposeScope();
        var x = LossInputs.Prepare(Name, logits, target, weights, valid, IgnoreIndex);
        return Evaluate(x).MoveToOuterDisposeScope();
    }

    private protected static void Require(bool ok, string name, string message)
    {
        if (!ok) throw new ArgumentException($"{name}: {message}");
    }
}
