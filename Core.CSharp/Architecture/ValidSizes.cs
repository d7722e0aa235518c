using System;
using System.Collections.Generic;
using System.Linq;

namespace CropCat.Architecture;

/// <summary>
/// The sizes First, First + Period, First + 2 Period, ... of one axis, with an affine output size:
/// the k-th size gives output FirstOutput + k * OutputStep.
/// </summary>
/// <param name="First">The smallest size of the progression.</param>
/// <param name="Period">The distance between sizes: the down-sampling factor 2^depth.</param>
/// <param name="FirstOutput">The output size for <paramref name="First"/>.</param>
/// <param name="OutputStep">How much the output grows per step of the progression.</param>
public sealed record Progression(int First, int Period, int FirstOutput, int OutputStep)
{
    /// <summary>Whether <paramref name="n"/> is one of the sizes.</summary>
    public bool Contains(int n) => n >= First && (n - First) % Period == 0;

    /// <summary>The output size for a size <paramref name="n"/> of the progression.</summary>
    public int OutputOf(int n) => FirstOutput + OutputStep * ((n - First) / Period);

    /// <summary>"188 + 16k -> 4 + 16k (output = input - 184)".</summary>
    public override string ToString()
    {
        var shift = FirstOutput - First;
        var rel = OutputStep != Period ? ""
            : shift == 0 ? " (output = input)"
            : shift < 0 ? $" (output = input - {-shift})"
            : $" (output = input + {shift})";
        return $"{First} + {Period}k -> {FirstOutput} + {OutputStep}k{rel}";
    }
}

/// <summary>
/// The valid sizes of one spatial axis of a description. Every shape rule acts on each axis alone, so a
/// multi-axis input is valid exactly when each of its sizes is (anisotropic sizes are fine), and each
/// axis' output follows the same progressions.
/// </summary>
/// <param name="Period">2^depth: validity depends only on n mod Period and a lower bound.</param>
/// <param name="Progressions">The valid sizes as progressions, ordered by their first size.</param>
/// <param name="Limit">The largest size the solver's checks reached (sizes beyond follow the same closed form).</param>
public sealed record Solution(int Period, IReadOnlyList<Progression> Progressions, int Limit)
{
    /// <summary>Whether <paramref name="n"/> is a valid size of an axis.</summary>
    public bool Contains(int n) => Progressions.Any(p => p.Contains(n));

    /// <summary>Whether every size of <paramref name="extents"/> is valid.</summary>
    public bool ContainsAll(IEnumerable<int> extents) => extents.All(Contains);

    /// <summary>The smallest valid size.</summary>
    public int Smallest => Progressions.Min(p => p.First);

    /// <summary>The output size for input <paramref name="n"/>, or null when <paramref name="n"/> is not valid.</summary>
    public int? OutputOf(int n) => Progressions.FirstOrDefault(p => p.Contains(n))?.OutputOf(n);

    /// <summary>The largest valid size &lt;= <paramref name="n"/>, if any.</summary>
    public int? Below(int n) =>
        Progressions.Where(p => n >= p.First).Select(p => (int?)(p.First + (n - p.First) / p.Period * p.Period)).Max();

    /// <summary>The smallest valid size &gt;= <paramref name="n"/>.</summary>
    public int Above(int n) =>
        Progressions.Min(p => n <= p.First ? p.First : p.First + (n - p.First + p.Period - 1) / p.Period * p.Period);

    /// <summary>The valid size nearest to <paramref name="n"/>; on a tie the larger one (it keeps more context).</summary>
    public int Nearest(int n) => Below(n) is { } b && n - b < Above(n) - n ? b : Above(n);

