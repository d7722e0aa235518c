using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Architecture;
using CropCat.Data;
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
    /// <summary>The dataset folder: <c>images/NAME.ext</c> with <c>masks/NAME.ext</c> (see <see cref="FolderDataset"/>).</summary>
    public required string DataFolder { get; init; }
    /// <summary>Mask value -> class index; stored in the checkpoint.</summary>
    public LabelSchema Labels { get; init; } = LabelSchema.Binary255;
    /// <summary>Largest training tile edge: the tile is the largest valid input of the net at most this and at most the smallest image edge.</summary>
    public int MaxTileSize { get; init; } = 572;
    /// <summary>Fraction of the images (not tiles) held out for validation; at least one image stays for training.</summary>
    public double ValidationFraction { get; init; } = 0.2;
    /// <summary>Where the checkpoint goes (<see cref="FolderTraining.CheckpointFile"/> inside it).</summary>
    public string OutputFolder { get; init; } = "out/train";
    /// <summary>A checkpoint to continue from (weights, optimizer state, epoch, step); null to start fresh.</summary>
    public string? ResumeFrom { get; init; }
}

/// <summary>What <see cref="FolderTraining.Run"/> did.</summary>
/// <param name="Training">The trainer's result (history, steps, time).</param>
/// <param name="CheckpointPath">The checkpoint written after every epoch.</param>
/// <param name="Tile">The training tile edge (a valid input size of the net).</param>
/// <param name="TrainImages">Images used for training.</param>
/// <param name="ValidationImages">Images held out.</param>
/// <param name="TrainTiles">Training tiles cut from the training images.</param>
/// <param name="ValidationTiles">Validation tiles.</param>
public sealed record FolderTrainingResult(TrainResult Training, string CheckpointPath, int Tile, int TrainImages, int ValidationImages, int TrainTiles, int ValidationTiles);

/// <summary>
/// Trains a network on a dataset folder, the path behind <c>cropcat train</c>: loads the pairs, standardises
/// every image (zero mean, unit deviation, as CropCat.Inference.FolderPredictor does before predicting), computes
/// the paper's weight map on the whole image, cuts every image into square tiles of one valid input size
/// (a grid whose last row and column end at the image border), holds out whole images for validation,
/// and runs the <see cref="Trainer"/> with a checkpoint after every epoch.
/// </summary>
public static class FolderTraining
{
    /// <summary>The checkpoint's file name inside the output folder.</summary>
    public const string CheckpointFile = "model.safetensors";

    /// <summary>Loads, checks, tiles and trains; see the class summary.</summary>
    /// <exception cref="FolderTrainingException">The net reads neither 1 nor 3 channels, has another class count than the schema, or no valid input fits the smallest image.</exception>
    /// <exception cref="DatasetException">The folder is inconsistent (the message names the file).</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value outside the schema.</exception>
    public static FolderTrainingResult Run(Network net, FolderTrainingOptions options, TrainerOptions training)
    {
        if (options.MaxTileSize < 1) throw new ArgumentException($"the largest tile size must be >= 1, got {options.MaxTileSize}");
        if (options.ValidationFraction is < 0 or >= 1) throw new ArgumentException($"the validation fraction must be in [0, 1), got {options.ValidationFraction}");
        if (net.InChannels is not (1 or 3))
            throw new FolderTrainingException($"the network reads {net.InChannels} channels; folder training reads images as 1 (gray) or 3 (RGB) channels");
        var samples = FolderDataset.Load(options.DataFolder, options.Labels, channels: net.InChannels);
        var smallest = samples.MinBy(s => Math.Min(s.Height, s.Width))!;
        var tile = LargestValidSize(net, Math.Min(options.MaxTileSize, Math.Min(smallest.Height, smallest.Width)));
        if (tile is null)
        {
            var least = Sizes(net).Smallest;
            throw new FolderTrainingException(
                $"the network needs square inputs of at least {least}x{least} px, but image {Path.Combine(options.DataFolder, "images", smallest.Name)} is {smallest.Width}x{smallest.Height}" +
                (options.MaxTileSize < least ? $" and the tile size is limited to {options.MaxTileSize}" : "") +
                "; use a shallower net (fewer widths), padded convolutions, or larger images");
        }
        var classes = net.Infer(tile.Value, tile.Value).Channels;
        if (classes != options.Labels.ClassCount)
            throw new FolderTrainingException($"the network predicts {classes} classes but the label schema {options.Labels} has {options.Labels.ClassCount}");

        var prepared = samples.Select(s => Prepare(s, training.WeightMap)).ToList();
        var (trainImages, valImages) = Split(prepared, options.ValidationFraction, training.Seed);
        var trainTiles = trainImages.SelectMany(s => Tiles(s, tile.Value)).ToList();
        var valTiles = valImages.SelectMany(s => Tiles(s, tile.Value)).ToList();
        var checkpoint = Path.Combine(options.OutputFolder, CheckpointFile);
        Directory.CreateDirectory(options.OutputFolder);
        using var trainer = new Trainer(net, options.Labels, training with { CheckpointPath = checkpoint });
        if (options.ResumeFrom is not null) trainer.Resume(options.ResumeFrom);
        var result = trainer.Fit(trainTiles, valTiles.Count == 0 ? null : valTiles);
        // A resumed run that was already done trains no epoch, so Fit wrote nothing: write the state anyway.
        if (result.History.Count == 0) trainer.SaveCheckpoint(checkpoint);
        return new FolderTrainingResult(result, checkpoint, tile.Value, trainImages.Count, valImages.Count, trainTiles.Count, valTiles.Count);
    }

