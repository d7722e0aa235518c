using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>A dataset folder is inconsistent (missing pair, size mismatch, unreadable file); the message names the file.</summary>
public sealed class DatasetException : Exception
{
    /// <summary>Creates the error.</summary>
    public DatasetException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A segmentation dataset on disk: <c>images/NAME.png</c> with <c>masks/NAME.png</c> (8- or 16-bit gray,
/// gray+alpha, RGB, RGBA or palette PNGs). Images are read as gray intensities in [0, 1]; mask values are
/// mapped to class indices by a <see cref="LabelSchema"/>; instances are the 4-connected components of the
/// non-background classes (so thin background lines between touching cells separate them).
/// </summary>
public static class FolderDataset
{
    /// <summary>
    /// Loads every pair under <paramref name="root"/> (sub-folders <paramref name="imageDir"/> and
    /// <paramref name="maskDir"/>, matched by file name), sorted by name.
    /// </summary>
    /// <exception cref="DatasetException">A folder or a partner file is missing, sizes differ, or a file cannot be decoded.</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value the schema does not map.</exception>
    public static IReadOnlyList<Sample> Load(string root, LabelSchema schema, string imageDir = "images", string maskDir = "masks")
    {
        var images = Path.Combine(root, imageDir);
        var masks = Path.Combine(root, maskDir);
        if (!Directory.Exists(images)) throw new DatasetException($"dataset {root}: image folder {images} does not exist");
        if (!Directory.Exists(masks)) throw new DatasetException($"dataset {root}: mask folder {masks} does not exist");
        var imageFiles = Directory.GetFiles(images, "*.png").OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToArray();
        var maskNames = Directory.GetFiles(masks, "*.png").Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        if (imageFiles.Length == 0) throw new DatasetException($"dataset {root}: no .png images in {images}");
        foreach (var m in maskNames)
            if (!File.Exists(Path.Combine(images, m!)))
                throw new DatasetException($"dataset {root}: mask {Path.Combine(masks, m!)} has no image {Path.Combine(images, m!)}");
        var samples = new List<Sample>(imageFiles.Length);
        foreach (var img in imageFiles)
        {
            var name = Path.GetFileName(img);
            var mask = Path.Combine(masks, name);
            if (!maskNames.Contains(name)) throw new DatasetException($"dataset {root}: image {img} has no mask {mask}");
            samples.Add(LoadPair(img, mask, schema));
        }
        return samples;
    }

    /// <summary>Loads one image/mask pair.</summary>
    /// <exception cref="DatasetException">A file is unreadable or the sizes differ.</exception>
    /// <exception cref="LabelSchemaException">A mask value is not in the schema.</exception>
    public static Sample LoadPair(string imagePath, string maskPath, LabelSchema schema)
    {
        var image = ReadPng(imagePath);
        var mask = ReadPng(maskPath);
        if (image.Width != mask.Width || image.Height != mask.Height)
            throw new DatasetException($"mask {maskPath} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
        var classes = schema.Apply(mask.ToLabelValues(), mask.Width, maskPath);
        return new Sample(Path.GetFileName(imagePath), image.Height, image.Width, image.ToGray(), classes,
            Components.OfClasses(classes, image.Height, image.Width));
    }

    private static PngImage ReadPng(string path)
    {
        try
        {
            return PngReader.Read(path);
        }
        catch (PngException e)
        {
            throw new DatasetException($"cannot read {path}: {e.Reason}", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="samples"/> as a dataset folder: 16-bit gray images (intensity * 65535) and
    /// 8-bit masks holding each class's mask value from <paramref name="schema"/> (the first value mapped to it).
    /// </summary>
    public static void Save(string root, IEnumerable<Sample> samples, LabelSchema schema)
    {
        var valueOf = schema.Map.GroupBy(p => p.Value).ToDictionary(g => g.Key, g => g.Min(p => p.Key));
        var i = 0;
        foreach (var s in samples)
        {
            var name = $"{i++:D4}.png";
            var pixels = s.Image.Select(v => (ushort)Math.Clamp(Math.Round(v * 65535.0), 0, 65535)).ToArray();
            PngEncoder.WriteGray16(Path.Combine(root, "images", name), pixels, s.Width, s.Height);
            var mask = s.Classes.Select(c => (ushort)valueOf[c]).ToArray();
            var depth = mask.Any(v => v > 255) ? 16 : 8;
            PngEncoder.Write(Path.Combine(root, "masks", name), new PngImage(s.Width, s.Height, 1, depth, mask));
        }
    }
}
