using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Data;
using CropCat.Imaging;
using CropCat.Nets;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>What one streamed prediction of a TIFF wrote.</summary>
/// <param name="Input">The input TIFF.</param>
/// <param name="Mask">The mask written (<c>OUTPUT/NAME_mask.tif</c>).</param>
/// <param name="Width">Image width.</param>
/// <param name="Height">Image height.</param>
/// <param name="Layout">The input's layout in words (size, samples, strips or tiles, compression).</param>
/// <param name="Summary">Tiles, rows and time of the tiled prediction.</param>
/// <param name="StatisticsSeconds">Time of the passes that compute the standardisation's mean and spread.</param>
/// <param name="Seconds">Wall time of the whole file: statistics, prediction, writing.</param>
/// <param name="BlocksDecoded">Strips or tiles of the input decoded, statistics passes included.</param>
/// <param name="Probabilities">The probability maps written (none unless asked for).</param>
public sealed record StreamedPrediction(string Input, string Mask, int Width, int Height, string Layout, StreamingSummary Summary,
    double StatisticsSeconds, double Seconds, long BlocksDecoded, IReadOnlyList<string> Probabilities)
{
    /// <summary>Image pixels per second of the whole file, in millions (statistics passes and writing included).</summary>
    public double MegapixelsPerSecond => (double)Width * Height / 1e6 / Seconds;
}

/// <summary>
/// Segments one TIFF larger than memory into a tiled TIFF mask, region by region: the input is read through
/// <see cref="TiffRegionReader"/> and standardised as in memory (<see cref="TiffTileSource"/>), predicted by
/// <see cref="StreamingOverlapTile"/>, and each finished block of rows goes through the class rule
/// (<see cref="ClassProbabilities.ClassMap"/>) and the label schema to <see cref="TiffTiledWriter"/>:
/// <c>OUTPUT/NAME_mask.tif</c>, 8-bit (16-bit when a mask value needs it), tiles of 256, Deflate, written atomically.
/// With probabilities, <c>OUTPUT/probabilities/NAME.tif</c> holds the foreground probability as 16-bit (one
/// <c>NAME.classK.tif</c> per non-background class for more than two classes), quantised as the PNG maps are.
/// The masks equal those of the in-memory path (<see cref="FolderPredictor"/> without streaming) pixel for pixel.
/// </summary>
public static class StreamingPredictor
{
    /// <summary>The mask file name of a streamed input: its name without extension, then <c>_mask.tif</c>.</summary>
    public static string MaskName(string file) => Path.GetFileNameWithoutExtension(file) + "_mask.tif";

    /// <summary>Tile edge of the written TIFFs.</summary>
    public const int OutputTileSize = 256;

    private const int ChunkRows = 64;

