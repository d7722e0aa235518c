using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using CropCat.Data;
using CropCat.Imaging;
using CropCat.Nets;
using CropCat.Training;
using SkiaSharp;

namespace CropCat.Bench;

/// <summary>Decoding speed of one format.</summary>
/// <param name="Format">The format and its sample layout ("JPEG RGB q90").</param>
/// <param name="Files">Files decoded.</param>
/// <param name="MegaPixels">Pixels decoded, in millions.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record DecodeRow(string Format, int Files, double MegaPixels, double Seconds)
{
    /// <summary>Million pixels per second.</summary>
    public double MegaPixelsPerSecond => MegaPixels / Seconds;
}

/// <summary>One streamed training run.</summary>
/// <param name="Case">What ran.</param>
/// <param name="Steps">Optimisation steps.</param>
/// <param name="Seconds">Wall time of the steps.</param>
/// <param name="DataSeconds">Time the loop waited for batches (decode, crop, weight map, augmentation).</param>
/// <param name="ImageLoads">Images decoded (cache misses).</param>
/// <param name="RssMiB">Resident memory sampled during the run, in order.</param>
public sealed record TrainRow(string Case, long Steps, double Seconds, double DataSeconds, long ImageLoads, IReadOnlyList<double> RssMiB)
{
    /// <summary>Steps per second.</summary>
    public double StepsPerSecond => Steps / Seconds;
}

/// <summary>
/// The data path's benchmark: a generated Carvana-like folder (RGB JPEGs with a few large smooth objects and
/// their 0/255 PNG masks), decode speed per format, and streamed training with and without prefetching.
/// </summary>
public static class DataBench
{
    /// <summary>
    /// Writes <paramref name="count"/> pairs <c>images/NNNN.jpg</c> + <c>masks/NNNN.png</c> of
    /// <paramref name="width"/> x <paramref name="height"/> under <paramref name="dir"/> (kept when already there);
    /// returns them as dataset entries read the way <c>cropcat train</c> reads a folder.
    /// </summary>
    public static IReadOnlyList<DatasetEntry> CarvanaLike(string dir, int count, int width, int height, int seed, LoadOptions load)
    {
        Directory.CreateDirectory(Path.Combine(dir, "images"));
        Directory.CreateDirectory(Path.Combine(dir, "masks"));
        var entries = new List<DatasetEntry>(count);
        for (var i = 0; i < count; i++)
        {
            var image = Path.Combine(dir, "images", $"{i:D4}.jpg");
            var mask = Path.Combine(dir, "masks", $"{i:D4}.png");
            if (!File.Exists(image) || !File.Exists(mask)) WritePair(image, mask, width, height, seed + i);
            entries.Add(new DatasetEntry($"{i:D4}.jpg", image, height, width,
                () => FolderDataset.LoadPair(image, mask, load.Labels, load.Channels, load.Limits)));
        }
        return entries;
    }

