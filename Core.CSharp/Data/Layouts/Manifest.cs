using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace CropCat.Data;

/// <summary>
/// A list of image/mask pairs for any other layout: a CSV file with a header naming the columns <c>image</c> and
/// <c>mask</c> (other columns ignored), or a JSON array of objects <c>{"image": ..., "mask": ...}</c>. Relative
/// paths are relative to the manifest's folder. An entry is named by its image path as the manifest writes it
/// (with '/' separators), so images of one name in different folders stay distinct.
/// </summary>
public static class Manifest
{
    /// <summary>The entries of the manifest <paramref name="path"/> (a .json file is JSON, anything else CSV), sorted by name.</summary>
    /// <exception cref="DatasetException">The manifest is unreadable or malformed, an image is listed twice, or a listed file is missing or does not agree with its partner; the message names the manifest and the row.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string path, LoadOptions options)
    {
        if (!File.Exists(path)) throw new DatasetException($"manifest {path} does not exist");
        var rows = string.Equals(Path.GetExtension(path), ".json", StringComparison.OrdinalIgnoreCase) ? JsonRows(path) : CsvRows(path);
        if (rows.Count == 0) throw new DatasetException($"manifest {path} lists no image/mask pairs");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<DatasetEntry>(rows.Count);
        foreach (var (where, image, mask) in rows)
        {
            if (image.Length == 0 || mask.Length == 0) throw new DatasetException($"manifest {path}, {where}: the image or mask path is empty");
            var name = image.Replace('\\', '/');
            if (!seen.TryAdd(name, where)) throw new DatasetException($"manifest {path}, {where}: image {image} is listed again (first at {seen[name]})");
            var imagePath = Path.Combine(folder, image);
            var maskPath = Path.Combine(folder, mask);
            if (!File.Exists(imagePath)) throw new DatasetException($"manifest {path}, {where}: image {imagePath} does not exist");
            if (!File.Exists(maskPath)) throw new DatasetException($"manifest {path}, {where}: mask {maskPath} does not exist");
            entries.Add(PairEntry.Of(imagePath, maskPath, options, name));
        }
        return entries.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
    }

    private static List<(string Where, string Image, string Mask)> CsvRows(string path)
    {
        var table = CsvTable.Read(path);
        int image = table.Column("image"), mask = table.Column("mask");
        return table.Rows.Select(r => ($"line {r.Line}", r.Fields[image].Trim(), r.Fields[mask].Trim())).ToList();
    }

    private static List<(string Where, string Image, string Mask)> JsonRows(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new DatasetException($"manifest {path}: expected a JSON array of {{\"image\": ..., \"mask\": ...}} objects, found a {doc.RootElement.ValueKind}");
            var rows = new List<(string, string, string)>();
            var i = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var where = $"item {i++}";
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("image", out var image) || !e.TryGetProperty("mask", out var mask)
                    || image.ValueKind != JsonValueKind.String || mask.ValueKind != JsonValueKind.String)
                    throw new DatasetException($"manifest {path}, {where}: expected an object with string fields \"image\" and \"mask\"");
                rows.Add((where, image.GetString()!, mask.GetString()!));
            }
            return rows;
        }
        catch (JsonException e)
        {
            throw new DatasetException($"manifest {path}: not valid JSON (line {e.LineNumber + 1}: {e.Message})", e);
        }
        catch (IOException e)
        {
            throw new DatasetException($"cannot read manifest {path}: {e.Message}", e);
        }
    }
}
