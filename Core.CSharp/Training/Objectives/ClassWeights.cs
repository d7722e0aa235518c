using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace CropCat.Training;

/// <summary>One weight per class, compared by value (so the records holding it are too); text form <c>[0.2,1,2]</c>.</summary>
public sealed class ClassWeights : IReadOnlyList<double>, IEquatable<ClassWeights>
{
    private readonly double[] _w;

    /// <summary>A copy of <paramref name="weights"/>, one per class in channel order.</summary>
    public ClassWeights(IEnumerable<double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _w = [.. weights];
        if (_w.Length == 0) throw new ArgumentException("class_weights: need at least one weight");
    }

    /// <inheritdoc />
    public double this[int index] => _w[index];

    /// <inheritdoc />
    public int Count => _w.Length;

    /// <inheritdoc />
    public IEnumerator<double> GetEnumerator() => ((IEnumerable<double>)_w).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(ClassWeights? other) => other is not null && _w.AsSpan().SequenceEqual(other._w);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ClassWeights);

    /// <inheritdoc />
    public override int GetHashCode() => _w.Aggregate(_w.Length, (h, x) => HashCode.Combine(h, x));

    /// <summary>The text form, e.g. <c>[0.2,1,2]</c>.</summary>
    public override string ToString() => "[" + string.Join(",", _w.Select(ObjectiveText.Number)) + "]";
}
