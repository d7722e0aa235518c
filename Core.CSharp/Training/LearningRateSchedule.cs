using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CropCat.Training;

/// <summary>How the learning rate changes over training.</summary>
public enum ScheduleKind
{
    /// <summary>The base rate throughout.</summary>
    Constant,
    /// <summary>nnU-Net's polynomial decay: base * (1 - step / total)^power.</summary>
    Poly,
    /// <summary>Linear warm-up over the first steps, then cosine decay to 0 at the last step.</summary>
    Cosine,
    /// <summary>base * gamma^floor(step / every).</summary>
    Step,
}

/// <summary>
/// A learning-rate schedule as a factor of the base rate per optimisation step. It depends only on the step count,
/// so a resumed run follows it exactly. Text form (<see cref="Parse"/>, <see cref="ToString"/>): <c>constant</c>,
/// <c>poly</c> or <c>poly(power=0.9)</c>, <c>cosine(warmup=100)</c>, <c>step(every=1000,gamma=0.5)</c>.
/// </summary>
/// <param name="Kind">The shape.</param>
/// <param name="Power">Poly's exponent (nnU-Net: 0.9).</param>
/// <param name="WarmupSteps">Cosine's linear warm-up steps.</param>
/// <param name="Every">Step's period in steps.</param>
/// <param name="Gamma">Step's factor per period.</param>
public sealed record LearningRateSchedule(ScheduleKind Kind, double Power = 0.9, long WarmupSteps = 0, long Every = 1000, double Gamma = 0.1)
{
    /// <summary>The base rate throughout.</summary>
    public static LearningRateSchedule Constant { get; } = new(ScheduleKind.Constant);

    /// <summary>The factor of the base rate at 0-based step <paramref name="step"/> of <paramref name="total"/>.</summary>
    public double Factor(long step, long total)
    {
        total = Math.Max(1, total);
        var s = Math.Clamp(step, 0, total);
        return Kind switch
        {
            ScheduleKind.Constant => 1,
            ScheduleKind.Poly => Math.Pow(1 - (double)s / total, Power),
            ScheduleKind.Cosine when s < WarmupSteps => (s + 1.0) / WarmupSteps,
            ScheduleKind.Cosine => 0.5 * (1 + Math.Cos(Math.PI * (s - WarmupSteps) / Math.Max(1, total - WarmupSteps))),
            ScheduleKind.Step => Math.Pow(Gamma, s / Every),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown schedule"),
        };
    }

    /// <summary>Checks the parameters.</summary>
    /// <exception cref="ArgumentException">A parameter out of range.</exception>
    public void Validate()
    {
        if (Kind == ScheduleKind.Poly && !(Power > 0)) throw new ArgumentException($"schedule {this}: power must be > 0");
        if (WarmupSteps < 0) throw new ArgumentException($"schedule {this}: warm-up steps must be >= 0");
        if (Kind == ScheduleKind.Step && (Every < 1 || !(Gamma > 0))) throw new ArgumentException($"schedule {this}: every must be >= 1 and gamma > 0");
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ScheduleKind.Constant => "constant",
        ScheduleKind.Poly => string.Create(CultureInfo.InvariantCulture, $"poly(power={Power})"),
        ScheduleKind.Cosine => string.Create(CultureInfo.InvariantCulture, $"cosine(warmup={WarmupSteps})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"step(every={Every},gamma={Gamma})"),
    };

    private static readonly Regex Form = new(@"^\s*(?<name>[a-z]+)\s*(\((?<args>[^)]*)\))?\s*$", RegexOptions.CultureInvariant);

    /// <summary>Reads the text form.</summary>
    /// <exception cref="FormatException">An unknown schedule or parameter, or a bad number; the message lists what is known.</exception>
    public static LearningRateSchedule Parse(string text)
    {
        var m = Form.Match(text.ToLowerInvariant());
        if (!m.Success) throw new FormatException($"schedule '{text}': expected name or name(key=value,...), e.g. poly, cosine(warmup=100), step(every=1000,gamma=0.5)");
        var kind = m.Groups["name"].Value switch
        {
            "constant" => ScheduleKind.Constant,
            "poly" => ScheduleKind.Poly,
            "cosine" => ScheduleKind.Cosine,
            "step" => ScheduleKind.Step,
            var other => throw new FormatException($"schedule '{text}': unknown '{other}'; known: constant, poly, cosine, step"),
        };
        var s = new LearningRateSchedule(kind);
        foreach (var part in m.Groups["args"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                throw new FormatException($"schedule '{text}': '{part}' is not key=number");
            s = (kind, kv[0]) switch
            {
                (ScheduleKind.Poly, "power") => s with { Power = v },
                (ScheduleKind.Cosine, "warmup") => s with { WarmupSteps = (long)v },
                (ScheduleKind.Step, "every") => s with { Every = (long)v },
                (ScheduleKind.Step, "gamma") => s with { Gamma = v },
                _ => throw new FormatException($"schedule '{text}': {kind.ToString().ToLowerInvariant()} has no parameter '{kv[0]}' (poly: power; cosine: warmup; step: every, gamma)"),
            };
        }
        try
        {
            s.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException(e.Message, e);
        }
        return s;
    }
}
