using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace CropCat.Data;

/// <summary>
/// Opens a dataset in any layout CropCat knows, the one entry point for training and evaluation:
/// "folder" (<c>images/</c> + <c>masks/</c>, also TGS's <c>train/images</c> + <c>train/masks</c>), "pairs"
/// (two folders and a mask name pattern, Carvana), "tgs-csv" (images with run-length masks in a CSV), "dsb"
/// (DSB 2018 <c>ID/images/ID.png</c> + <c>ID/masks/*.png</c>), "isbi" (<c>train-volume.tif</c> +
/// <c>train-labels.tif</c>) and "manifest" (a CSV or JSON list of pairs).
/// </summary>
public static class Datasets
{
    /// <summary>
    /// Opens <paramref name="source"/>. A <see cref="DatasetSource.Data"/> folder is detected in this order:
    /// <c>images/</c> + <c>masks/</c> (folder); <c>images/</c> + <c>train.csv</c> without <c>masks/</c> (tgs-csv);
    /// the same two forms under <c>train/</c>; <c>train-volume.tif</c> (isbi); sample folders <c>ID/images/ID.png</c>
    /// in it or in <c>stage1_train/</c> (dsb). PNG masks win over <c>train.csv</c> where TGS ships both, as they hold
    /// the same masks without a pixel order to get wrong. A .csv or .json file is a manifest.
    /// </summary>
    /// <exception cref="DatasetException">The options conflict, the folder's layout is not recognised (the message lists what was looked for), a layout's files do not agree, or two entries share a name.</exception>
    /// <exception cref="ArgumentException">A mask pattern is malformed.</exception>
    public static OpenedDataset Open(DatasetSource source, LoadOptions options)
    {
        var (layout, entries) = OpenUnsorted(source, options);
        var sorted = entries.OrderBy(e => e.Name, EntryOrder.Instance).ToList();
        for (var i = 1; i < sorted.Count; i++)
            if (sorted[i].Name == sorted[i - 1].Name)
                throw new DatasetException($"dataset ({layout}): two entries are named {sorted[i].Name} ({sorted[i - 1].Source} and {sorted[i].Source}); names must be unique");
        return new OpenedDataset(layout, sorted);
    }

    private static (string, IReadOnlyList<DatasetEntry>) OpenUnsorted(DatasetSource s, LoadOptions options)
    {
        if (s.Data is not null)
        {
            if (s.Images is not null || s.Masks is not null || s.RleCsv is not null || s.MaskPattern is not null)
                throw new DatasetException($"dataset {s.Data}: give either a data folder or manifest, or images with masks or a run-length CSV, not both");
            return OpenData(s.Data, s, options);
        }
        if (s.Images is null)
            throw new DatasetException("no dataset given: name a data folder or manifest, or an image folder with a mask folder or a run-length CSV");
        if (s.Masks is not null && s.RleCsv is not null)
            throw new DatasetException($"dataset {s.Images}: give a mask folder ({s.Masks}) or a run-length CSV ({s.RleCsv}), not both");
        if (s.RleCsv is not null)
        {
            if (s.MaskPattern is not null) throw new DatasetException($"dataset {s.Images}: a mask pattern names mask files; run-length masks ({s.RleCsv}) have none");
            return ("tgs-csv", RleCsvDataset.Entries(s.Images, s.RleCsv, s.RleOrder, options));
        }
        if (s.Masks is null)
            throw new DatasetException($"dataset {s.Images}: images need a mask folder or a run-length CSV");
        return ("pairs", FolderPairs.Entries(s.Images, s.Masks, s.MaskPattern, options));
    }

    private static (string, IReadOnlyList<DatasetEntry>) OpenData(string data, DatasetSource s, LoadOptions options)
    {
        if (File.Exists(data))
        {
            var ext = Path.GetExtension(data).ToLowerInvariant();
            if (ext is ".csv" or ".json") return ("manifest", Manifest.Entries(data, options));
            throw new DatasetException($"dataset {data} is a file but not a manifest (.csv or .json); give a dataset folder or a manifest");
        }
        if (!Directory.Exists(data)) throw new DatasetException($"dataset {data} does not exist");
        foreach (var root in new[] { data, Path.Combine(data, "train") })
        {
            if (!Directory.Exists(Path.Combine(root, "images"))) continue;
            if (Directory.Exists(Path.Combine(root, "masks"))) return ("folder", FolderDataset.Entries(root, options));
            foreach (var csv in new[] { Path.Combine(root, "train.csv"), Path.Combine(data, "train.csv") })
                if (File.Exists(csv)) return ("tgs-csv", RleCsvDataset.Entries(Path.Combine(root, "images"), csv, s.RleOrder, options));
        }
        if (File.Exists(Path.Combine(data, IsbiStack.VolumeFile))) return ("isbi", IsbiStack.Entries(data, options));
        var stage = Path.Combine(data, "stage1_train");
        if (HasDsbSamples(data) || (Directory.Exists(stage) && HasDsbSamples(stage))) return ("dsb", DsbNuclei.Entries(data, options));
        throw new DatasetException(
            $"dataset {data}: no known layout found; looked for images/ with masks/ or train.csv (folder, tgs-csv), the same under train/, " +
            $"{IsbiStack.VolumeFile} with {IsbiStack.LabelsFile} (isbi), and sample folders ID/images/ID.png with ID/masks/ here or in stage1_train/ (dsb); " +
            "for other layouts give images and masks folders with a mask pattern, or a manifest .csv/.json");
    }

    private static bool HasDsbSamples(string folder) => Directory.GetDirectories(folder).Any(DsbNuclei.IsSampleFolder);
}
