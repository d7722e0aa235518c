using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace CropCat.Augment;

/// <summary>A malformed augmentation pipeline: <see cref="Where"/> is the JSON path ("compose[1].oneOf[0].elastic"), <see cref="Problem"/> what is wrong.</summary>
public sealed class AugmentJsonException(string where, string problem) : Exception($"augment pipeline {where}: {problem}")
{
    /// <summary>The JSON path of the problem.</summary>
    public string Where { get; } = where;

    /// <summary>What is wrong there.</summary>
    public string Problem { get; } = problem;
}

/// <summary>Parses the JSON form documented on <see cref="AugmentPipeline"/>.</summary>
internal static class PipelineJsonReader
{
    private static readonly string[] Resampled = ["border", "fill", "interpolation", "p"];

    public static Transform Parse(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new AugmentJsonException("$", $"not valid JSON: {e.Message}");
        }
        using (doc) return Node("$", doc.RootElement);
    }

    private static AugmentJsonException Bad(string where, string problem) => new(where, problem);

    private static Transform Node(string where, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(where, $"expected a transform object, got {e.GetRawText()}");
        if (e.TryGetProperty("compose", out var list))
        {
            AllowOnly(where, e, "compose", "p");
            return Guard(where, () => new Compose(Children($"{where}.compose", list), P(where, e)));
        }
        if (e.TryGetProperty("oneOf", out list))
        {
            AllowOnly(where, e, "oneOf", "weights", "p");
            var children = Children($"{where}.oneOf", list);
            double[]? weights = e.TryGetProperty("weights", out var ws) ? Numbers($"{where}.weights", ws) : null;
            return Guard(where, () => new OneOf(children, weights, P(where, e)));
        }
        var keys = e.EnumerateObject().Select(p => p.Name).ToList();
        if (keys.Count != 1)
            throw Bad(where, $"a transform is an object with exactly one kind key ({string.Join(", ", Kinds)}, compose, oneOf), got {(keys.Count == 0 ? "none" : string.Join(", ", keys))}");
        var kind = keys[0];
        var body = e.GetProperty(kind);
        var at = where == "$" ? kind : $"{where}.{kind}";
        if (body.ValueKind != JsonValueKind.Object) throw Bad(at, $"expected an object of settings, got {body.GetRawText()}");
        return Guard(at, () => Leaf(at, kind, body));
    }

    internal static readonly string[] Kinds =
        ["flip", "rotate90", "affine", "elastic", "gridDistortion", "crop", "padIfNeeded", "brightnessContrast", "gamma", "noise", "blur", "hueSaturation"];

    private static Transform Leaf(string at, string kind, JsonElement b)
    {
        switch (kind)
        {
            case "flip":
                AllowOnly(at, b, "axis", "p");
                var axis = Opt<FlipAxis?>(b, "axis", v => Choice($"{at}.axis", v, ("horizontal", FlipAxis.Horizontal), ("vertical", FlipAxis.Vertical)), null)
                    ?? throw Bad(at, "a flip needs \"axis\": \"horizontal\" or \"vertical\"");
                return new Flip(axis, P(at, b));
            case "rotate90":
                AllowOnly(at, b, "turns", "p");
                var turns = Opt<int[]?>(b, "turns", v => Numbers($"{at}.turns", v).Select(t => WholeNumber($"{at}.turns", t)).ToArray(), null);
                return new QuarterTurns(P(at, b), turns);
            case "affine":
                AllowOnly(at, b, [.. Resampled, "shift", "scale", "rotate", "shear"]);
                return new Affine(Range(at, b, "shift", 0), Range(at, b, "scale", 1), Range(at, b, "rotate", 0), Range(at, b, "shear", 0), Resampling(at, b), P(at, b));
            case "elastic":
                AllowOnly(at, b, [.. Resampled, "grid", "alpha", "sigma"]);
                var hasAlpha = b.TryGetProperty("alpha", out var alpha);
                if (hasAlpha && b.TryGetProperty("grid", out _))
                    throw Bad(at, "elastic takes either \"grid\" (the paper's coarse grid) or \"alpha\" (Simard's smoothed field), not both");
                if (hasAlpha)
                    return new ElasticSimard(Number($"{at}.alpha", alpha), Opt(b, "sigma", v => Number($"{at}.sigma", v), 4.0), Resampling(at, b), P(at, b));
                return new ElasticGrid(Opt(b, "grid", v => WholeNumber($"{at}.grid", Number($"{at}.grid", v)), 3),
                    Opt(b, "sigma", v => Number($"{at}.sigma", v), 10.0), Resampling(at, b), P(at, b));
            case "gridDistortion":
                AllowOnly(at, b, [.. Resampled, "steps", "limit"]);
                return new GridDistortion(Opt(b, "steps", v => WholeNumber($"{at}.steps", Number($"{at}.steps", v)), 5),
                    Opt(b, "limit", v => Number($"{at}.limit", v), 0.3), Resampling(at, b), P(at, b));
            case "crop":
            case "padIfNeeded":
                AllowOnly(at, b, "size", "border", "fill", "p");
                if (!b.TryGetProperty("size", out var size)) throw Bad(at, $"{kind} needs \"size\": [height, width] (or one number for a square)");
                var (h, w) = Size($"{at}.size", size);
                var r = Resampling(at, b);
                return kind == "crop" ? new RandomCrop(h, w, r.Border, r.Fill, P(at, b)) : new PadIfNeeded(h, w, r.Border, r.Fill, P(at, b));
            case "brightnessContrast":
                AllowOnly(at, b, "brightness", "contrast", "p");
                return new BrightnessContrast(Range(at, b, "brightness", 0), Range(at, b, "contrast", 1), P(at, b));
            case "gamma":
                AllowOnly(at, b, "range", "p");
                return new Gamma(Required(at, b, "range", 1), P(at, b));
            case "noise":
                AllowOnly(at, b, "std", "p");
                return new GaussianNoise(Required(at, b, "std", 0, nonNegative: true), P(at, b));
            case "blur":
                AllowOnly(at, b, "sigma", "p");
                return new GaussianBlur(Required(at, b, "sigma", 0, nonNegative: true), P(at, b));
            case "hueSaturation":
                AllowOnly(at, b, "hue", "saturation", "p");
                return new HueSaturation(Range(at, b, "hue", 0), Range(at, b, "saturation", 1), P(at, b));
            default:
                throw Bad(at, $"unknown transform '{kind}' (known: {string.Join(", ", Kinds)}, compose, oneOf)");
        }
    }

    /// <summary>Constructor refusals (a bad range, p above 1) become JSON errors that say where.</summary>
    private static Transform Guard(string where, Func<Transform> make)
    {
        try
        {
            return make();
        }
        catch (ArgumentException e)
        {
            throw Bad(where, e.Message);
        }
    }

    private static List<Transform> Children(string where, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Bad(where, $"expected a list of transforms, got {e.GetRawText()}");
        return e.EnumerateArray().Select((c, i) => Node($"{where}[{i}]", c)).ToList();
    }

    private static void AllowOnly(string where, JsonElement e, params string[] keys)
    {
        var unknown = e.EnumerateObject().Select(p => p.Name).Where(k => !keys.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw Bad(where, $"unknown key{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(k => $"'{k}'"))} (allowed here: {string.Join(", ", keys)})");
    }

    private static T Opt<T>(JsonElement e, string key, Func<JsonElement, T> f, T fallback) => e.TryGetProperty(key, out var v) ? f(v) : fallback;

    private static double P(string where, JsonElement e) => Opt(e, "p", v => Number($"{where}.p", v), 1.0);

    private static double Number(string where, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Bad(where, $"expected a number, got {e.GetRawText()}");

    private static int WholeNumber(string where, double v) =>
        v == Math.Floor(v) && Math.Abs(v) < int.MaxValue ? (int)v : throw Bad(where, $"expected a whole number, got {v}");

    private static double[] Numbers(string where, JsonElement e) =>
        e.ValueKind == JsonValueKind.Array
            ? e.EnumerateArray().Select((x, i) => Number($"{where}[{i}]", x)).ToArray()
            : throw Bad(where, $"expected a list of numbers, got {e.GetRawText()}");

    /// <summary>A range: [lo, hi], or one number x meaning neutral ± x (for non-negative quantities, [0, x]).</summary>
    private static Interval Range(string at, JsonElement b, string key, double neutral, bool nonNegative = false) =>
        b.TryGetProperty(key, out var v) ? ParseRange($"{at}.{key}", v, neutral, nonNegative) : Interval.Exactly(neutral);

    private static Interval Required(string at, JsonElement b, string key, double neutral, bool nonNegative = false) =>
        b.TryGetProperty(key, out var v) ? ParseRange($"{at}.{key}", v, neutral, nonNegative)
            : throw Bad(at, $"needs \"{key}\": [low, high] or one number");

    private static Interval ParseRange(string where, JsonElement v, double neutral, bool nonNegative)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            var x = v.GetDouble();
            if (x < 0) throw Bad(where, $"one number means ±{x} around {neutral} and must not be negative; write [low, high] instead");
            return nonNegative ? new Interval(0, x) : Interval.Around(neutral, x);
        }
        var xs = Numbers(where, v);
        if (xs.Length != 2) throw Bad(where, $"expected [low, high] or one number, got {v.GetRawText()}");
        return new Interval(xs[0], xs[1]);
    }

    private static (int H, int W) Size(string where, JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number) { var s = WholeNumber(where, v.GetDouble()); return (s, s); }
        var xs = Numbers(where, v);
        if (xs.Length != 2) throw Bad(where, $"expected [height, width] or one number, got {v.GetRawText()}");
        return (WholeNumber(where, xs[0]), WholeNumber(where, xs[1]));
    }

    private static Resampling Resampling(string at, JsonElement b) => new(
        Opt(b, "border", v => Choice($"{at}.border", v, ("reflect", BorderMode.Reflect), ("constant", BorderMode.Constant)), BorderMode.Reflect),
        (float)Opt(b, "fill", v => Number($"{at}.fill", v), 0.0),
        Opt(b, "interpolation", v => Choice($"{at}.interpolation", v, ("bicubic", ImageInterpolation.Bicubic), ("bilinear", ImageInterpolation.Bilinear)), ImageInterpolation.Bicubic));

    private static T Choice<T>(string where, JsonElement v, params (string Name, T Value)[] choices)
    {
        var text = v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText();
        foreach (var (name, value) in choices)
            if (name == text) return value;
        throw Bad(where, $"'{text}' is not one of: {string.Join(", ", choices.Select(c => c.Name))}");
    }
}
