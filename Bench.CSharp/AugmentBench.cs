using System;
using System.Diagnostics;
using CropCat.Augment;
using CropCat.Data;

namespace CropCat.Bench;

/// <summary>Augmentation speed: how long a pipeline takes per training tile, to compare with a training step.</summary>
public static class AugmentBench
{
    /// <summary>
    /// A <paramref name="size"/> x <paramref name="size"/> tile with <paramref name="channels"/> channels, a class
    /// map of two classes, an instance map and a weight map (every plane the trainer moves).
    /// </summary>
    public static Sample Tile(int size, int channels, int seed = 1)
    {
        var rng = new Random(seed);
        var n = size * size;
        var image = new float[channels * n];
        for (var i = 0; i < image.Length; i++) image[i] = (float)rng.NextDouble();
        var classes = new int[n];
        var instances = new int[n];
        var weights = new float[n];
        for (var i = 0; i < n; i++)
        {
            var inside = (i / size / 40 + i % size / 40) % 2 == 0;
            classes[i] = inside ? 1 : 0;
            instances[i] = inside ? 1 + i / size / 40 : 0;
            weights[i] = 1 + (float)rng.NextDouble();
        }
        return new Sample("bench tile", size, size, image, classes, instances, weights, channels);
    }

    /// <summary>
    /// Mean milliseconds per tile of <paramref name="pipeline"/> on <paramref name="tiles"/> tiles (seeds 0..tiles-1)
    /// after two warm-up tiles, on one thread (as the trainer's prefetch thread runs it).
    /// </summary>
    public static double MsPerTile(AugmentPipeline pipeline, int channels, int size = 572, int tiles = 20)
    {
        var tile = Tile(size, channels);
        for (var i = 0; i < 2; i++) pipeline.Apply(tile, -1 - i);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < tiles; i++) pipeline.Apply(tile, i);
        return sw.Elapsed.TotalMilliseconds / tiles;
    }
}
