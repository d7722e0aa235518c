using System.Collections.Generic;
using System.IO;

namespace CropCat.Data;

/// <summary>
/// The ISBI 2012 EM segmentation layout: <c>train-volume.tif</c> (a stack of 8-bit gray slices, 30 of 512x512) and
/// <c>train-labels.tif</c> (the same number of slices, 255 = cell, 0 = membrane). Every slice is a 2-D entry named
/// <c>train-volume.tif#0</c> .. <c>#N-1</c>; loading one decodes that page of each file only
/// (<see cref="Imaging.ImageFile.ReadPage"/>). With <see cref="LabelSchema.Binary255"/> cells are class 1 and the
/// instances (4-connected cells) are separated by the membrane.
/// </summary>
public static class IsbiStack
{
    /// <summary>The volume's file name.</summary>
    public const string VolumeFile = "train-volume.tif";

    /// <summary>The labels' file name.</summary>
    public const string LabelsFile = "train-labels.tif";

    /// <summary>The entries of <paramref name="root"/>/<see cref="VolumeFile"/> with <see cref="LabelsFile"/>, one per page in page order.</summary>
    /// <exception cref="DatasetException">A file is missing or unreadable, or page counts or sizes differ.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string root, LoadOptions options) =>
        Entries(Path.Combine(root, VolumeFile), Path.Combine(root, LabelsFile), options);

    /// <summary>The entries of a volume stack <paramref name="volume"/> and its label stack <paramref name="labels"/>, one per page, named <c>VOLUME-FILE-NAME#page</c>.</summary>
    /// <exception cref="DatasetException">A file is missing or unreadable, or page counts or sizes differ.</exception>
    public static IReadOnlyList<DatasetEntry> Entries(string volume, string labels, LoadOptions options)
    {
        if (!File.Exists(volume)) throw new DatasetException($"ISBI dataset: volume {volume} does not exist");
        if (!File.Exists(labels)) throw new DatasetException($"ISBI dataset: labels {labels} do not exist (expected beside {volume})");
        var v = Headers.Probe(volume, options.Limits);
        var l = Headers.Probe(labels, options.Limits);
        if (v.Pages != l.Pages)
            throw new DatasetException($"ISBI dataset: {volume} has {v.Pages} page(s) but {labels} has {l.Pages}; every slice needs its labels");
        Headers.CheckSameSize(volume, v, labels, l);
        Headers.CheckChannels(volume, v, options.Channels);
        var name = Path.GetFileName(volume);
        var entries = new List<DatasetEntry>(v.Pages);
        for (var page = 0; page < v.Pages; page++)
        {
            var p = page;
            entries.Add(new DatasetEntry($"{name}#{p}", $"{volume} + {labels}, page {p}", v.Height, v.Width, () => Load(volume, labels, p, name, options)));
        }
        return entries;
    }

    private static Sample Load(string volume, string labels, int page, string name, LoadOptions options)
    {
        var image = LayoutImages.Read(volume, options, page);
        var classes = LayoutImages.Classes(LayoutImages.Decode(labels, options, page), options.Labels, $"{labels} page {page}");
        return new Sample($"{name}#{page}", image.Height, image.Width, image.Values, classes,
            Components.OfClasses(classes, image.Height, image.Width), channels: options.Channels);
    }
}
