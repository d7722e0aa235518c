using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>Applies its children in order (each with its own probability), as a whole with probability <see cref="Transform.P"/>.</summary>
public sealed class Compose : Transform
{
    /// <summary>The children in order; <paramref name="p"/> is the chance the whole sequence runs.</summary>
    public Compose(IEnumerable<Transform> children, double p = 1) : base(p) => Children = children.ToArray();

    /// <summary>The steps, applied first to last.</summary>
    public IReadOnlyList<Transform> Children { get; }

    /// <inheritdoc/>
    public override void Check(int channels)
    {
        foreach (var c in Children) c.Check(channels);
    }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        // All seeds first: a child switched off (p = 0) or changed does not shift its siblings' draws.
        var seeds = Children.Select(_ => rng.Next()).ToArray();
        for (var i = 0; i < seeds.Length; i++) s = Children[i].Apply(s, seeds[i]);
        return s;
    }
}

/// <summary>
/// Picks one child with probability proportional to its weight and applies it (with the child's own
/// probability), as a whole with probability <see cref="Transform.P"/>.
/// </summary>
public sealed class OneOf : Transform
{
    /// <summary>The choices and their weights (null: equal weights).</summary>
    /// <exception cref="ArgumentException">No children, a weight count that does not match, or weights that are negative or sum to zero.</exception>
    public OneOf(IEnumerable<Transform> children, IEnumerable<double>? weights = null, double p = 1) : base(p)
    {
        Children = children.ToArray();
        if (Children.Count == 0) throw new ArgumentException("OneOf needs at least one choice");
        Weights = weights?.ToArray() ?? Enumerable.Repeat(1.0, Children.Count).ToArray();
        if (Weights.Count != Children.Count)
            throw new ArgumentException($"OneOf has {Children.Count} choices but {Weights.Count} weights");
        if (Weights.Any(x => !(x >= 0) || double.IsInfinity(x)) || Weights.Sum() <= 0)
            throw new ArgumentException($"OneOf weights must be finite, non-negative and not all zero, got [{string.Join(", ", Weights)}]");
    }

    /// <summary>The choices.</summary>
    public IReadOnlyList<Transform> Children { get; }

    /// <summary>Relative weight of each choice.</summary>
    public IReadOnlyList<double> Weights { get; }

    /// <inheritdoc/>
    public override void Check(int channels)
    {
        foreach (var c in Children) c.Check(channels);
    }

    /// <inheritdoc/>
    protected override Sample Run(Sample s, Random rng)
    {
        var u = rng.NextDouble() * Weights.Sum();
        var seed = rng.Next();
        // Rounding can leave u just above the last weight: fall back to the last choice that has weight.
        var pick = Children.Count - 1;
        while (Weights[pick] == 0) pick--;
        for (var i = 0; i < Children.Count; i++)
        {
            if (u < Weights[i]) { pick = i; break; }
            u -= Weights[i];
        }
        return Children[pick].Apply(s, seed);
    }
}
