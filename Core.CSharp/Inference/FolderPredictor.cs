using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Data;
using CropCat.Imaging;
using CropCat.Nets;
using CropCat.Numerics;
using CropCat.Runtime;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>An input image cannot be used (unreadable, wrong channel count); the message names the file.</summary>
public sealed class InputImageException : Exception
{
    /// <summary>Creates the error.</summary>
    public InputImageException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>One input that was not segmented, and why.</summary>
/// <param name="File">The input file.</param>
/// <param name="Reason">The message (it names the file).</param>
public sealed record SkippedInput(string File, string Reason);

/// <summary>What <see cref="FolderPredictor.Run"/> did.</summary>
/// <param name="Written">The mask files written, one per segmented input.</param>
/// <param name="Skipped">The inputs that were reported and skipped.</param>
/// <param name="Submission">The run-length submission CSV written, or null when none was asked for.</param>
/// <param name="SubmissionRows">The rows of <paramref name="Submission"/> (without its header).</param>
public sealed record PredictionReport(IReadOnlyList<string> Written, IReadOnlyList<SkippedInput> Skipped, string? Submission = null, int SubmissionRows = 0)
{
    /// <summary>Inputs in this run's shard (all inputs without sharding).</summary>
    public int Inputs { get; init; }
    /// <summary>Inputs found and counted, before sharding.</summary>
    public int AllInputs { get; init; }
    /// <summary>Outputs that already existed and were kept (<see cref="FolderPredictorOptions.Resume"/>).</summary>
    public IReadOnlyList<string> AlreadyDone { get; init; } = [];
    /// <summary>The inputs predicted region by region (<see cref="FolderPredictorOptions.Stream"/>), with their numbers; their masks are in <see cref="Written"/> too.</summary>
    public IReadOnlyList<StreamedPrediction> Streamed { get; init; } = [];

    /// <summary>The process exit code <c>cropcat predict</c> returns when an input was skipped.</summary>
    public const int SkippedExitCode = 5;

    /// <summary>0 when every input was segmented, <see cref="SkippedExitCode"/> otherwise.</summary>
    public int ExitCode => Skipped.Count == 0 ? 0 : SkippedExitCode;
}

/// <summary>
/// Segments image files (PNG, JPEG, GIF, TIFF, BMP, WebP, read by <see cref="ImageFile.Read"/>; NAME below is the input's name without its extension; outputs are PNG, and a TIFF stack's masks one TIFF stack <c>OUTPUT/NAME.tif</c>) with the exact overlap-tile predictor (Gaussian blending for padded nets), the path
/// behind <c>cropcat predict</c>. Each input is read as the net's channels (1: gray, colour as luma; 3: RGB,
/// gray refused), standardised as CropCat.Training.FolderTraining standardises training images (kept in [0, 1]
/// for a net that normalises its input itself, <see cref="Architecture.NetSpec.Normalization"/>),
/// predicted, and written as <c>OUTPUT/NAME.png</c>: each pixel's class mapped back to its mask value through the
/// label schema (the smallest value of that class; 8-bit gray up to 255, 16-bit gray up to 65535, else RGB
/// 0xRRGGBB). With probabilities, <c>OUTPUT/probabilities/NAME.png</c> holds the foreground probability (class 1)
/// as 16-bit gray, or one <c>NAME.classK.png</c> per non-background class when there are more than two.
/// A bad input is reported by name and skipped; the others are still written. Every file is written atomically.
/// A TIFF over the pixel budget (or every TIFF, with <see cref="FolderPredictorOptions.Stream"/> = Always) is predicted
/// region by region instead (<see cref="StreamingPredictor"/>: <c>OUTPUT/NAME_mask.tif</c>, a tiled TIFF).
/// Options (<see cref="FolderPredictorOptions"/>) add a run-length submission CSV of all masks (<see cref="Submission"/>) and
/// resizing before prediction, with the probabilities resized back so that every output has the input's size.
/// </summary>
public sealed class FolderPredictor
{
    private readonly TextWriter? _log;
    // Where Segment's loop stands, for the progress reports of the image being tiled.
    private int _imagesDone, _images;
    private readonly List<StreamedPrediction> _streamed = [];

