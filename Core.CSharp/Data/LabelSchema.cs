using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace CropCat.Data;

/// <summary>A mask holds a value the label schema does not map; the message names the file, the value and the schema.</summary>
public sealed class LabelSchemaException : Exception
{
    /// <summary>Creates the error.</summary>
    public LabelSchemaException(string message) : base(message) { }
}

/// <summary>
/// Maps the values stored in mask files to class indices, e.g. {0 -> 0, 255 -> 1} for the usual black/white
/// masks. Stored with the model, so that prediction and training agree on what a class means. An unknown
/// mask value is an error naming the file, the value and the schema, never a silent out-of-range class
/// (the 0/255-versus-class-index mistake users of popular PyTorch U-Nets hit).
/// </summary>
public sealed class LabelSchema
{
    private readonly SortedDictionary<int, int> _map;

    /// <summary>Creates a schema from mask value -> class index pairs; classes must be 0..K-1 with none skipped.</summary>
    /// <exception cref="ArgumentException">Empty, a negative class, or a class index skipped.</exception>
    public LabelSchema(IReadOnlyDictionary<int, int> valueToClass) : this(valueToClass, null) { }

    /// <summary>
    /// Creates a schema from mask value -> class index pairs and the class of every other value
    /// (<paramref name="otherwise"/>; null refuses unlisted values). Classes must be 0..K-1 with none skipped.
    /// </summary>
    /// <exception cref="ArgumentException">Empty, a negative class, or a class index skipped.</exception>
    public LabelSchema(IReadOnlyDictionary<int, int> valueToClass, int? otherwise)
    {
        if (valueToClass.Count == 0) throw new ArgumentException("a label schema needs at least one value -> class pair");
        _map = new SortedDictionary<int, int>(valueToClass.ToDictionary(p => p.Key, p => p.Value));
        Otherwise = otherwise;
        var classes = _map.Values.Append(otherwise ?? 0).Distinct().OrderBy(c => c).ToArray();
        if (classes[0] != 0 || classes[^1] != classes.Length - 1)
            throw new ArgumentException($"label schema {this}: class indices must be 0..K-1 without gaps, got {string.Join(", ", classes)}");
    }

    /// <summary>Black/white masks: 0 -> background (0), 255 -> foreground (1).</summary>
    public static LabelSchema Binary255 => new(new Dictionary<int, int> { [0] = 0, [255] = 1 });

    /// <summary>
    /// Binary masks of any encoding: 0 is background, every other value foreground (0/1, 0/255 and 0/65535 masks
    /// alike), as binary sigmoid nets train. JSON <c>{"0":0,"*":1}</c>.
    /// </summary>
    public static LabelSchema Foreground => new(new Dictionary<int, int> { [0] = 0 }, otherwise: 1);

    /// <summary>The class of mask values not listed in <see cref="Map"/>; null when they are refused.</summary>
    public int? Otherwise { get; }

    /// <summary>
    /// The mask value written for class <paramref name="cls"/>: the smallest value mapped to it, or, for the
    /// <see cref="Otherwise"/> class without a listed value, 255.
    /// </summary>
    public int ValueOf(int cls)
    {
        foreach (var (v, c) in _map)
            if (c == cls) return v;
        if (cls == Otherwise) return 255;
        throw new ArgumentOutOfRangeException(nameof(cls), cls, $"label schema {this} has no class {cls}");
    }

    /// <summary>Masks that already hold class indices 0..classes-1.</summary>
    public static LabelSchema Identity(int classes) => new(Enumerable.Range(0, classes).ToDictionary(i => i, i => i));

    /// <summary>Mask value -> class index.</summary>
    public IReadOnlyDictionary<int, int> Map => _map;

    /// <summary>Number of classes (the largest class index + 1).</summary>
    public int ClassCount => Math.Max(_map.Values.Max(), Otherwise ?? 0) + 1;

    /// <summary>Maps every mask value of <paramref name="file"/> to its class index.</summary>
    /// <exception cref="LabelSchemaException">A value is not in the schema.</exception>
    public int[] Apply(int[] values, int width, string file)
    {
        var classes = new int[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (!_map.TryGetValue(values[i], out var c))
                c = Otherwise ?? throw new LabelSchemaException(
                    $"mask {file}: value {values[i]} at pixel (x={i % width}, y={i / width}) is not in the label schema {this}; " +
                    "add it to the schema (mask value -> class index) or fix the mask");
            classes[i] = c;
        }
        return classes;
    }

    /// <summary>The schema as JSON, e.g. {"0":0,"255":1}; key "*" holds <see cref="Otherwise"/>.</summary>
    public string ToJson()
    {
        var d = _map.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value);
        if (Otherwise is { } o) d["*"] = o;
        return JsonSerializer.Serialize(d);
    }

    /// <summary>Parses <see cref="ToJson"/>'s form.</summary>
    /// <exception cref="ArgumentException">Not a JSON object of integer keys and values.</exception>
    public static LabelSchema FromJson(string json)
    {
        try
        {
            var d = JsonSerializer.Deserialize<Dictionary<string, int>>(json)
                    ?? throw new ArgumentException("label schema JSON is null");
            int? otherwise = d.TryGetValue("*", out var o) ? o : null;
            return new LabelSchema(d.Where(p => p.Key != "*").ToDictionary(p => int.Parse(p.Key, System.Globalization.CultureInfo.InvariantCulture), p => p.Value), otherwise);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new ArgumentException($"label schema JSON '{json}' is not an object of mask value -> class index ({e.Message})", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        "{" + string.Join(", ", _map.Select(p => $"{p.Key}->{p.Value}").Concat(Otherwise is { } o ? [$"other->{o}"] : Array.Empty<string>())) + "}";
}
