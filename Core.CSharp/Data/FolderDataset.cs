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
/// A segmentation dataset on disk: <c>images/NAME.EXT</c> with <c>masks/NAME.EXT</c> (PNG, JPEG, GIF, TIFF, BMP or
/// WebP, each read by <see cref="ImageFile.Read"/>; the extensions may differ, the names without them must match). Images are read as intensities in [0, 1]: one gray channel
/// (colour as luma) or, for 3-channel nets, R, G and B planes (gray images are refused then); mask values are
/// mapped to class indices by a <see cref="LabelSchema"/>; instances are the 4-connected components of the
/// non-background classes (so thin background lines between touching cells separate them).
/// </summary>
public static class FolderDataset
{
    /// <summary>
    /// Loads every pair under <paramref name="root"/> (sub-folders <paramref name="imageDir"/> and
    /// <paramref name="maskDir"/>, matched by file name without its extension, so <c>images/a.jpg</c> pairs with
    /// <c>masks/a.gif</c>), sorted by name, with <paramref name="channels"/> (1 or 3) image channels. Both folders
    /// are enumerated for <see cref="ImageFormats.Extensions"/>; each file is decoded by <see cref="ImageFile.Read"/>
    /// within <paramref name="limits"/> (the default budget when null).
    /// </summary>
    /// <exception cref="DatasetException">A folder or a partner file is missing, two files share a name, sizes differ, a file cannot be decoded, or an image has too few channels.</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value the schema does not map.</exception>
    public static IReadOnlyList<Sample> Load(string root, LabelSchema schema, string imageDir = "images", string maskDir = "masks", int channels = 1, ImageLimits? limits = null) =>
        Pairs(root, Path.Combine(root, imageDir), Path.Combine(root, maskDir))
            .Select(p => LoadPair(p.Image, p.Mask, schema, channels, limits))
            .ToList();

    /// <summary>
    /// The lazy form of <see cref="Load"/>: the same pairs, order and messages, as entries sized from the files'
    /// headers (<see cref="ImageFile.Probe"/>; image and mask sizes, pages and channels are checked here), each
    /// decoded by <see cref="LoadPair"/> when loaded.
    /// </summary>
    /// <exception cref="DatasetException">A folder or a partner file is missing, two files share a name, a header cannot be read, sizes differ, or an image has too few channels.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string root, LoadOptions options, string imageDir = "images", string maskDir = "masks") =>
        Pairs(root, Path.Combine(root, imageDir), Path.Combine(root, maskDir))
            .Select(p => PairEntry.Of(p.Image, p.Mask, options))
            .ToList();

    /// <summary>
    /// The (image, mask) pairs of two folders matched by file name without extension, sorted by the image's file
    /// name; <paramref name="dataset"/> names the dataset in messages.
    /// </summary>
    /// <exception cref="DatasetException">A folder is missing or empty, two files share a name, or a file has no partner.</exception>
    internal static List<(string Image, string Mask)> Pairs(string dataset, string images, string masks)
    {
        if (!Directory.Exists(images)) throw new DatasetException($"dataset {dataset}: image folder {images} does not exist");
        if (!Directory.Exists(masks)) throw new DatasetException($"dataset {dataset}: mask folder {masks} does not exist");
        var imageFiles = ByBaseName(dataset, images);
        var maskFiles = ByBaseName(dataset, masks);
        if (imageFiles.Count == 0) throw new DatasetException($"dataset {dataset}: no images ({ImageFormats.ExtensionsInWords}) in {images}");
        foreach (var (stem, m) in maskFiles)
            if (!imageFiles.ContainsKey(stem))
                throw new DatasetException($"dataset {dataset}: mask {m} has no image {Path.Combine(images, stem)}.* ({ImageFormats.ExtensionsInWords})");
        var pairs = new List<(string, string)>(imageFiles.Count);
        foreach (var (stem, img) in imageFiles.OrderBy(p => Path.GetFileName(p.Value), StringComparer.Ordinal))
        {
            if (!maskFiles.TryGetValue(stem, out var mask))
                throw new DatasetException($"dataset {dataset}: image {img} has no mask {Path.Combine(masks, Path.GetFileName(img))} (or {Path.Combine(masks, stem)} with another image extension)");
            pairs.Add((img, mask));
        }
        return pairs;
    }

    /// <summary>The image files of <paramref name="folder"/> by file name without extension; two files with one such name are refused.</summary>
    private static Dictionary<string, string> ByBaseName(string dataset, string folder)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Directory.GetFiles(folder).Where(ImageFormats.HasImageExtension).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal))
        {
            var stem = Path.GetFileNameWithoutExtension(f);
            if (files.TryGetValue(stem, out var other))
                throw new DatasetException($"dataset {dataset}: {other} and {f} share the name {stem}; images and masks are paired by name without extension, so keep one");
            files[stem] = f;
        }
        return files;
    }

    /// <summary>Loads one image/mask pair.</summary>
    /// <exception cref="DatasetException">A file is unreadable or the sizes differ.</exception>
    /// <exception cref="LabelSchemaException">A mask value is not in the schema.</exception>
    public static Sample LoadPair(string imagePath, string maskPath, LabelSchema schema, int channels = 1, ImageLimits? limits = null)
    {
        var image = ReadImage(imagePath, limits);
        var mask = ReadImage(maskPath, limits);
        if (image.Width != mask.Width || image.Height != mask.Height)
            throw new DatasetException($"mask {maskPath} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
        var planes = image.ToPlanes(channels)
            ?? throw new DatasetException($"image {imagePath} is {image.ChannelsInWords} but the network reads {channels} channels" +
                                          (channels == 3 ? "; give RGB or RGBA images" : ""));
        var classes = schema.Apply(LabelValues(mask), mask.Width, maskPath);
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

    private static PlanarImage ReadImage(string path, ImageLimits? limits)
    {
        PlanarImage image;
        try
        {
            image = ImageFile.Read(path, limits);
        }
        catch (ImageFormatException e)
        {
            throw new DatasetException($"cannot read {path}: {e.Reason}", e);
        }
        if (image.PageCount > 1)
            throw new DatasetException($"cannot read {path}: it is a stack of {image.PageCount} pages; a dataset folder holds single images");
        return image;
    }

    private static int[] LabelValues(PlanarImage mask)
    {
        try
        {
            return mask.ToLabelValues();
        }
        catch (ImageFormatException e)
        {
            throw new DatasetException($"cannot read {mask.Path} as a mask: {e.Reason}", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="samples"/> as a dataset folder: 16-bit gray or RGB images (intensity * 65535) and
    /// 8-bit masks holding each class's mask value from <paramref name="schema"/> (the first value mapped to it).
    /// </summary>
    public static void Save(string root, IEnumerable<Sample> samples, LabelSchema schema)
    {
        var valueOf = Enumerable.Range(0, schema.ClassCount).ToDictionary(c => c, schema.ValueOf);
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
