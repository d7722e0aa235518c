using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;

namespace CropCat.Interop;

/// <summary>
/// Plain values from <see cref="RestrictedUnpickler"/> (long, BigInteger, double, string, bool, null,
/// <c>List&lt;object?&gt;</c> for lists, <c>object?[]</c> for tuples, <see cref="PickleDict"/>,
/// <see cref="TensorRef"/>): readable text for reports and errors, and milesial's mask_values.
/// </summary>
public static class PickleValues
{
    /// <summary>Python-like text of <paramref name="value"/>, cut after <paramref name="maxChars"/> characters.</summary>
    public static string Describe(object? value, int maxChars = 80)
    {
        var s = Text(value);
        return s.Length <= maxChars ? s : s[..maxChars] + "…";
    }

    private static string Text(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        string s => $"'{s}'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        long or BigInteger => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
        List<object?> l => $"[{string.Join(", ", l.Select(Text))}]",
        object?[] t => t.Length == 1 ? $"({Text(t[0])},)" : $"({string.Join(", ", t.Select(Text))})",
        PickleDict d => $"{{{string.Join(", ", d.Items.Select(kv => $"{Text(kv.Key)}: {Text(kv.Value)}"))}}}",
        TensorRef t => $"tensor[{string.Join(", ", t.Size)}]",
        byte[] b => $"bytes[{b.Length}]",
        _ => v.GetType().Name,
    };

    /// <summary>
    /// milesial/Pytorch-UNet's <c>mask_values</c> (train.py saves <c>state_dict['mask_values']</c>): for each
    /// class in index order, the mask pixel value that stands for it, one number for gray masks ([0, 1])
    /// or one per channel for colour masks ([[0, 0, 0], [255, 255, 255]]). Null when
    /// <paramref name="value"/> is not such a list.
    /// </summary>
    public static IReadOnlyList<long[]>? MaskValues(object? value)
    {
        if (value is not List<object?> classes) return null;
        var result = new List<long[]>();
        foreach (var c in classes)
        {
            switch (c)
            {
                case long l:
                    result.Add([l]);
                    break;
                case List<object?> or object?[] when Items(c).All(x => x is long):
                    result.Add(Items(c).Select(x => (long)x!).ToArray());
                    break;
                default:
                    return null;
            }
        }
        return result;
    }

    private static IEnumerable<object?> Items(object? listOrTuple) => listOrTuple as IEnumerable<object?> ?? [];
}
