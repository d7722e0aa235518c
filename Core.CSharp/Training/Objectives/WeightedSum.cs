using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>One term of a <see cref="WeightedSum"/>: a weight (finite, &gt;= 0) times an objective.</summary>
public sealed record WeightedTerm(double Weight, Objective Objective);

/// <summary>
/// Σ weight_i objective_i, e.g. <c>0.5*focal+lovasz</c>. Built by <c>+</c> and <c>*</c> on <see cref="Objective"/> or by
/// <see cref="Objective.Parse"/>; compared by value, term by term in order.
/// </summary>
public sealed record WeightedSum : Objective
{
    /// <summary>The terms, in order; at least one.</summary>
    public IReadOnlyList<WeightedTerm> Terms { get; }

    /// <summary>A sum of <paramref name="terms"/> (copied).</summary>
    public WeightedSum(IEnumerable<WeightedTerm> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        Terms = [.. terms];
        if (Terms.Count == 0) throw new ArgumentException("sum of losses: needs at least one term");
    }

    /// <inheritdoc />
    public override void Validate()
    {
        foreach (var t in Terms)
        {
            if (!double.IsFinite(t.Weight) || t.Weight < 0)
                throw new ArgumentException($"sum of losses: the weight of {t.Objective} must be a finite number >= 0, got {t.Weight}");
            t.Objective.Validate();
        }
    }

    /// <inheritdoc />
    public override Tensor Compute(Tensor logits, Tensor target, Tensor? weights = null, Tensor? valid = null)
    {
        Validate();
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var t in Terms)
        {
            var term = t.Objective.Compute(logits, target, weights, valid) * t.Weight;
            total = total is null ? term : total + term;
        }
        return total!.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public bool Equals(WeightedSum? other) => other is not null && Terms.SequenceEqual(other.Terms);

    /// <inheritdoc />
    public override int GetHashCode() => Terms.Aggregate(Terms.Count, (h, t) => HashCode.Combine(h, t));
}
