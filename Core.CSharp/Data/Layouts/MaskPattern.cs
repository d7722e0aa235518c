using System;
using System.IO;

namespace CropCat.Data;

/// <summary>
/// Makes a mask's file name from its image's: <c>{name}</c> is the image's file name without its extension and
/// <c>{ext}</c> its extension without the dot, so Carvana's <c>0cdf5b5d0ce1_01.jpg</c> with
/// <c>{name}_mask.gif</c> gives <c>0cdf5b5d0ce1_01_mask.gif</c>, and <c>{name}.{ext}</c> keeps the image's name.
/// </summary>
public sealed class MaskPattern
{
    private readonly string _pattern;

    /// <summary>Parses a pattern; it must hold <c>{name}</c>, no other braces, and no folder separators.</summary>
    /// <exception cref="ArgumentException">The pattern breaks one of those rules; the message quotes it.</exception>
    public MaskPattern(string pattern)
    {
        if (!pattern.Contains("{name}", StringComparison.Ordinal))
            throw new ArgumentException($"mask pattern '{pattern}' has no {{name}}; every image needs its own mask name, e.g. '{{name}}_mask.gif'");
        var rest = pattern.Replace("{name}", "", StringComparison.Ordinal).Replace("{ext}", "", StringComparison.Ordinal);
        if (rest.Contains('{') || rest.Contains('}'))
            throw new ArgumentException($"mask pattern '{pattern}': only {{name}} (image file name without extension) and {{ext}} (its extension) may appear in braces");
        if (pattern.IndexOfAny(['/', '\\']) >= 0)
            throw new ArgumentException($"mask pattern '{pattern}' names a folder; it makes a file name inside the mask folder");
        _pattern = pattern;
    }

    /// <summary>The mask file name for the image file <paramref name="imageFileName"/>.</summary>
    public string MaskName(string imageFileName) =>
        _pattern.Replace("{name}", Path.GetFileNameWithoutExtension(imageFileName), StringComparison.Ordinal)
            .Replace("{ext}", Path.GetExtension(imageFileName).TrimStart('.'), StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => _pattern;
}
