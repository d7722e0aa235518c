using System;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// A segmentation loss: a scalar energy of a net's logits and the truth that stays on the autograd graph.
/// Values are immutable records compared by value; <see cref="ToString"/> writes the text form that
/// <see cref="Parse"/> reads back (see <see cref="ObjectiveText"/> for the grammar), and <c>+</c> and <c>*</c>
/// build weighted sums.
/// </summary>
public abstract record Objective
{
    /// <summary>
    /// The loss of one batch.
    /// </summary>
    /// <param name="logits">(N, K, H, W) raw scores: K = 1 is a binary sigmoid head, K &gt;= 2 a softmax head.</param>
    /// <param name="target">(N, H, W) int64 class indices (0/1 for a binary head).</param>
    /// <param name="weights">(N, H, W) per-pixel weights (the paper's map, 0 where invalid) or null for 1 everywhere;
    /// used by the pixel losses (cross-entropies and focal), not by the region losses (Dice, Jaccard, Tversky, Lovasz).</param>
    /// <param name="valid">(N, H, W) 0/1 mask or null for all valid: pixels where it is 0 affect neither value nor gradient.</param>
    /// <returns>A scalar tensor of the logits' dtype; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">Shapes that do not fit, or a head this loss does not take.</exception>
    public abstract Tensor Compute(Tensor logits, Tensor target, Tensor? weights = null, Tensor? valid = null);

    /// <summary>Checks the parameters (ranges, lengths); throws <see cref="ArgumentException"/> naming the loss.</summary>
    public abstract void Validate();

    /// <summary>The text form, e.g. <c>bce+dice</c> or <c>0.5*focal(gamma=1.5)+lovasz</c>; <see cref="Parse"/> reads it back.</summary>
    public sealed override string ToString() => ObjectiveText.Write(this);

    /// <summary>Reads the text form (e.g. <c>"bce+dice"</c>, <c>"0.5*focal+lovasz"</c>, <c>"tversky(alpha=0.3,beta=0.7)"</c>).</summary>
    /// <exception cref="FormatException">Unknown names or parameters (the message lists the known ones), or bad syntax.</exception>
    public static Objective Parse(string text) => ObjectiveText.Parse(text);

    /// <summary>The objective that <paramref name="kind"/> names: the same values as <see cref="Losses.Compute"/> wherever
    /// <c>valid</c> is null or all 1 (with invalid pixels, cross-entropy here averages over valid pixels only).</summary>
    public static Objective FromKind(LossKind kind) => kind switch
    {
        LossKind.WeightedCrossEntropy => new WeightedCrossEntropy(),
        LossKind.Dice => new Dice(),
        LossKind.WeightedCrossEntropyPlusDice => new WeightedCrossEntropy() + new Dice(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown loss kind"),
    };

    /// <summary>The sum of two objectives; sums are flattened, so <c>a + b + c</c> has three terms.</summary>
    public static Objective operator +(Objective a, Objective b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new WeightedSum([.. TermsOf(a), .. TermsOf(b)]);
    }

    /// <summary><paramref name="objective"/> scaled by <paramref name="weight"/> (a finite number &gt;= 0).</summary>
    public static Objective operator *(double weight, Objective objective)
    {
        ArgumentNullException.ThrowIfNull(objective);
        // A one-term sum is rescaled rather than nested, so 0.5 * (2 * dice) is 1*dice.
        if (objective is WeightedSum { Terms.Count: 1 } single)
            return new WeightedSum([new WeightedTerm(weight * single.Terms[0].Weight, single.Terms[0].Objective)]);
        return new WeightedSum([new WeightedTerm(weight, objective)]);
    }

    /// <summary><paramref name="objective"/> scaled by <paramref name="weight"/>.</summary>
    public static Objective operator *(Objective objective, double weight) => weight * objective;

    private static WeightedTerm[] TermsOf(Objective o) =>
        o is WeightedSum s ? [.. s.Terms] : [new WeightedTerm(1.0, o)];
}
