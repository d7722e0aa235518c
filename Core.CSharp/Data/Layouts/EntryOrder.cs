using System;
using System.Collections.Generic;

namespace CropCat.Data;

/// <summary>
/// The order of dataset entries: ordinal by name, except that the slices of one stack (<c>NAME#page</c>) follow
/// their page numbers, so <c>train-volume.tif#2</c> comes before <c>#10</c>.
/// </summary>
public sealed class EntryOrder : IComparer<string>
{
    /// <summary>The one instance.</summary>
    public static EntryOrder Instance { get; } = new();

    private EntryOrder() { }

    /// <inheritdoc />
    public int Compare(string? x, string? y)
    {
        if (x is null || y is null) return string.CompareOrdinal(x, y);
        var (xs, xp) = Split(x);
        var (ys, yp) = Split(y);
        var c = string.CompareOrdinal(xs, ys);
        if (c != 0 || xp < 0 || yp < 0) return c != 0 ? c : string.CompareOrdinal(x, y);
        return xp.CompareTo(yp);
    }

    private static (string Stack, long Page) Split(string name)
    {
        var hash = name.LastIndexOf('#');
        if (hash < 0 || hash == name.Length - 1) return (name, -1);
        for (var i = hash + 1; i < name.Length; i++)
            if (name[i] is < '0' or > '9') return (name, -1);
        return long.TryParse(name.AsSpan(hash + 1), out var p) ? (name[..hash], p) : (name, -1);
    }
}