    /// <summary>
    /// The smallest input whose output is at least <paramref name="wanted"/> pixels, with that output. Every
    /// size rule is monotone, so the output grows with the input; null when no input gets there.
    /// </summary>
    public (int Input, int Output)? InputFor(int wanted)
    {
        var candidates = Progressions.Select(p =>
            p.FirstOutput >= wanted ? (int?)p.First
            : p.OutputStep <= 0 ? null
            : p.First + (wanted - p.FirstOutput + p.OutputStep - 1) / p.OutputStep * p.Period)
            .Where(n => n is not null).Select(n => n!.Value).ToList();
        if (candidates.Count == 0) return null;
        var input = candidates.Min();
        return (input, OutputOf(input)!.Value);
    }

    /// <summary>
    /// The smallest valid size &gt;= <paramref name="atLeast"/> whose output is at least <paramref name="minOutput"/>;
    /// null when none (an output that cannot grow).
    /// </summary>
    public (int Input, int Output)? AtLeast(int atLeast, int minOutput = 1)
    {
        var best = ((int Input, int Output)?)null;
        foreach (var p in Progressions)
        {
            var n = atLeast <= p.First ? p.First : p.First + (atLeast - p.First + p.Period - 1) / p.Period * p.Period;
            var o = p.OutputOf(n);
            if (o < minOutput)
            {
                if (p.OutputStep <= 0) continue;
                var k = (minOutput - o + p.OutputStep - 1) / p.OutputStep;
                n += k * p.Period;
                o = p.OutputOf(n);
            }
            if (best is null || n < best.Value.Input) best = (n, o);
        }
        return best;
    }
}

/// <summary>The outcome of <see cref="ValidSizes.Solve"/>: the solution or why there is none.</summary>
public sealed record SolveOutcome(Solution? Value, SpecError? Error)
{
    /// <summary>The solution.</summary>
    /// <exception cref="Shapes.ShapeException">The description has no valid size, or is outside the solver's form.</exception>
    public Solution OrThrow() => Value ?? throw Error!.ToException();
}

/// <summary>
/// Solves for the valid input sizes of a description in closed form, one axis at a time. Why a closed
/// form exists: let D be the net's depth and P = 2^D. Along the class n = r + P t (fixed r in [0, P))
/// every feature size is affine in t with a positive slope (each 3x3 conv subtracts a constant, each pool
/// halves a slope that is still even, each up doubles), so the odd-size refusals of strict pools do not
/// depend on t, and every other rule (size >= 3, >= 2, crop source >= target, equal sizes for concat/add)
/// is an affine inequality or equation in t. When no skip body up-samples more often than it
/// down-samples, none of those can turn false as t grows, so the valid t of a class form a half-line
/// [t0, inf) (or nothing). The solver asks inference at the largest t below the limit whether the class
/// is valid at all, binary-searches t0, and reads the output map from two evaluations, checked against a
/// third and the largest. A skip body with more up- than down-steps can make the valid set bounded; such
/// descriptions are refused (naming the skip) instead of guessed at.
/// </summary>
public static class ValidSizes
{
    /// <summary>Sizes the solver checks up to, before accounting for up-steps outside skips.</summary>
    public const int BaseLimit = 1 << 20;

    // (net exponent of ups - downs, largest running up exponent reached inside), refusing unbalanced skip bodies.
    private static (int Net, int Peak, SpecError? Error) Growth(Named node)
    {
        switch (node.Spec.Role)
        {
            case SpecRole.Skip:
                {
                    var (e, peak, err) = Growth(node.Children[0]);
                    if (err is not null) return (0, 0, err);
                    if (e > 0)
                    {
                        var merge = node.Spec is SkipSpec s ? s.Merge : Shapes.Merge.CropConcat;
                        var consequence = merge == Shapes.Merge.CropConcat
                            ? "so beyond the smallest sizes it must crop its skip input to a larger size"
                            : "so its size can equal the skip input's at one size at most";
                        return (0, 0, new SpecError(node.Path,
                            $"the skip body has {e} more up- than down-steps, {consequence}; the valid-size solver only takes skip bodies that do not up-sample overall"));
                    }
                    return (e, peak, null);
                }
            case SpecRole.Sequence:
                {
                    int net = 0, peak = 0;
                    foreach (var c in node.Children)
                    {
                        var (e, p, err) = Growth(c);
                        if (err is not null) return (0, 0, err);
                        peak = Math.Max(peak, net + p);
                        net += e;
                    }
                    return (net, peak, null);
                }
            default:
                {
                    var (net, _) = node.Spec.Resolution(node);
                    return (net, Math.Max(0, net), null);
                }
        }
    }