    /// <summary>A predictor for a trained <paramref name="network"/> whose classes mean what <paramref name="labels"/> says.</summary>
    /// <param name="network">The net (stays owned by the caller).</param>
    /// <param name="labels">The label schema stored with the net.</param>
    /// <param name="tiles">Tiling settings (progress is set per image); defaults when null.</param>
    /// <param name="probabilities">Also write the probability maps.</param>
    /// <param name="log">Where skipped inputs and progress go (standard error in the CLI); null for silence.</param>
    /// <param name="limits">The pixel budget for reading inputs; the default (2^28 pixels) when null.</param>
    public FolderPredictor(Network network, LabelSchema labels, TileOptions? tiles = null, bool probabilities = false, TextWriter? log = null, ImageLimits? limits = null)
        : this(network, labels, new FolderPredictorOptions { Tiles = tiles ?? new TileOptions(), Probabilities = probabilities, Log = log, Limits = limits })
    {
    }

    /// <summary>A predictor for a trained <paramref name="network"/> whose classes mean what <paramref name="labels"/> says, with all options.</summary>
    /// <param name="network">The net (stays owned by the caller).</param>
    /// <param name="labels">The label schema stored with the net.</param>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentException">Invalid tiling settings.</exception>
    public FolderPredictor(Network network, LabelSchema labels, FolderPredictorOptions options)
    {
        Network = network;
        Labels = labels;
        Options = options;
        Options.Tiles.Validate();
        _log = options.Log;
    }

    /// <summary>The network.</summary>
    public Network Network { get; }
    /// <summary>The label schema.</summary>
    public LabelSchema Labels { get; }
    /// <summary>The settings.</summary>
    public FolderPredictorOptions Options { get; }
    /// <summary>The tiling settings.</summary>
    public TileOptions Tiles => Options.Tiles;
    /// <summary>Whether probability maps are written.</summary>
    public bool Probabilities => Options.Probabilities;

    /// <summary>
    /// The image files of <paramref name="input"/>: the file itself (whatever its extension), or the folder's files
    /// with one of <see cref="ImageFormats.Extensions"/>, sorted by name.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither a file nor a folder, or a folder without image files.</exception>
    public static IReadOnlyList<string> Inputs(string input)
    {
        if (File.Exists(input)) return [input];
        if (!Directory.Exists(input)) throw new FileNotFoundException($"input {input} is neither a file nor a folder", input);
        var files = Directory.GetFiles(input).Where(ImageFormats.HasImageExtension).OrderBy(Path.GetFileName, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"input folder {input} holds no image files ({ImageFormats.ExtensionsInWords})", input);
        return files;
    }

