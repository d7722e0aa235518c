using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Architecture;
using CropCat.Data;
using CropCat.Imaging;
using CropCat.Inference;
using CropCat.IO;
using CropCat.Nets;
using CropCat.Shapes;

namespace CropCat.Training;

/// <summary>A network and a dataset folder do not go together (channels, classes, sizes); the message says which and why.</summary>
public sealed class FolderTrainingException : Exception
{
    /// <summary>Creates the error.</summary>
    public FolderTrainingException(string message) : base(message) { }
}

/// <summary>What <see cref="FolderTraining.Run"/> trains on and where it writes.</summary>
public sealed record FolderTrainingOptions
{
    /// <summary>The dataset folder: <c>images/NAME.ext</c> with <c>masks/NAME.ext</c> (see <see cref="FolderDataset"/>); ignored when <see cref="Entries"/> is given.</summary>
    public string? DataFolder { get; init; }
    /// <summary>Where the dataset is in any layout <see cref="Datasets.Open"/> knows; when null, <see cref="DataFolder"/> (layout detected).</summary>
    public DatasetSource? Source { get; init; }
    /// <summary>The images, already listed (read lazily); when given, <see cref="Source"/> and <see cref="DataFolder"/> are ignored.</summary>
    public IReadOnlyList<DatasetEntry>? Entries { get; init; }
    /// <summary>
    /// Resizing of every image before training (bilinear for the image, nearest for classes and instances, the weight
    /// map computed after); store the same choice for prediction. Null trains at the files' size.
    /// </summary>
    public InputResize? Resize { get; init; }
    /// <summary>Mask value -> class index; stored in the checkpoint.</summary>
    public LabelSchema Labels { get; init; } = LabelSchema.Binary255;
    /// <summary>
    /// Largest training tile edge: the tile is the largest valid input of the net at most this, or, when every
    /// image is smaller, the smallest valid input whose output covers the largest image.
    /// </summary>
    public int MaxTileSize { get; init; } = 572;
    /// <summary>Fraction of the images (not tiles) held out for validation; at least one image stays for training.</summary>
    public double ValidationFraction { get; init; } = 0.2;
    /// <summary>Where the checkpoint goes (<see cref="FolderTraining.CheckpointFile"/> inside it).</summary>
    public string OutputFolder { get; init; } = "out/train";
    /// <summary>A checkpoint to continue from (weights, optimizer state, epoch, step); null to start fresh.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>
    /// Memory for decoded, prepared training images (an LRU cache); a dataset larger than this is re-read from disk
    /// as steps need its images. Default 512 MiB.
    /// </summary>
    public long CacheBytes { get; init; } = 512L << 20;
    /// <summary>The pixel budget of every decoded file (<see cref="ImageLimits.Default"/> when null).</summary>
    public ImageLimits? Limits { get; init; }
    /// <summary>Told, once per file, about an image that cannot be decoded and is skipped (null: skipped silently; see <see cref="FolderTrainingResult.Skipped"/>).</summary>
    public Action<string>? Warning { get; init; }
    /// <summary>
    /// Called once the trainer and the validation tiles exist, before the first step: the trainer (for predictions,
    /// e.g. overlays in a log) and the validation tiles, enumerated lazily (null without validation images). Taking a
    /// few of them decodes only the images they come from.
    /// </summary>
    public Action<Trainer, IEnumerable<Sample>?>? Started { get; init; }
}

/// <summary>What <see cref="FolderTraining.Run"/> did.</summary>
/// <param name="Training">The trainer's result (history, steps, time).</param>
/// <param name="CheckpointPath">The checkpoint written after every epoch.</param>
/// <param name="Tile">The training tile edge (a valid input size of the net).</param>
/// <param name="TrainImages">Images used for training.</param>
/// <param name="ValidationImages">Images held out.</param>
/// <param name="TrainTiles">Random tiles drawn per training epoch (as many as a grid of output windows has on the training images).</param>
/// <param name="ValidationTiles">Validation tiles (the grid of output windows on the held-out images).</param>
public sealed record FolderTrainingResult(TrainResult Training, string CheckpointPath, int Tile, int TrainImages, int ValidationImages, int TrainTiles, int ValidationTiles)
{
    /// <summary>The net's output edge for the tile: the window each tile trains.</summary>
    public int OutputSize { get; init; }
    /// <summary>Decodes of training images (cache misses) during the run.</summary>
    public long ImageLoads { get; init; }
    /// <summary>The layout the data was read as ("folder", "pairs", "tgs-csv", "dsb", "isbi", "manifest"; "entries" when listed by the caller).</summary>
    public string Layout { get; init; } = "";
    /// <summary>Training images that could not be decoded and were skipped, by name, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Skipped { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Trains a network on a dataset, the path behind <c>cropcat train</c>: lists the images (sizes from headers, no
/// decoding), holds out whole images for validation, and streams training tiles: each step decodes what it needs
/// through a bounded cache, standardises the image (zero mean, unit deviation, as CropCat.Inference.FolderPredictor
/// does before predicting; a net with an input normalisation gets its [0, 1] intensities instead), computes the paper's weight map on the whole image, and cuts a random output window of
/// the net, mirror-padded where it leaves the image (padding pixels are not in the loss), so images smaller than
/// the tile train too. Batches are prepared on a background thread; a checkpoint is written after every epoch.
/// </summary>
public static class FolderTraining
{
    /// <summary>The checkpoint's file name inside the output folder.</summary>
    public const string CheckpointFile = "model.safetensors";