    /// <summary>
    /// Solves <paramref name="net"/>, or says why it cannot be solved: the description refuses every size
    /// (the most telling refusal is given, at the size that got furthest), or it is outside the solver's form.
    /// </summary>
    public static SolveOutcome Solve(NetSpec net)
    {
        var named = net.Named;
        if (net.Check(named) is { } bad) return new SolveOutcome(null, bad);
        var (_, peak, unbalanced) = Growth(named);
        if (unbalanced is not null) return new SolveOutcome(null, unbalanced);
        var d = net.Body.Resolution(named).Deepest;
        if (d > 12) return new SolveOutcome(null, new SpecError("net", $"depth {d}; the valid-size solver handles at most 12 down-steps"));
        if (peak > 10) return new SolveOutcome(null, new SpecError("net", $"sizes grow by 2^{peak} inside the net; the valid-size solver handles at most 2^10"));
        var period = 1 << d;
        var limit = BaseLimit >> peak;
        InferOutcome Attempt(int n) => net.TryInfer(named, net.Cube(n));
        bool Valid(int n) => n >= 1 && Attempt(n).IsOk;
        int OutputAt(int n) => Attempt(n).Value?.Output.Width ?? throw new InvalidOperationException($"unreachable: size {n} was checked valid");

        var classes = new List<(int R, int Lo, int TMax, int N0, int O0, int Step)>();
        for (var r = 0; r < period; r++)
        {
            var tMax = (limit - r) / period;
            if (tMax < 0 || !Valid(r + period * tMax)) continue;
            // Smallest valid t: validity is monotone in t on this class.
            int lo = 0, hi = tMax;
            while (lo < hi)
            {
                var mid = lo + (hi - lo) / 2;
                if (Valid(r + period * mid)) hi = mid; else lo = mid + 1;
            }
            var n0 = r + period * lo;
            var o0 = OutputAt(n0);
            var step = lo < tMax ? OutputAt(r + period * (lo + 1)) - o0 : 0;
            classes.Add((r, lo, tMax, n0, o0, step));
        }

        foreach (var (r, lo, tMax, n0, o0, step) in classes)
            foreach (var t in new[] { lo + 2, tMax }.Where(t => t <= tMax))
                if (OutputAt(r + period * t) != o0 + step * (t - lo))
                    return new SolveOutcome(null, new SpecError("net",
                        $"the output size is not affine on the sizes {n0} + {period}k (it differs at {r + period * t}); the valid-size solver cannot describe this net"));

        if (classes.Count == 0)
        {
            // Every class refuses: report the refusal that got furthest through the net; on a tie the
            // smaller size reads better in the message. Each class is probed near the paper's 572 and at the limit.
            var worst = Enumerable.Range(0, period)
                .SelectMany(r => new[] { Math.Max(0, (572 - r) / period), (limit - r) / period }.Select(t => r + period * t))
                .Where(n => n >= 1)
                .Select(n => (N: n, O: Attempt(n)))
                .Where(x => !x.O.IsOk)
                .OrderBy(x => x.N)
                .Aggregate((a, b) => b.O.Reached > a.O.Reached ? b : a);
            var size = string.Join("x", net.Cube(worst.N));
            return new SolveOutcome(null, worst.O.Error! with { Reason = $"no input size works; at {size}: {worst.O.Error!.Reason}" });
        }

        var progressions = classes.Select(c => new Progression(c.N0, period, c.O0, c.Step)).OrderBy(p => p.First).ToList();
        return new SolveOutcome(new Solution(period, progressions, limit), null);
    }
}
