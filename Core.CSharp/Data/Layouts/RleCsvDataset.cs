using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>
/// Images in a folder with their masks as run-length strings in a CSV file, as TGS salt ships <c>train.csv</c>
/// (<c>id,rle_mask</c>; an empty mask is an empty string). The id is the image's file name with or without its
/// extension; the CSV needs a header line naming an id column (<c>id</c>, <c>img</c> or <c>ImageId</c>) and a mask
/// column (<c>rle_mask</c> or <c>EncodedPixels</c>); other columns are ignored. The pixels a run covers are class 1,
/// the rest class 0, so the label schema must have two classes (mask values play no part).
/// </summary>
public static class RleCsvDataset
{
    /// <summary>
    /// One entry per image of <paramref name="imagesDir"/>, sorted by file name, its mask decoded by
    /// <see cref="RunLength.Decode"/> from its row of <paramref name="csvPath"/> in <paramref name="order"/> when loaded
    /// (Kaggle's "top to bottom, then left to right" is <see cref="PixelOrder.ColumnMajor"/>).
    /// </summary>
    /// <exception cref="DatasetException">The CSV is unreadable or malformed, an id has no image or appears twice, an image has no row, a header cannot be read, or the schema does not have two classes.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string imagesDir, string csvPath, PixelOrder order, LoadOptions options)
    {
        if (options.Labels.ClassCount != 2)
            throw new DatasetException($"{csvPath}: run-length masks mark one class (1) against background (0), but the label schema {options.Labels} has {options.Labels.ClassCount} classes; use a two-class schema such as {LabelSchema.Binary255}");
        if (!Directory.Exists(imagesDir)) throw new DatasetException($"dataset {imagesDir} + {csvPath}: image folder {imagesDir} does not exist");
        var images = Directory.GetFiles(imagesDir).Where(ImageFormats.HasImageExtension)
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (images.Count == 0) throw new DatasetException($"dataset {imagesDir} + {csvPath}: no images ({ImageFormats.ExtensionsInWords}) in {imagesDir}");
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in images)
        {
            byId.TryAdd(Path.GetFileName(f), f);
            if (!byId.TryAdd(Path.GetFileNameWithoutExtension(f), f))
                throw new DatasetException($"dataset {imagesDir}: {byId[Path.GetFileNameWithoutExtension(f)]} and {f} share the id {Path.GetFileNameWithoutExtension(f)}; keep one");
        }

        var table = CsvTable.Read(csvPath);
        int idColumn = table.Column("id", "img", "ImageId"), rleColumn = table.Column("rle_mask", "EncodedPixels");
        var rles = new Dictionary<string, (string Rle, int Line)>(StringComparer.Ordinal);
        foreach (var (line, fields) in table.Rows)
        {
            var id = fields[idColumn].Trim();
            if (!byId.TryGetValue(id, out var image))
                throw new DatasetException($"{csvPath}, line {line}: id '{id}' has no image {Path.Combine(imagesDir, id)}(.png, .jpg, ...) in {imagesDir}");
            if (rles.TryGetValue(image, out var first))
                throw new DatasetException($"{csvPath}, line {line}: id '{id}' repeats line {first.Line}; each image has one mask row");
            rles[image] = (fields[rleColumn], line);
        }

        var entries = new List<DatasetEntry>(images.Count);
        foreach (var image in images)
        {
            if (!rles.TryGetValue(image, out var row))
                throw new DatasetException($"image {image} has no row in {csvPath} (id '{Path.GetFileNameWithoutExtension(image)}')");
            var h = Headers.ProbeSingle(image, options.Limits);
            Headers.CheckChannels(image, h, options.Channels);
            var source = $"{image} + {csvPath}, line {row.Line}";
            entries.Add(new DatasetEntry(Path.GetFileName(image), source, h.Height, h.Width,
                () => Load(image, row.Rle, source, order, options)));
        }
        return entries;
    }

    private static Sample Load(string image, string rle, string source, PixelOrder order, LoadOptions options)
    {
        var img = LayoutImages.Read(image, options);
        bool[] mask;
        try
        {
            mask = RunLength.Decode(rle, img.Height, img.Width, order, source);
        }
        catch (RunLengthException e)
        {
            throw new DatasetException(e.Message, e);
        }
        var classes = Array.ConvertAll(mask, m => m ? 1 : 0);
        return new Sample(Path.GetFileName(image), img.Height, img.Width, img.Values, classes,
            Components.OfClasses(classes, img.Height, img.Width), channels: options.Channels);
    }
}