    /// <summary>
    /// Segments every image of <paramref name="input"/> (a file or a folder) into <paramref name="outputFolder"/>.
    /// An input whose mask name another input already takes (a.jpg after a.png) is skipped with that reason.
    /// With <see cref="FolderPredictorOptions.Submission"/>, the segmented inputs' foregrounds (class above 0) become the
    /// submission's rows in input order; skipped inputs have none, and the CSV appears only when all inputs are done.
    /// </summary>
    /// <exception cref="FileNotFoundException">No input.</exception>
    /// <exception cref="ArgumentException">The output folder is the input folder (the masks would replace the images), or the submission would replace an input.</exception>
    public PredictionReport Run(string input, string outputFolder)
    {
        var all = Inputs(input);
        var files = Options.Shard is { } shard ? all.Where(f => shard.Contains(Path.GetFileNameWithoutExtension(f))).ToList() : all;
        var outFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputFolder));
        if (files.Any(f => Path.GetDirectoryName(Path.GetFullPath(f)) == outFull))
            throw new ArgumentException($"the output folder {outputFolder} holds the inputs; the masks would replace the images, so choose another folder");
        var csv = Options.Submission;
        if (csv is not null && files.Any(f => Path.GetFullPath(f) == Path.GetFullPath(csv)))
            throw new ArgumentException($"the submission {csv} is one of the inputs; choose another file name");
        var written = new List<string>();
        var skipped = new List<SkippedInput>();
        var done = new List<string>();
        _streamed.Clear();
        var masks = Segment(files, outputFolder, written, skipped, done);
        if (csv is null)
        {
            foreach (var _ in masks) { }
            return new PredictionReport(written, skipped) { Inputs = files.Count, AllInputs = all.Count, AlreadyDone = done, Streamed = _streamed.ToArray() };
        }
        var rows = Submission.Write(csv, Options.SubmissionFormat, masks);
        return new PredictionReport(written, skipped, csv, rows) { Inputs = files.Count, AllInputs = all.Count, AlreadyDone = done, Streamed = _streamed.ToArray() };
    }

    /// <summary>Segments the files one by one as the result is enumerated, recording what was written and skipped.</summary>
    private IEnumerable<SubmissionMask> Segment(IReadOnlyList<string> files, string outputFolder, List<string> written, List<SkippedInput> skipped, List<string> done)
    {
        var claimed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            // Every path out of this iteration (skipped, already done, written) counts the input as done.
            Options.Progress?.Invoke(new PredictionProgress(i, files.Count, Path.GetFileName(file), 0, null));
            _imagesDone = i;
            _images = files.Count;
            if (claimed.TryGetValue(MaskName(file), out var first))
            {
                var reason = $"{file}: its mask {MaskName(file)} is already written for {first}; rename one of them";
                skipped.Add(new SkippedInput(file, reason));
                _log?.WriteLine($"skipped: {reason}");
                continue;
            }
            claimed[MaskName(file)] = file;
            if (Options.Resume && Existing(file, outputFolder) is { } existing)
            {
                done.Add(existing);
                if (Path.GetExtension(existing) == ".png" && Options.Submission is not null) yield return FromExisting(file, existing);
                continue;
            }
            Segmented result;
            try
            {
                result = Segment(file, outputFolder, $"[{i + 1}/{files.Count}] {Path.GetFileName(file)}");
            }
            catch (InputImageException e)
            {
                skipped.Add(new SkippedInput(file, e.Message));
                _log?.WriteLine($"skipped: {e.Message}");
                continue;
            }
            written.Add(result.MaskFile);
            Options.Progress?.Invoke(new PredictionProgress(i + 1, files.Count, Path.GetFileName(file), 0, null));
            if (result.Foreground is not null) yield return result.Foreground;
        }
        Options.Progress?.Invoke(new PredictionProgress(files.Count, files.Count, "", 0, null));
    }

    /// <summary>The output already written for <paramref name="file"/> (its PNG mask, or the mask stack of a TIFF stack), or null.</summary>
    private string? Existing(string file, string outputFolder)
    {
        var png = Path.Combine(outputFolder, MaskName(file));
        if (File.Exists(png)) return png;
        var streamed = Path.Combine(outputFolder, StreamingPredictor.MaskName(file));
        if (File.Exists(streamed)) return streamed;
        var stack = Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(file) + ".tif");
        return File.Exists(stack) ? stack : null;
    }

    /// <summary>The submission mask of an input from the mask this predictor wrote for it earlier.</summary>
    private SubmissionMask FromExisting(string file, string mask)
    {
        var m = ImageFile.Read(mask, Options.Limits);
        var background = Labels.ValueOf(0);
        var values = m.ToLabelValues();
        return new SubmissionMask(file, m.Height, m.Width, Array.ConvertAll(values, v => v != background));
    }

    /// <summary>Segments one file; returns the mask's path.</summary>
    /// <exception cref="InputImageException">The file is unreadable, has the wrong channel count, or its resized size is over the pixel budget.</exception>
    public string PredictFile(string file, string outputFolder, string? label = null) =>
        Segment(file, outputFolder, label).MaskFile;

    private sealed record Segmented(string MaskFile, SubmissionMask? Foreground);

    private Segmented Segment(string file, string outputFolder, string? label)
    {
        if (Streams(file)) return SegmentStreamed(file, outputFolder, label);
        var image = Read(file);
        if (image.PageCount > 1) return SegmentStack(image, file, outputFolder, label);
        var name = MaskName(file);
        var (classes, h, w) = PredictPage(image, 0, file, outputFolder, name, label);
        var mask = Path.Combine(outputFolder, name);
        PngEncoder.Write(mask, MaskImage(classes, w, h));
        return new Segmented(mask, new SubmissionMask(file, h, w, Array.ConvertAll(classes, c => c > 0)));
    }

    /// <summary>
    /// Whether <paramref name="file"/> is predicted region by region (<see cref="FolderPredictorOptions.Stream"/>). A
    /// file that cannot be probed is left to the in-memory reader, which reports it.
    /// </summary>
    private bool Streams(string file)
    {
        if (Options.Stream == StreamMode.Never) return false;
        ImageFormat? format;
        try
        {
            format = ImageFile.DetectFormat(file);
        }
        catch (ImageFormatException)
        {
            return false;
        }
        if (format != ImageFormat.Tiff)
        {
            if (Options.Stream == StreamMode.Always)
                throw new InputImageException($"{file}: streamed prediction (--stream) reads TIFF files, and this is {(format is { } f ? "a " + ImageFormats.Name(f) : "no known image format")}");
            return false;
        }
        if (Options.Stream == StreamMode.Always) return true;
        try
        {
            ImageFile.Probe(file, Options.Limits);
            return false;
        }
        catch (ImageTooLargeException e)
        {
            // A stack over the budget is refused by the in-memory reader with the budget's message.
            return e.DeclaredPages == 1;
        }
        catch (ImageFormatException)
        {
            return false;
        }
    }

    /// <summary>A TIFF predicted region by region into <c>OUTPUT/NAME_mask.tif</c> (<see cref="StreamingPredictor"/>).</summary>
    private Segmented SegmentStreamed(string file, string outputFolder, string? label)
    {
        var why = Options.Stream == StreamMode.Always
            ? "--stream"
            : $"it is over the in-memory pixel budget of {(Options.Limits ?? ImageLimits.Default).MaxPixels:N0}";
        string Refuse(string what) => $"{file}: streamed prediction ({why}) {what}";
        if (Options.Tta != TtaMode.None) throw new InputImageException(Refuse("does not do test-time augmentation; drop --tta"));
        if (Options.Resize is not null) throw new InputImageException(Refuse($"does not resize ({Options.Resize}); drop --max-edge or --scale, or use a net trained without resizing"));
        if (Options.Submission is not null) throw new InputImageException(Refuse("writes no run-length submission rows; drop --rle"));
        var shown = Path.GetFileName(file);
        var (imagesDone, images) = (_imagesDone, _images);
        var progress = Options.Progress;
        TilePlan? plan = null;
        var lastDraw = DateTime.MinValue;
        var result = StreamingPredictor.Predict(Network, Labels, file, outputFolder, Options,
            tilesDone: (done, _) => progress?.Invoke(new PredictionProgress(imagesDone, images, shown, done, plan)),
            rowDone: (done, all) =>
            {
                if (_log is null) return;
                // At most 4 lines a second, so a log file gets a few lines, not one per row.
                var now = DateTime.UtcNow;
                if (done != all && (now - lastDraw).TotalMilliseconds < 250) return;
                lastDraw = now;
                _log.Write($"\r{label ?? shown}: row {done}/{all} of tiles   ");
                if (done == all) _log.WriteLine();
            },
            planned: (reader, p) =>
            {
                plan = p;
                _log?.WriteLine($"{label ?? shown}: streaming {reader} region by region: tile {p.TileSize} px (output {p.OutputSize}, step {p.Step}), {p.Rows.Count} rows of {p.Columns.Count} tiles");
                progress?.Invoke(new PredictionProgress(imagesDone, images, shown, 0, p));
            });
        _streamed.Add(result);
        return new Segmented(result.Mask, null);
    }

    /// <summary>
    /// A TIFF stack (the ISBI 2012 test volume): every page segmented as its own image, the masks written as one
    /// 16-bit TIFF stack <c>OUTPUT/NAME.tif</c> (mask values through the schema, as the PNG masks), probabilities as
    /// one float stack per class in <c>probabilities/</c>. A stack has no row in a Kaggle submission.
    /// </summary>
    private Segmented SegmentStack(PlanarImage image, string file, string outputFolder, string? label)
    {
        var name = Path.GetFileNameWithoutExtension(file) + ".tif";
        var valueOf = Enumerable.Range(0, Labels.ClassCount).ToDictionary(c => c, Labels.ValueOf);
        if (valueOf.Values.Max() > 65535)
            throw new InputImageException($"{file}: the label schema's mask values exceed 16 bits; a mask stack is written as 16-bit TIFF");
        var pages = new List<ushort[]>(image.PageCount);
        for (var k = 0; k < image.PageCount; k++)
        {
            var (classes, _, _) = PredictPage(image, k, file, outputFolder, $"{Path.GetFileNameWithoutExtension(file)}.page{k}.png", $"{label ?? name} page {k + 1}/{image.PageCount}");
            pages.Add(Array.ConvertAll(classes, c => (ushort)valueOf[c]));
        }
        var mask = Path.Combine(outputFolder, name);
        TiffWriter.WriteStack16(mask, pages, image.Width, image.Height);
        return new Segmented(mask, null);
    }

    /// <summary>Predicts page <paramref name="page"/> of <paramref name="image"/>: its class map at the input's size (probabilities written when asked).</summary>
    private (int[] Classes, int Height, int Width) PredictPage(PlanarImage image, int page, string file, string outputFolder, string name, string? label)
    {
        int h = image.Height, w = image.Width;
        var (ph, pw) = Options.Resize?.SizeFor(h, w) ?? (h, w);
        // The budget that refused oversized files also bounds what --scale may blow an image up to.
        var budget = (Options.Limits ?? ImageLimits.Default).MaxPixels;
        if ((long)ph * pw > budget)
            throw new InputImageException($"{file}: resizing {w}x{h} by {Options.Resize} gives {pw}x{ph}, over the pixel budget of {budget} pixels");
        using var scope = NewDisposeScope();
        var x = InputTensor(image, Network.InChannels, file, ph, pw, page, Network.Spec.Normalization);
        var plan = TilePlan.For(Network, ph, pw, Tiles);
        // Probabilities, whatever the caller's options say: masks are their argmax, the maps are written as they are.
        var options = Tiles with { Output = TileOutput.Probabilities };
        var progress = Options.Progress;
        var (imagesDone, images, shown) = (_imagesDone, _images, Path.GetFileName(file));
        progress?.Invoke(new PredictionProgress(imagesDone, images, shown, 0, plan));
        if ((plan.Count > 1 && _log is not null) || progress is not null)
        {
            var lastDraw = DateTime.MinValue;
            options = options with
            {
                Progress = (done, all) =>
                {
                    progress?.Invoke(new PredictionProgress(imagesDone, images, shown, done, plan));
                    if (plan.Count <= 1 || _log is null) return;
                    // Redrawn at most 4 times a second, so a log file gets a few lines, not one per tile.
                    var now = DateTime.UtcNow;
                    if (done != all && (now - lastDraw).TotalMilliseconds < 250) return;
                    lastDraw = now;
                    _log.Write($"\r{label ?? name}: tile {done}/{all}   ");
                    if (done == all) _log.WriteLine();
                },
            };
        }
        var tiler = new OverlapTile(Network, options, Options.Engine);
        var probabilities = Options.Tta == TtaMode.None ? tiler.Predict(x, plan) : TestTimeAugmentation.Predict(tiler, x, Options.Tta);
        // Back to the input's size before the argmax: resizing the class map instead would put the
        // borders between classes on the coarse grid.
        if ((ph, pw) != (h, w)) probabilities = ResizedProbabilities(probabilities, h, w);
        var classes = ClassIndices(probabilities);
        if (Probabilities) WriteProbabilities(probabilities, Path.Combine(outputFolder, "probabilities"), name);
        return (classes, h, w);
    }

    /// <summary>Each class's probability map of <paramref name="probabilities"/> (C, h, w) resized bilinearly to <paramref name="height"/> x <paramref name="width"/>.</summary>
    private static Tensor ResizedProbabilities(Tensor probabilities, int height, int width)
    {
        int c = (int)probabilities.shape[0], h = (int)probabilities.shape[1], w = (int)probabilities.shape[2];
        var values = probabilities.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        return tensor(Resize.Bilinear(values, c, h, w, height, width), [c, height, width]);
    }

    /// <summary>
    /// The (C, H, W) float input of <paramref name="image"/> for a net of <paramref name="channels"/> channels,
    /// standardised over all its values.
    /// </summary>
    /// <exception cref="InputImageException">The image's channels cannot feed the net; the message names the file.</exception>
    public static Tensor InputTensor(PngImage image, int channels, string file) =>
        InputTensor(PlanarImage.FromPng(image, file), channels, file);

    /// <summary>
    /// The (C, H, W) float input of <paramref name="image"/> (its first page) for a net of <paramref name="channels"/>
    /// channels, standardised over all its values.
    /// </summary>
    /// <exception cref="InputImageException">The image's channels cannot feed the net; the message names the file.</exception>
    public static Tensor InputTensor(PlanarImage image, int channels, string file) =>
        InputTensor(image, channels, file, image.Height, image.Width);

    /// <summary>
    /// The (C, <paramref name="height"/>, <paramref name="width"/>) float input of page <paramref name="page"/> of <paramref name="image"/>,
    /// resized bilinearly (<see cref="Resize.Bilinear"/>) when that is not its size, then standardised over all its values.
    /// </summary>
    /// <exception cref="InputImageException">The image's channels cannot feed the net; the message names the file.</exception>
    /// <param name="image">The image.</param>
    /// <param name="channels">The net's input channels.</param>
    /// <param name="file">The file, for messages.</param>
    /// <param name="height">The input height.</param>
    /// <param name="width">The input width.</param>
    /// <param name="page">The page of a stack.</param>
    /// <param name="normalization">The net's input normalisation: when given, the [0, 1] intensities are kept for the net to normalise instead of standardised (<see cref="Sample.ForNetInput"/>).</param>
    public static Tensor InputTensor(PlanarImage image, int channels, string file, int height, int width, int page = 0, CropCat.Architecture.InputNormalization? normalization = null)
    {
        var values = image.ToPlanes(channels, page)
            ?? throw new InputImageException($"{file}: the image has {image.Channels} channel(s) ({image.ChannelsInWords}) but the network reads {channels}; " +
                                             (channels == 3 ? "give an RGB or RGBA image" : "no conversion to that many channels is known"));
        // Intensities are resized before standardising, as a user resizing the images themselves would.
        if ((height, width) != (image.Height, image.Width))
            values = Resize.Bilinear(values, channels, image.Height, image.Width, height, width);
        int h = height, w = width, n = h * w;
        // Sample.ForNetInput is the one place the rule lives (standardised over all channels, or [0, 1] for a net that normalises).
        var z = new Sample(file, h, w, values, new int[n], channels: channels).ForNetInput(normalization).Image;
        return tensor(z, [channels, h, w]);
    }


    /// <summary>The output file name for <paramref name="file"/>: its name without extension, then <c>.png</c>.</summary>
    public static string MaskName(string file) => Path.GetFileNameWithoutExtension(file) + ".png";

    private PlanarImage Read(string file)
    {
        PlanarImage image;
        try
        {
            image = ImageFile.Read(file, Options.Limits);
        }
        catch (ImageFormatException e)
        {
            throw new InputImageException($"{file}: {e.Reason}", e);
        }
        return image;
    }

    private int[] ClassIndices(Tensor probabilities)
    {
        using var am = OverlapTile.ClassMap(probabilities, Options.Threshold);
        using var ints = am.to_type(ScalarType.Int32);
        return ints.data<int>().ToArray();
    }

    /// <summary>The mask of class indices mapped back to mask values (smallest value of each class).</summary>
    public PngImage MaskImage(int[] classes, int width, int height)
    {
        var valueOf = Enumerable.Range(0, Labels.ClassCount).ToDictionary(c => c, Labels.ValueOf);
        var values = classes.Select(c => valueOf[c]).ToArray();
        var max = values.Max();
        if (max <= 65535)
            return new PngImage(width, height, 1, max > 255 ? 16 : 8, values.Select(v => (ushort)v).ToArray());
        // Colour masks: the schema's values are 0xRRGGBB (see PlanarImage.ToLabelValues).
        var rgb = new ushort[values.Length * 3];
        for (var i = 0; i < values.Length; i++)
        {
            rgb[3 * i] = (ushort)((values[i] >> 16) & 0xFF);
            rgb[3 * i + 1] = (ushort)((values[i] >> 8) & 0xFF);
            rgb[3 * i + 2] = (ushort)(values[i] & 0xFF);
        }
        return new PngImage(width, height, 3, 8, rgb);
    }

    private static void WriteProbabilities(Tensor probabilities, string folder, string name)
    {
        var classes = (int)probabilities.shape[0];
        int h = (int)probabilities.shape[1], w = (int)probabilities.shape[2];
        // A sigmoid head's one channel is the foreground probability, written like a softmax net's class 1.
        for (var c = classes == 1 ? 0 : 1; c < classes; c++)
        {
            using var scope = NewDisposeScope();
            var p = probabilities[c].mul(65535.0).round().clamp(0, 65535).to_type(ScalarType.Int32).contiguous();
            var pixels = p.data<int>().Select(v => (ushort)v).ToArray();
            var file = classes <= 2 ? name : $"{Path.GetFileNameWithoutExtension(name)}.class{c}.png";
            PngEncoder.WriteGray16(Path.Combine(folder, file), pixels, w, h);
        }
    }
}
