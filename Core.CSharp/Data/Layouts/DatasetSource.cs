using System.Collections.Generic;

namespace CropCat.Data;

/// <summary>
/// Where a dataset is, as the CLI's options say it: either <see cref="Data"/> (a folder whose layout is detected,
/// or a manifest file), or <see cref="Images"/> with <see cref="Masks"/> (and optionally <see cref="MaskPattern"/>),
/// or <see cref="Images"/> with <see cref="RleCsv"/>.
/// </summary>
/// <param name="Data">A dataset folder (layout detected by <see cref="Datasets.Open"/>) or a manifest .csv/.json file.</param>
/// <param name="Images">A folder of images, with <paramref name="Masks"/> or <paramref name="RleCsv"/>.</param>
/// <param name="Masks">A folder of masks for <paramref name="Images"/>.</param>
/// <param name="MaskPattern">How a mask is named from its image (<see cref="CropCat.Data.MaskPattern"/>); null pairs by name without extension.</param>
/// <param name="RleCsv">A CSV of run-length masks for <paramref name="Images"/> (TGS <c>train.csv</c>).</param>
/// <param name="RleOrder">The pixel order of <paramref name="RleCsv"/>'s codes; Kaggle's TGS and DSB use column-major.</param>
public sealed record DatasetSource(
    string? Data = null,
    string? Images = null,
    string? Masks = null,
    string? MaskPattern = null,
    string? RleCsv = null,
    PixelOrder RleOrder = PixelOrder.ColumnMajor);

/// <summary>A dataset opened by <see cref="Datasets.Open"/>: the layout it was read as and its entries, sorted by name.</summary>
/// <param name="Layout">"folder", "pairs", "tgs-csv", "dsb", "isbi" or "manifest".</param>
/// <param name="Entries">The samples, not yet decoded, sorted by name (a stack's slices by page number); names are unique.</param>
public sealed record OpenedDataset(string Layout, IReadOnlyList<DatasetEntry> Entries);