    /// <summary>
    /// Predicts <paramref name="file"/> into <paramref name="outputFolder"/>. Resizing, test-time augmentation and
    /// submissions are not streamed; the caller refuses them before.
    /// </summary>
    /// <param name="network">The net (2-D).</param>
    /// <param name="labels">The label schema that maps classes to mask values.</param>
    /// <param name="file">The TIFF.</param>
    /// <param name="outputFolder">Where the mask goes.</param>
    /// <param name="options">Tiling (tile, batch, memory budget, engine), probabilities and threshold.</param>
    /// <param name="tilesDone">Called after each batch with (tiles done, tiles in all); null for none.</param>
    /// <param name="rowDone">Called after each row of tiles with (rows done, rows in all); null for none.</param>
    /// <param name="planned">Called once the plan is known, before the first tile; null for none.</param>
    /// <exception cref="InputImageException">The file cannot be streamed (not a TIFF, a stack, corrupt, too large strips, wrong channels, colour mask values); the message names the file.</exception>
    public static StreamedPrediction Predict(Network network, LabelSchema labels, string file, string outputFolder, FolderPredictorOptions options,
        Action<int, int>? tilesDone = null, Action<int, int>? rowDone = null, Action<TiffRegionReader, TilePlan>? planned = null)
    {
        var valueOf = Enumerable.Range(0, labels.ClassCount).Select(labels.ValueOf).ToArray();
        if (valueOf.Max() > 65535)
            throw new InputImageException($"{file}: the label schema's mask values exceed 16 bits (colour masks); a streamed mask is a gray tiled TIFF");
        if (network.Dims != 2)
            throw new InputImageException($"{file}: streamed prediction tiles 2-D images, and this net is {network.Dims}-D");
        try
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            using var reader = TiffRegionReader.Open(file);
            var source = TiffTileSource.Create(reader, network.InChannels);
            var statistics = watch.Elapsed.TotalSeconds;
            var tiles = options.Tiles with { Output = TileOutput.Probabilities, Progress = tilesDone };
            var tiler = new StreamingOverlapTile(network, tiles, options.Engine);
            var plan = tiler.Plan(reader.Height, reader.Width);
            // Every strip or tile that a row of input tiles touches stays decoded until the next row has read it.
            var blockRows = (plan.TileSize + reader.BlockHeight - 1) / reader.BlockHeight + 2;
            reader.CacheBytes = Math.Max(reader.CacheBytes, blockRows * TiffTileSource.BlockRowBytes(reader));
            planned?.Invoke(reader, plan);
            var mask = Path.Combine(outputFolder, MaskName(file));
            var writers = new List<TiffTiledWriter>();
            try
            {
                var maskWriter = TiffTiledWriter.Create(mask, reader.Width, reader.Height, valueOf.Max() > 255 ? 16 : 8, OutputTileSize);
                writers.Add(maskWriter);
                var maps = options.Probabilities ? ProbabilityWriters(file, outputFolder, plan.Classes, reader.Width, reader.Height) : [];
                writers.AddRange(maps.Select(m => m.Writer));
                var summary = tiler.Predict(source, (top, block) =>
                {
                    // A few rows at a time, so the converted copies stay small next to the band.
                    var n = (int)block.shape[1];
                    for (var r = 0; r < n; r += ChunkRows)
                    {
                        var k = Math.Min(ChunkRows, n - r);
                        using var rows = block.narrow(1, r, k);
                        maskWriter.WriteRows(MaskValues(rows, options.Threshold, valueOf), k);
                        foreach (var (channel, writer) in maps) writer.WriteRows(Quantised(rows, channel), k);
                    }
                }, plan, rowDone);
                foreach (var w in writers) w.Commit();
                return new StreamedPrediction(file, maskWriter.Path, reader.Width, reader.Height, reader.ToString(), summary, statistics,
                    watch.Elapsed.TotalSeconds, reader.BlocksDecoded, maps.Select(m => m.Writer.Path).ToArray());
            }
            finally
            {
                foreach (var w in writers) w.Dispose(); // abandons the files unless committed
            }
        }
        catch (ImageFormatException e)
        {
            throw new InputImageException($"{file}: {e.Reason}", e);
        }
    }

    // The probability maps to write: class 1 (or a sigmoid head's one channel) for up to two classes, else one per non-background class.
    private static List<(int Channel, TiffTiledWriter Writer)> ProbabilityWriters(string file, string outputFolder, int classes, int width, int height)
    {
        var folder = Path.Combine(outputFolder, "probabilities");
        var name = Path.GetFileNameWithoutExtension(file);
        var maps = new List<(int, TiffTiledWriter)>();
        try
        {
            for (var c = classes == 1 ? 0 : 1; c < classes; c++)
            {
                var path = Path.Combine(folder, classes <= 2 ? $"{name}.tif" : $"{name}.class{c}.tif");
                maps.Add((c, TiffTiledWriter.Create(path, width, height, 16, OutputTileSize)));
            }
            return maps;
        }
        catch
        {
            foreach (var (_, w) in maps) w.Dispose();
            throw;
        }
    }

    // The class of each pixel of a (classes, n, W) block, mapped to its mask value, row-major.
    private static ushort[] MaskValues(Tensor block, double threshold, int[] valueOf)
    {
        using var classes = ClassProbabilities.ClassMap(block, threshold);
        using var ints = classes.to_type(ScalarType.Int32).contiguous();
        var values = ints.data<int>().ToArray();
        var mask = new ushort[values.Length];
        for (var i = 0; i < values.Length; i++) mask[i] = (ushort)valueOf[values[i]];
        return mask;
    }

    // One class's probabilities as 16-bit values, round(p * 65535), as the PNG probability maps.
    private static ushort[] Quantised(Tensor block, int channel)
    {
        using var scope = NewDisposeScope();
        var p = block[channel].mul(65535.0).round().clamp(0, 65535).to_type(ScalarType.Int32).contiguous();
        return p.data<int>().Select(v => (ushort)v).ToArray();
    }
}