    /// <summary>Lists, checks, streams and trains; see the class summary.</summary>
    /// <exception cref="FolderTrainingException">The net reads neither 1 nor 3 channels, has another class count than the schema, or no valid input is at most the tile limit.</exception>
    /// <exception cref="DatasetException">The data is inconsistent (the message names the file).</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value outside the schema.</exception>
    public static FolderTrainingResult Run(Network net, FolderTrainingOptions options, TrainerOptions training)
    {
        if (options.MaxTileSize < 1) throw new ArgumentException($"the largest tile size must be >= 1, got {options.MaxTileSize}");
        if (options.ValidationFraction is < 0 or >= 1) throw new ArgumentException($"the validation fraction must be in [0, 1), got {options.ValidationFraction}");
        if (net.InChannels is not (1 or 3))
            throw new FolderTrainingException($"the network reads {net.InChannels} channels; folder training reads images as 1 (gray) or 3 (RGB) channels");
        var (layout, listed) = options.Entries is { } given ? ("entries", given) : Open(options, net.InChannels);
        var entries = options.Resize is { } resize ? listed.Select(e => Resized(e, resize)).ToList() : listed;
        if (entries.Count == 0) throw new DatasetException("the dataset holds no images");
        var tile = ChooseTile(net, options.MaxTileSize, entries);
        var outShape = net.Infer(tile, tile);
        // A one-channel (sigmoid) head predicts the foreground of a two-class schema; softmax heads one channel per class.
        var binaryHead = outShape.Channels == 1 && options.Labels.ClassCount == 2;
        if (!binaryHead && outShape.Channels != options.Labels.ClassCount)
            throw new FolderTrainingException($"the network predicts {outShape.Channels} {(outShape.Channels == 1 ? "sigmoid channel" : "classes")} but the label schema {options.Labels} has {options.Labels.ClassCount} classes" +
                (outShape.Channels == 1 ? "; a binary net needs a two-class schema" : ""));
        int oh = outShape.Height, ow = outShape.Width;

        var (trainEntries, valEntries) = Split(entries, options.ValidationFraction, training.Seed);
        Sample Prepare(Sample s) => FolderTraining.Prepare(s, training.WeightMap, net.Spec.Normalization);
        var trainSet = new StreamingTiles(trainEntries, tile, oh, ow, Prepare, options.CacheBytes) { Warning = options.Warning };
        var valTiles = valEntries.Sum(e => TileWindow.GridCount(e.Height, e.Width, oh, ow));
        var checkpoint = Path.Combine(options.OutputFolder, CheckpointFile);
        Directory.CreateDirectory(options.OutputFolder);
        // The resizing goes into the checkpoint: a net trained on shrunken images must be fed shrunken images.
        var metadata = new Dictionary<string, string>(training.CheckpointMetadata ?? new Dictionary<string, string>());
        if (options.Resize is { } r) metadata[InputResize.CheckpointKey] = r.ToString();
        using var trainer = new Trainer(net, options.Labels, training with { CheckpointPath = checkpoint, CheckpointMetadata = metadata });
        if (options.ResumeFrom is not null) trainer.Resume(options.ResumeFrom);
        var validation = valEntries.Count == 0 ? null : StreamingTiles.GridTiles(valEntries, tile, oh, ow, Prepare, options.Warning ?? (_ => { }));
        options.Started?.Invoke(trainer, validation);
        var result = trainer.Fit(trainSet, validation);
        // A resumed run that was already done trains no epoch, so Fit wrote nothing: write the state anyway.
        if (result.History.Count == 0) trainer.SaveCheckpoint(checkpoint);
        return new FolderTrainingResult(result, checkpoint, tile, trainEntries.Count, valEntries.Count, trainSet.Count, valTiles)
        {
            OutputSize = oh,
            Layout = layout,
            ImageLoads = trainSet.Cache.Loads,
            Skipped = new Dictionary<string, string>(trainSet.Skipped),
        };
    }

