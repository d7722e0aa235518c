using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>
/// Images in one folder and masks in another, as Carvana ships them (<c>train/*.jpg</c> and
/// <c>train_masks/*_mask.gif</c>): each image's mask is named by a <see cref="MaskPattern"/>, or, without one,
/// has the image's name with any image extension (as <see cref="FolderDataset"/> pairs).
/// </summary>
public static class FolderPairs
{
    /// <summary>
    /// One entry per image of <paramref name="imagesDir"/> (files with <see cref="ImageFormats.Extensions"/>), sorted by
    /// file name, paired with <paramref name="masksDir"/>/<c>pattern(image)</c>. Every file of
    /// <paramref name="masksDir"/> with an image extension must be some image's mask. Mask values go through
    /// <see cref="LoadOptions.Labels"/>: a Carvana GIF mask (a palette of black and white) reads as gray 0/255, so
    /// <see cref="LabelSchema.Binary255"/>.
    /// </summary>
    /// <param name="imagesDir">The image folder.</param>
    /// <param name="masksDir">The mask folder (may be the image folder when the pattern tells the two apart).</param>
    /// <param name="maskPattern">The mask name pattern, e.g. <c>{name}_mask.gif</c>; null pairs by name without extension.</param>
    /// <param name="options">Labels, channels and pixel budget.</param>
    /// <exception cref="ArgumentException">The pattern is malformed.</exception>
    /// <exception cref="DatasetException">A folder is missing or has no images, an image has no mask (the message names the expected mask path), a mask belongs to no image, two images claim one mask, or a header cannot be read or does not agree.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string imagesDir, string masksDir, string? maskPattern, LoadOptions options)
    {
        var dataset = $"{imagesDir} + {masksDir}";
        if (maskPattern is null)
            return FolderDataset.Pairs(dataset, imagesDir, masksDir).Select(p => PairEntry.Of(p.Image, p.Mask, options)).ToList();
        var pattern = new MaskPattern(maskPattern);
        if (!Directory.Exists(imagesDir)) throw new DatasetException($"dataset {dataset}: image folder {imagesDir} does not exist");
        if (!Directory.Exists(masksDir)) throw new DatasetException($"dataset {dataset}: mask folder {masksDir} does not exist");
        var oneFolder = SameFolder(imagesDir, masksDir);
        var images = ImageFiles(imagesDir);
        if (oneFolder)
        {
            // With one folder for both, the masks are listed as images too: a file that is another file's mask is none.
            var maskNames = images.Select(f => pattern.MaskName(Path.GetFileName(f))).ToHashSet(StringComparer.Ordinal);
            images = images.Where(f => !maskNames.Contains(Path.GetFileName(f))).ToList();
        }
        var pairs = new List<(string Image, string Mask)>();
        var claimed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            var maskName = pattern.MaskName(Path.GetFileName(image));
            var mask = Path.Combine(masksDir, maskName);
            if (claimed.TryGetValue(maskName, out var other))
                throw new DatasetException($"dataset {dataset}: images {other} and {image} both have the mask {mask} under pattern '{pattern}'; give each image its own mask name");
            if (!File.Exists(mask))
                throw new DatasetException($"dataset {dataset}: image {image} has no mask: expected {mask} (pattern '{pattern}')");
            claimed[maskName] = image;
            pairs.Add((image, mask));
        }
        if (pairs.Count == 0) throw new DatasetException($"dataset {dataset}: no images ({ImageFormats.ExtensionsInWords}) in {imagesDir}");
        var orphan = ImageFiles(masksDir).Select(f => Path.GetFileName(f)).Where(m => !oneFolder && !claimed.ContainsKey(m)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (orphan is not null)
            throw new DatasetException($"dataset {dataset}: mask {Path.Combine(masksDir, orphan)} belongs to no image of {imagesDir} under pattern '{pattern}'; remove it or fix the pattern");
        return pairs.Select(p => PairEntry.Of(p.Image, p.Mask, options)).ToList();
    }

    private static List<string> ImageFiles(string folder) =>
        Directory.GetFiles(folder).Where(ImageFormats.HasImageExtension).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();

    private static bool SameFolder(string a, string b) =>
        string.Equals(Path.GetFullPath(a).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(b).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
}