    private static void WritePair(string imagePath, string maskPath, int width, int height, int seed)
    {
        var rng = new Random(seed);
        using var image = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var mask = new SKBitmap(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using (var ci = new SKCanvas(image))
        using (var cm = new SKCanvas(mask))
        {
            // A lit backdrop with a gradient, so the JPEG holds texture as photos do.
            using var back = new SKPaint
            {
                Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height),
                    [new SKColor(200, 205, 210), new SKColor(120, 125, 135)], SKShaderTileMode.Clamp),
            };
            ci.DrawRect(0, 0, width, height, back);
            cm.Clear(SKColors.Black);
            using var white = new SKPaint { Color = SKColors.White, IsAntialias = false };
            for (var k = 0; k < 3; k++)
            {
                var cx = (float)(width * (0.2 + 0.6 * rng.NextDouble()));
                var cy = (float)(height * (0.2 + 0.6 * rng.NextDouble()));
                var rx = (float)(width * (0.08 + 0.12 * rng.NextDouble()));
                var ry = (float)(height * (0.08 + 0.12 * rng.NextDouble()));
                using var paint = new SKPaint
                {
                    IsAntialias = true,
                    Color = new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)),
                };
                ci.DrawOval(cx, cy, rx, ry, paint);
                cm.DrawOval(cx, cy, rx, ry, white);
            }
        }
        Encode(image, imagePath, SKEncodedImageFormat.Jpeg, 90);
        Encode(mask, maskPath, SKEncodedImageFormat.Png, 100);
    }

    private static void Encode(SKBitmap bitmap, string path, SKEncodedImageFormat format, int quality)
    {
        using var img = SKImage.FromBitmap(bitmap);
        using var data = img.Encode(format, quality)
            ?? throw new InvalidOperationException($"SkiaSharp cannot encode {format} here");
        AtomicFile.Write(path, s => data.SaveTo(s));
    }

    /// <summary>
    /// Decode speed of each format on <paramref name="jpegs"/>: the JPEGs as generated, and
    /// the same pixels as PNG (8-bit RGB), WebP (lossless) and TIFF (16-bit gray), written under <paramref name="dir"/>;
    /// GIF when ImageMagick's <c>convert</c> can make it. Each file is decoded <paramref name="reps"/> times.
    /// </summary>
    public static IReadOnlyList<DecodeRow> Decode(string dir, IReadOnlyList<string> jpegs, int reps)
    {
        var formats = Path.Combine(dir, "formats");
        Directory.CreateDirectory(formats);
        var sets = new Dictionary<string, List<string>>
        {
            ["JPEG RGB q90"] = jpegs.ToList(),
            ["PNG RGB 8-bit"] = [],
            ["WebP RGB lossless"] = [],
            ["TIFF gray 16-bit"] = [],
            ["GIF palette"] = [],
        };
        foreach (var j in jpegs)
        {
            var stem = Path.Combine(formats, Path.GetFileNameWithoutExtension(j));
            using var bmp = SKBitmap.Decode(j);
            if (!File.Exists(stem + ".png")) Encode(bmp, stem + ".png", SKEncodedImageFormat.Png, 100);
            if (!File.Exists(stem + ".webp")) Encode(bmp, stem + ".webp", SKEncodedImageFormat.Webp, 100);
            if (!File.Exists(stem + ".tif"))
            {
                var gray = ImageFile.Read(j).ToGray().Select(v => (ushort)Math.Clamp(v * 65535f, 0, 65535)).ToArray();
                TiffWriter.WriteStack16(stem + ".tif", [gray], bmp.Width, bmp.Height);
            }
            sets["PNG RGB 8-bit"].Add(stem + ".png");
            sets["WebP RGB lossless"].Add(stem + ".webp");
            sets["TIFF gray 16-bit"].Add(stem + ".tif");
            if (File.Exists(stem + ".gif") || Convert(stem + ".png", stem + ".gif")) sets["GIF palette"].Add(stem + ".gif");
        }
        var rows = new List<DecodeRow>();
        foreach (var (name, files) in sets)
        {
            if (files.Count == 0) continue;
            ImageFile.Read(files[0]); // warm the decoder
            double mp = 0;
            var clock = Stopwatch.StartNew();
            for (var r = 0; r < reps; r++)
                foreach (var f in files)
                {
                    var img = ImageFile.Read(f);
                    mp += (double)img.Width * img.Height / 1e6;
                }
            rows.Add(new DecodeRow(name, files.Count * reps, mp, clock.Elapsed.TotalSeconds));
        }
        return rows;
    }

    private static bool Convert(string png, string gif)
    {
        const string convert = "/usr/bin/convert";
        if (!File.Exists(convert)) return false;
        using var p = Process.Start(new ProcessStartInfo(convert, [png, gif]) { RedirectStandardError = true });
        p!.WaitForExit();
        return p.ExitCode == 0 && File.Exists(gif);
    }

    /// <summary>
    /// Trains <paramref name="net"/> for <paramref name="steps"/> steps on tiles streamed from
    /// <paramref name="entries"/> (as <c>cropcat train</c> does), sampling resident memory every
    /// <paramref name="rssEvery"/> steps.
    /// </summary>
    public static TrainRow Train(string name, Network net, IReadOnlyList<DatasetEntry> entries, int tile, int prefetch, int steps, int rssEvery, long cacheBytes)
    {
        var o = net.Infer(tile, tile);
        var training = new TrainerOptions
        {
            Epochs = 1,
            MaxSteps = steps,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 1e-4,
            Prefetch = prefetch,
            Progress = null,
        };
        var rss = new List<double>();
        var set = new StreamingTiles(entries, tile, o.Height, o.Width, s => FolderTraining.Prepare(s, training.WeightMap), cacheBytes);
        using var trainer = new Trainer(net, LabelSchema.Binary255, training with
        {
            StepDone = (step, _) => { if (step % rssEvery == 0) rss.Add(Machine.RssMiB()); },
        });
        var r = trainer.Fit(set);
        return new TrainRow(name, r.Steps, r.Seconds, r.DataSeconds, set.Cache.Loads, rss);
    }
}
