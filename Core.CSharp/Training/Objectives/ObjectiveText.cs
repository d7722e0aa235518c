using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CropCat.Training;

/// <summary>
/// The text form of objectives (the CLI's <c>--loss</c>). Grammar, whitespace allowed between tokens:
/// <code>
/// objective := term ('+' term)*
/// term      := [number '*'] primary
/// primary   := name ['(' [param (',' param)*] ')'] | '(' objective ')'
/// param     := key '=' value
/// value     := number | 'true' | 'false' | '[' number (',' number)* ']'
/// </code>
/// Names and their parameters (defaults in brackets; every loss also takes <c>ignore_index</c>):
/// <c>wce</c>; <c>bce</c> (pos_weight [none]); <c>dice</c>, <c>jaccard</c> (smooth [1], class_weights [equal]);
/// <c>tversky</c> (alpha [0.3], beta [0.7], smooth, class_weights); <c>focal-tversky</c> (the same and gamma [0.75]);
/// <c>focal</c> (gamma [2], alpha [none]); <c>lovasz</c> (per_image [true]; hinge on a binary head, softmax otherwise).
/// A single term without a weight is that loss; anything else is a <see cref="WeightedSum"/>.
/// </summary>
public static class ObjectiveText
{
    private sealed record Entry(string[] Keys, Func<Arguments, BasicObjective> Make);

    private static readonly string[] Region = ["smooth", "class_weights"];

    private static readonly Dictionary<string, Entry> Known = new()
    {
        ["wce"] = new([], _ => new WeightedCrossEntropy()),
        ["bce"] = new(["pos_weight"], a => new BinaryCrossEntropy { PosWeight = a.NullableNumber("pos_weight") }),
        ["dice"] = new(Region, a => new Dice { Smooth = a.Number("smooth", 1.0), ClassWeights = a.Weights("class_weights") }),
        ["jaccard"] = new(Region, a => new Jaccard { Smooth = a.Number("smooth", 1.0), ClassWeights = a.Weights("class_weights") }),
        ["tversky"] = new(["alpha", "beta", .. Region], a => new Tversky
        {
            Alpha = a.Number("alpha", 0.3),
            Beta = a.Number("beta", 0.7),
            Smooth = a.Number("smooth", 1.0),
            ClassWeights = a.Weights("class_weights"),
        }),
        ["focal-tversky"] = new(["alpha", "beta", .. Region, "gamma"], a => new FocalTversky
        {
            Alpha = a.Number("alpha", 0.3),
            Beta = a.Number("beta", 0.7),
            Smooth = a.Number("smooth", 1.0),
            ClassWeights = a.Weights("class_weights"),
            Gamma = a.Number("gamma", 0.75),
        }),
        ["focal"] = new(["gamma", "alpha"], a => new Focal { Gamma = a.Number("gamma", 2.0), Alpha = a.NullableNumber("alpha") }),
        ["lovasz"] = new(["per_image"], a => new Lovasz { PerImage = a.Bool("per_image", true) }),
    };

    /// <summary>The loss names Parse knows, in the order messages list them.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Known.Keys];

