using System;
using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>What a dataset layout needs to turn files into <see cref="Sample"/>s.</summary>
/// <param name="Labels">Mask value -> class index.</param>
/// <param name="Channels">Image channels the network reads: 1 (gray, colour as luma) or 3 (R, G, B).</param>
/// <param name="Limits">The pixel budget of every decoded file; <see cref="ImageLimits.Default"/> when null.</param>
public sealed record LoadOptions(LabelSchema Labels, int Channels = 1, ImageLimits? Limits = null);

/// <summary>
/// One sample of a dataset on disk, not yet decoded: its name and size come from file headers (so training can
/// plan tiles and hold out images without decoding them), and <see cref="Load"/> reads it when a step needs it.
/// Datasets larger than memory are lists of entries; only a bounded cache of loaded samples lives at once.
/// </summary>
public sealed class DatasetEntry
{
    private readonly Func<Sample> _load;

    /// <summary>Creates an entry.</summary>
    /// <param name="name">A stable, unique name within its dataset (the image's file name, or "stack.tif#7" for a slice).</param>
    /// <param name="source">Where the image and its ground truth come from, for messages ("train/a.jpg + train_masks/a_mask.gif").</param>
    /// <param name="height">Image height in pixels, from the header.</param>
    /// <param name="width">Image width in pixels, from the header.</param>
    /// <param name="load">Decodes the pair into a sample of this size (image planes, classes and, where the layout knows them, instances).</param>
    public DatasetEntry(string name, string source, int height, int width, Func<Sample> load)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"dataset entry {name}: size {width}x{height} is empty");
        Name = name;
        Source = source;
        Height = height;
        Width = width;
        _load = load;
    }

    /// <summary>A stable, unique name within its dataset.</summary>
    public string Name { get; }
    /// <summary>Where the image and its ground truth come from, for messages.</summary>
    public string Source { get; }
    /// <summary>Image height in pixels.</summary>
    public int Height { get; }
    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Decodes the sample; a size other than the header's is refused with a message naming the source.</summary>
    /// <exception cref="DatasetException">A file cannot be decoded, or the pair does not agree.</exception>
    /// <exception cref="LabelSchemaException">A mask holds a value the schema does not map.</exception>
    public Sample Load()
    {
        var s = _load();
        if (s.Height != Height || s.Width != Width)
            throw new DatasetException($"{Source}: decoded as {s.Width}x{s.Height} but its header said {Width}x{Height}");
        return s;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Width}x{Height}, {Source})";
}
