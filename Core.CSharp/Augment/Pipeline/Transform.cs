using System;
using CropCat.Data;

namespace CropCat.Augment;

/// <summary>
/// One step of an augmentation pipeline, applied with probability <see cref="P"/>. Deterministic given the seed:
/// <see cref="Apply"/> makes a <see cref="Random"/> from the seed, draws the "applied?" coin first and then the
/// transform's own parameters in a fixed order, so a transform's result depends only on its own seed (containers
/// hand each child a seed of its own, drawn whether or not the child is applied).
/// </summary>
public abstract class Transform
{
    /// <summary>Checks and stores the probability.</summary>
    /// <exception cref="ArgumentException"><paramref name="p"/> is not in [0, 1].</exception>
    protected Transform(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"{GetType().Name}: probability p must be in [0, 1], got {p}");
        P = p;
    }

    /// <summary>Probability that the transform is applied.</summary>
    public double P { get; }

    /// <summary>The transformed copy of <paramref name="s"/> for this seed (the input itself is never modified).</summary>
    /// <exception cref="ArgumentException">The transform cannot apply to this kind of sample (see <see cref="Check"/>).</exception>
    public Sample Apply(Sample s, int seed)
    {
        Check(s.Channels);
        var rng = new Random(seed);
        return rng.NextDouble() < P ? Run(s, rng) : NotApplied(s);
    }

    /// <summary>Whether <see cref="Apply"/> with this seed applies the transform (its coin alone).</summary>
    public bool Fires(int seed) => new Random(seed).NextDouble() < P;

    /// <summary>
    /// Refuses samples the transform can never apply to (hue on a gray image), whether or not its coin fires,
    /// so a misconfigured pipeline fails on the first sample and not at random.
    /// </summary>
    /// <exception cref="ArgumentException">It cannot apply to <paramref name="channels"/>-channel images.</exception>
    public virtual void Check(int channels) { }

    /// <summary>The transform itself, drawing its parameters from <paramref name="rng"/> after the coin.</summary>
    protected abstract Sample Run(Sample s, Random rng);

    /// <summary>What the sample becomes when the coin does not fire (the sample itself, except for crops).</summary>
    protected virtual Sample NotApplied(Sample s) => s;
}