    /// <summary>
    /// The training tile for <paramref name="entries"/>: the largest valid input at most <paramref name="maxTile"/>,
    /// or the smallest valid input whose output covers the largest image edge when that is smaller (a 101x101
    /// TGS image does not need a 572 tile that would be 85% padding).
    /// </summary>
    /// <exception cref="FolderTrainingException">No valid input is at most <paramref name="maxTile"/>.</exception>
    public static int ChooseTile(Network net, int maxTile, IReadOnlyList<DatasetEntry> entries)
    {
        var sizes = Sizes(net);
        var cap = sizes.Below(maxTile)
            ?? throw new FolderTrainingException($"the network needs square inputs of at least {sizes.Smallest}x{sizes.Smallest} px but the tile size is limited to {maxTile}; raise --tile or use a shallower net");
        var largest = entries.Max(e => Math.Max(e.Height, e.Width));
        return sizes.InputFor(largest) is { Input: var fit } && fit < cap ? fit : cap;
    }

    private static (string, IReadOnlyList<DatasetEntry>) Open(FolderTrainingOptions options, int channels)
    {
        var source = options.Source
            ?? (options.DataFolder is { } folder ? new DatasetSource(Data: folder) : throw new ArgumentException("folder training needs a Source, a DataFolder or Entries"));
        var opened = Datasets.Open(source, new LoadOptions(options.Labels, channels, options.Limits));
        return (opened.Layout, opened.Entries);
    }

    /// <summary>
    /// <paramref name="e"/> resized by <paramref name="resize"/>: the image bilinearly, classes and instances by nearest
    /// neighbour (labels are never interpolated); weights are dropped, to be computed on the resized image.
    /// </summary>
    public static DatasetEntry Resized(DatasetEntry e, InputResize resize)
    {
        var (h, w) = resize.SizeFor(e.Height, e.Width);
        if (h == e.Height && w == e.Width) return e;
        return new DatasetEntry(e.Name, $"{e.Source} resized to {w}x{h}", h, w, () =>
        {
            var s = e.Load();
            return new Sample(s.Name, h, w, CropCat.Numerics.Resize.Bilinear(s.Image, s.Channels, s.Height, s.Width, h, w),
                CropCat.Numerics.Resize.Nearest(s.Classes, s.Height, s.Width, h, w),
                s.Instances is null ? null : CropCat.Numerics.Resize.Nearest(s.Instances, s.Height, s.Width, h, w), channels: s.Channels);
        });
    }

    /// <summary>The largest valid input edge of <paramref name="net"/> that is at most <paramref name="atMost"/>, from the valid-size solver.</summary>
    public static int? LargestValidSize(Network net, int atMost) => Sizes(net).Below(atMost);

    private static Solution Sizes(Network net) =>
        net.Sizes.Value ?? throw new FolderTrainingException($"the network has no valid input size: {net.Sizes.Error!.Message}");

    /// <summary>
    /// Splits images into training and validation: a seeded shuffle, then round(fraction * n) images held out,
    /// but never all of them (one image means no validation).
    /// </summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation) Split<T>(IReadOnlyList<T> samples, double fraction, int seed)
    {
        var order = Enumerable.Range(0, samples.Count).ToArray();
        new Random(seed).Shuffle(order);
        var held = Math.Min(samples.Count - 1, (int)Math.Round(fraction * samples.Count));
        var val = order.Take(held).Order().Select(i => samples[i]).ToList();
        var train = order.Skip(held).Order().Select(i => samples[i]).ToList();
        return (train, val);
    }

    // Weights on the whole image: a cell cut by a tile border keeps its true neighbours and distances.
    /// <summary>Standardises <paramref name="s"/> and computes its weight map on the whole image (instances from connected components when the layout gave none).</summary>
    public static Sample Prepare(Sample s, WeightMapOptions? weights) => Prepare(s, weights, null);

    /// <summary>
    /// Prepares <paramref name="s"/> for a network with <paramref name="normalization"/> (<see cref="Sample.ForNetInput"/>:
    /// standardised when null, else left in [0, 1] for the net's own normalisation) and computes its weight map on the
    /// whole image (instances from connected components when the layout gave none).
    /// </summary>
    public static Sample Prepare(Sample s, WeightMapOptions? weights, InputNormalization? normalization)
    {
        var z = s.ForNetInput(normalization);
        return weights is null ? z : z.WithWeights(WeightMap.Compute(z.Classes, z.Instances ?? Components.OfClasses(z.Classes, z.Height, z.Width), z.Height, z.Width, weights));
    }
}