    /// <summary>A number as the text form writes it: invariant culture, shortest round-trip digits.</summary>
    public static string Number(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The text form of <paramref name="objective"/>, which <see cref="Parse"/> reads back to an equal value.</summary>
    public static string Write(Objective objective) => objective switch
    {
        BasicObjective b => b.Parameters().ToList() is { Count: > 0 } ps
            ? $"{b.Name}({string.Join(",", ps.Select(p => $"{p.Key}={p.Value}"))})"
            : b.Name,
        WeightedSum s => string.Join("+", s.Terms.Select(t =>
        {
            var inner = t.Objective is WeightedSum ? $"({Write(t.Objective)})" : Write(t.Objective);
            // A lone term keeps its weight, even 1, so that it reads back as a sum and not as the bare loss.
            return t.Weight == 1.0 && s.Terms.Count > 1 ? inner : $"{Number(t.Weight)}*{inner}";
        })),
        _ => throw new ArgumentException($"no text form for {objective.GetType().Name}"),
    };

    /// <summary>Reads an objective; see the class summary for the grammar.</summary>
    /// <exception cref="FormatException">Bad syntax, an unknown loss or parameter (the message lists the known ones),
    /// or a parameter out of range.</exception>
    public static Objective Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var p = new Parser(text);
        var o = p.Objective();
        p.End();
        try
        {
            o.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"loss '{text}': {e.Message}", e);
        }
        return o;
    }

    private sealed class Arguments(string loss, Dictionary<string, object> values)
    {
        private T Get<T>(string key, string what)
        {
            var v = values[key];
            return v is T t ? t : throw new FormatException($"{loss}: {key} must be {what}, got {Show(v)}");
        }

        public double Number(string key, double fallback) => values.ContainsKey(key) ? Get<double>(key, "a number") : fallback;

        public double? NullableNumber(string key) => values.ContainsKey(key) ? Get<double>(key, "a number") : null;

        public bool Bool(string key, bool fallback) => values.ContainsKey(key) ? Get<bool>(key, "true or false") : fallback;

        public ClassWeights? Weights(string key) => values.ContainsKey(key) ? new ClassWeights(Get<double[]>(key, "a list like [0.2,1,2]")) : null;

        public int? Int(string key)
        {
            if (!values.ContainsKey(key)) return null;
            var d = Get<double>(key, "an integer");
            if (d != Math.Floor(d) || Math.Abs(d) > int.MaxValue) throw new FormatException($"{loss}: {key} must be an integer, got {ObjectiveText.Number(d)}");
            return (int)d;
        }

        private static string Show(object v) => v switch
        {
            double d => ObjectiveText.Number(d),
            bool b => b ? "true" : "false",
            double[] a => new ClassWeights(a).ToString(),
            _ => v.ToString() ?? "",
        };
    }

    /// <summary>Recursive descent over the grammar above.</summary>
    private sealed class Parser(string text)
    {
        private int _i;

        private FormatException Error(string what) =>
            new($"loss '{text}': {what} at position {_i + 1}");

        private void Skip()
        {
            while (_i < text.Length && char.IsWhiteSpace(text[_i])) _i++;
        }

        private bool Eat(char c)
        {
            Skip();
            if (_i < text.Length && text[_i] == c)
            {
                _i++;
                return true;
            }
            return false;
        }

        private void Expect(char c)
        {
            if (!Eat(c)) throw Error($"expected '{c}'");
        }

        public void End()
        {
            Skip();
            if (_i < text.Length) throw Error($"unexpected '{text[_i]}'");
        }

        public Objective Objective()
        {
            var terms = new List<WeightedTerm>();
            var explicitWeight = false;
            do
            {
                var w = 1.0;
                if (StartsNumber())
                {
                    w = ReadNumber();
                    Expect('*');
                    explicitWeight = true;
                }
                terms.Add(new WeightedTerm(w, Primary()));
            } while (Eat('+'));
            return terms.Count == 1 && !explicitWeight ? terms[0].Objective : new WeightedSum(terms);
        }

        private Objective Primary()
        {
            if (Eat('('))
            {
                var inner = Objective();
                Expect(')');
                return inner;
            }
            var name = ReadWord();
            if (name.Length == 0) throw Error($"expected a loss name ({string.Join(", ", Names)})");
            if (!Known.TryGetValue(name, out var entry))
                throw new FormatException($"loss '{text}': unknown loss '{name}'; known: {string.Join(", ", Names)}");
            var values = new Dictionary<string, object>();
            if (Eat('(') && !Eat(')'))
            {
                do
                {
                    var key = ReadWord();
                    if (!entry.Keys.Contains(key) && key != "ignore_index")
                        throw new FormatException($"loss '{text}': {name} has no parameter '{key}'; known: {string.Join(", ", [.. entry.Keys, "ignore_index"])}");
                    if (values.ContainsKey(key)) throw Error($"{name}: {key} given twice");
                    Expect('=');
                    values[key] = Value();
                } while (Eat(','));
                Expect(')');
            }
            var args = new Arguments(name, values);
            return entry.Make(args) with { IgnoreIndex = args.Int("ignore_index") };
        }

        private object Value()
        {
            if (Eat('['))
            {
                var list = new List<double>();
                do list.Add(ReadNumber()); while (Eat(','));
                Expect(']');
                return list.ToArray();
            }
            if (StartsNumber()) return ReadNumber();
            var word = ReadWord();
            return word switch
            {
                "true" => true,
                "false" => false,
                _ => throw Error($"expected a number, true, false or a list, got '{word}'"),
            };
        }

        private bool StartsNumber()
        {
            Skip();
            return _i < text.Length && (char.IsAsciiDigit(text[_i]) || text[_i] is '.' or '-' or '+' && _i + 1 < text.Length && (char.IsAsciiDigit(text[_i + 1]) || text[_i + 1] == '.'));
        }

        private double ReadNumber()
        {
            Skip();
            var start = _i;
            if (_i < text.Length && text[_i] is '-' or '+') _i++;
            while (_i < text.Length && (char.IsAsciiDigit(text[_i]) || text[_i] == '.' || ((text[_i] is 'e' or 'E') && _i > start) || ((text[_i] is '-' or '+') && text[_i - 1] is 'e' or 'E'))) _i++;
            var token = text[start.._i];
            if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                throw Error($"expected a number, got '{token}'");
            return d;
        }

        private string ReadWord()
        {
            Skip();
            var start = _i;
            while (_i < text.Length && (char.IsAsciiLetterOrDigit(text[_i]) || text[_i] is '_' or '-')) _i++;
            return text[start.._i].ToLowerInvariant();
        }
    }
}
