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
/// gray+alpha, RGB, RGBA or palette PNGs). Images are read as intensities in [0, 1]: one gray channel
/// (colour as luma) or, for 3-channel nets, R, G and B planes (gray images are refused then); mask values are
/// mapped to class indices by a <see cref="LabelSchema"/>; instances are the 4-connected components of the
/// non-background classes (so thin background lines between touching cells separate them).
/// </summary>
public static class FolderDataset
{
    /// <summary>
    /// Loads every pair under <paramref name="root"/> (sub-folders <paramref name="imageDir"/> and
    /// <paramref name="maskDir"/>, matched by file name), sorted by name, with <paramref name="channels"/>
    /// (1 or 3) image channels.
    /// </summary>
    /// <exception cref="DatasetException">A folder or a partner file is missing, sizes differ, a file cannot be decoded, or an image has too few channels.</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value the schema does not map.</exception>
    public static IReadOnlyList<Sample> Load(string root, LabelSchema schema, string imageDir = "images", string maskDir = "masks", int channels = 1)
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
            samples.Add(LoadPair(img, mask, schema, channels));
        }
        return samples;
    }

    /// <summary>Loads one image/mask pair.</summary>
    /// <exception cref="DatasetException">A file is unreadable or the sizes differ.</exception>
    /// <exception cref="LabelSchemaException">A mask value is not in the schema.</exception>
    public static Sample LoadPair(string imagePath, string maskPath, LabelSchema schema, int channels = 1)
    {
        var image = ReadPng(imagePath);
        var mask = ReadPng(maskPath);
        if (image.Width != mask.Width || image.Height != mask.Height)
            throw new DatasetException($"mask {maskPath} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
        var planes = image.ToPlanes(channels)
            ?? throw new DatasetException($"image {imagePath} is {image.ChannelsInWords} but the network reads {channels} channels" +
                                          (channels == 3 ? "; give RGB or RGBA images" : ""));
        var classes = schema.Apply(mask.ToLabelValues(), mask.Width, maskPath);
        return new Sample(Path.GetFileName(imagePath), image.Height, image.Width, planes, classes,
            Components.OfClasses(classes, image.Height, image.Width), channels: channels);
    }

    /// <summary>Channel-major planes to the pixel-interleaved order of PNG samples.</summary>
    private static ushort[] Interleave(ushort[] planes, int channels)
    {
        var n = planes.Length / channels;
        var r = new ushort[planes.Length];
        for (var c = 0; c < channels; c++)
            for (var i = 0; i < n; i++)
                r[i * channels + c] = planes[c * n + i];
        return r;
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
    /// Writes <paramref name="samples"/> as a dataset folder: 16-bit gray or RGB images (intensity * 65535) and
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
            var imagePath = Path.Combine(root, "images", name);
            if (s.Channels == 1) PngEncoder.WriteGray16(imagePath, pixels, s.Width, s.Height);
            else if (s.Channels == 3) PngEncoder.Write(imagePath, new PngImage(s.Width, s.Height, 3, 16, Interleave(pixels, 3)));
            else throw new ArgumentException($"sample {s.Name}: cannot write {s.Channels}-channel images as PNG (1 or 3)");
            var mask = s.Classes.Select(c => (ushort)valueOf[c]).ToArray();
            var depth = mask.Any(v => v > 255) ? 16 : 8;
            PngEncoder.Write(Path.Combine(root, "masks", name), new PngImage(s.Width, s.Height, 1, depth, mask));
        }
    }
}
