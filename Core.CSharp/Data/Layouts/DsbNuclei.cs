using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>
/// The 2018 Data Science Bowl nuclei layout: <c>stage1_train/ID/images/ID.png</c> (RGBA; alpha ignored, so a
/// 3-channel net reads R, G, B and a 1-channel net their luma) with <c>ID/masks/*.png</c>, one binary mask per
/// nucleus. The instances are kept as the files give them (instance k is the k-th mask file in ordinal name order,
/// ids 1..K), so touching nuclei stay distinct for the border weight map and instance metrics; the class of a pixel
/// is its instance's class under the label schema (DSB masks are 0/255: use <see cref="LabelSchema.Binary255"/>).
/// Two masks covering one pixel are refused: the competition states that masks do not overlap, so an overlap is a
/// broken download, and taking either mask would silently move a border the weight map depends on.
/// </summary>
public static class DsbNuclei
{
    /// <summary>Whether <paramref name="folder"/> is one DSB sample folder: <c>ID/images/ID.png</c> exists.</summary>
    public static bool IsSampleFolder(string folder) =>
        File.Exists(Path.Combine(folder, "images", Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) + ".png"));

    /// <summary>
    /// One entry per sample folder of <paramref name="root"/> (which may be <c>stage1_train</c> itself or the folder
    /// holding it), named by the image's file name (<c>ID.png</c>) and sorted by it, sized from the image's header.
    /// </summary>
    /// <exception cref="DatasetException">No sample folder, a sample folder without masks, or a header that cannot be read or does not agree.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string root, LoadOptions options)
    {
        var stage = Directory.Exists(Path.Combine(root, "stage1_train")) && !HasSamples(root) ? Path.Combine(root, "stage1_train") : root;
        if (!Directory.Exists(stage)) throw new DatasetException($"DSB dataset {root} does not exist");
        var folders = Directory.GetDirectories(stage).Where(IsSampleFolder).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (folders.Count == 0)
            throw new DatasetException($"DSB dataset {root}: no sample folders ID/images/ID.png in {stage}");
        var entries = new List<DatasetEntry>(folders.Count);
        foreach (var folder in folders)
        {
            var id = Path.GetFileName(folder);
            var image = Path.Combine(folder, "images", id + ".png");
            var maskDir = Path.Combine(folder, "masks");
            var masks = Directory.Exists(maskDir)
                ? Directory.GetFiles(maskDir).Where(ImageFormats.HasImageExtension).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToArray()
                : [];
            if (masks.Length == 0)
                throw new DatasetException($"DSB sample {folder}: no nucleus masks in {maskDir}; every training sample has one PNG per nucleus there");
            var h = Headers.ProbeSingle(image, options.Limits);
            Headers.CheckChannels(image, h, options.Channels);
            entries.Add(new DatasetEntry(id + ".png", $"{image} + {masks.Length} masks in {maskDir}", h.Height, h.Width,
                () => Load(image, masks, options)));
        }
        return entries;
    }

    private static bool HasSamples(string root) => Directory.GetDirectories(root).Any(IsSampleFolder);

    /// <summary>Decodes the image and every nucleus mask into one sample with instances 1..K.</summary>
    private static Sample Load(string imagePath, string[] masks, LoadOptions options)
    {
        var image = LayoutImages.Read(imagePath, options);
        var n = image.Height * image.Width;
        var classes = new int[n];
        var instances = new int[n];
        for (var k = 0; k < masks.Length; k++)
        {
            var mask = LayoutImages.Decode(masks[k], options);
            if (mask.Width != image.Width || mask.Height != image.Height)
                throw new DatasetException($"mask {masks[k]} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
            var maskClasses = LayoutImages.Classes(mask, options.Labels, masks[k]);
            for (var i = 0; i < n; i++)
            {
                if (maskClasses[i] == 0) continue;
                if (instances[i] != 0)
                    throw new DatasetException(
                        $"masks {masks[instances[i] - 1]} and {masks[k]} both cover pixel (x={i % image.Width}, y={i / image.Width}); DSB nuclei masks must not overlap");
                instances[i] = k + 1;
                classes[i] = maskClasses[i];
            }
        }
        return new Sample(Path.GetFileName(imagePath), image.Height, image.Width, image.Values, classes, instances, channels: options.Channels);
    }
}