    /// <summary>The largest valid input edge of <paramref name="net"/> that is at most <paramref name="atMost"/>, from the valid-size solver.</summary>
    public static int? LargestValidSize(Network net, int atMost) => Sizes(net).Below(atMost);

    private static Solution Sizes(Network net) =>
        net.Sizes.Value ?? throw new FolderTrainingException($"the network has no valid input size: {net.Sizes.Error!.Message}");

    /// <summary>
    /// Splits images into training and validation: a seeded shuffle, then round(fraction * n) images held out,
    /// but never all of them (one image means no validation).
    /// </summary>
    public static (IReadOnlyList<Sample> Train, IReadOnlyList<Sample> Validation) Split(IReadOnlyList<Sample> samples, double fraction, int seed)
    {
        var order = Enumerable.Range(0, samples.Count).ToArray();
        new Random(seed).Shuffle(order);
        var held = Math.Min(samples.Count - 1, (int)Math.Round(fraction * samples.Count));
        var val = order.Take(held).Order().Select(i => samples[i]).ToList();
        var train = order.Skip(held).Order().Select(i => samples[i]).ToList();
        return (train, val);
    }

    /// <summary>
    /// Square tiles of edge <paramref name="tile"/> covering <paramref name="s"/>: starts every <paramref name="tile"/>
    /// pixels, the last row and column moved back to end at the border (so they may overlap their neighbours).
    /// </summary>
    public static IEnumerable<Sample> Tiles(Sample s, int tile)
    {
        if (tile > s.Height || tile > s.Width) throw new ArgumentException($"sample {s.Name}: tile {tile} is larger than the image {s.Width}x{s.Height}");
        foreach (var y in Starts(s.Height, tile))
            foreach (var x in Starts(s.Width, tile))
                yield return Cut(s, y, x, tile);
    }

    private static IEnumerable<int> Starts(int length, int tile)
    {
        for (var p = 0; p + tile < length; p += tile) yield return p;
        yield return length - tile;
    }

    private static Sample Cut(Sample s, int y, int x, int tile)
    {
        T[]? Window<T>(T[]? a, int planes = 1)
        {
            if (a is null) return null;
            var r = new T[planes * tile * tile];
            for (var p = 0; p < planes; p++)
                for (var row = 0; row < tile; row++)
                    Array.Copy(a, p * s.Height * s.Width + (y + row) * s.Width + x, r, p * tile * tile + row * tile, tile);
            return r;
        }
        return new Sample($"{s.Name}@{x},{y}", tile, tile, Window(s.Image, s.Channels)!, Window(s.Classes)!, Window(s.Instances),
            Window(s.Weights), s.Channels);
    }

    // Weights on the whole image: a cell cut by a tile border keeps its true neighbours and distances.
    private static Sample Prepare(Sample s, WeightMapOptions? weights)
    {
        var z = s.Standardized();
        return weights is null ? z : z.WithWeights(WeightMap.Compute(z.Classes, z.Instances ?? Components.OfClasses(z.Classes, z.Height, z.Width), z.Height, z.Width, weights));
    }
}
