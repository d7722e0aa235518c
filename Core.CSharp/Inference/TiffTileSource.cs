using System;
using System.Collections.Generic;
using CropCat.Imaging;

namespace CropCat.Inference;

/// <summary>
/// A TIFF on disk as the input of streamed prediction, standardised exactly as <see cref="FolderPredictor"/>
/// standardises an image in memory (CropCat.Data.Sample.Standardized: one mean and standard deviation over all the
/// net's channels): intensities come from <see cref="TiffRegionReader.ReadPlanes"/> (what PlanarImage.ToPlanes gives),
/// and the statistics are summed in the same order as in memory, channel plane by plane, row by row, in double
/// precision, so every window holds bit for bit the values the in-memory path cuts from the whole image. That order
/// costs two passes over the file per channel (gray nets: two), each decoding every strip or tile once.
/// </summary>
public sealed class TiffTileSource : ITileSource
{
    private readonly TiffRegionReader _reader;

    private TiffTileSource(TiffRegionReader reader, int channels, double mean, double scale)
    {
        _reader = reader;
        Channels = channels;
        Mean = mean;
        Scale = scale;
    }

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public int Height => _reader.Height;

    /// <inheritdoc />
    public int Width => _reader.Width;

    /// <summary>The mean intensity over all pixels and channels.</summary>
    public double Mean { get; }

    /// <summary>1 / the standard deviation (1 for a constant image).</summary>
    public double Scale { get; }

    /// <summary>
    /// Reads the statistics of <paramref name="reader"/>'s image as a net of <paramref name="channels"/> channels sees
    /// it (the reader stays the caller's; its cache is raised to hold one row of strips or tiles while reading).
    /// </summary>
    /// <exception cref="InputImageException">The image cannot give that many channels (a gray image for an RGB net); the message names the file.</exception>
    /// <exception cref="ImageFormatException">A strip or tile cannot be decoded.</exception>
    public static TiffTileSource Create(TiffRegionReader reader, int channels)
    {
        if (channels != 1 && (channels != 3 || reader.Channels < 3))
            throw new InputImageException($"{reader.FilePath}: the image has {reader.Channels} channel(s) but the network reads {channels}; " +
                                          (channels == 3 ? "give an RGB or RGBA image" : "no conversion to that many channels is known"));
        int h = reader.Height, w = reader.Width;
        var cache = reader.CacheBytes;
        // Rows are read a few at a time; one row of blocks stays cached, so each block is decoded once per pass.
        reader.CacheBytes = Math.Max(cache, BlockRowBytes(reader) + reader.BlockBytes);
        var rows = (int)Math.Clamp((1 << 20) / ((long)w * channels), 1, h);
        long n = (long)channels * h * w;
        double mean = 0, sq = 0;
        for (var c = 0; c < channels; c++)
            foreach (var (planes, from, to) in Chunks(reader, channels, rows, c))
                for (var i = from; i < to; i++) mean += planes[i];
        mean /= n;
        for (var c = 0; c < channels; c++)
            foreach (var (planes, from, to) in Chunks(reader, channels, rows, c))
                for (var i = from; i < to; i++) sq += (planes[i] - mean) * (planes[i] - mean);
        var sd = Math.Sqrt(sq / n);
        reader.CacheBytes = cache;
        return new TiffTileSource(reader, channels, mean, sd > 1e-12 ? 1 / sd : 1);
    }

    /// <summary>Bytes of the strips or tiles that cover one block row of the full width.</summary>
    public static long BlockRowBytes(TiffRegionReader reader) =>
        reader.IsTiled ? (long)((reader.Width + reader.BlockWidth - 1) / reader.BlockWidth) * reader.BlockBytes * (reader.SeparatePlanes ? reader.Channels : 1)
                       : reader.BlockBytes * (reader.SeparatePlanes ? reader.Channels : 1);

    // Channel plane c in row-major order, `rows` full rows at a time: each chunk's planes and the range of plane c.
    private static IEnumerable<(float[] Planes, int From, int To)> Chunks(TiffRegionReader reader, int channels, int rows, int c)
    {
        int h = reader.Height, w = reader.Width;
        for (var y = 0; y < h; y += rows)
        {
            var k = Math.Min(rows, h - y);
            var n = k * w;
            yield return (reader.ReadPlanes(0, y, w, k, channels)!, c * n, (c + 1) * n);
        }
    }

    /// <inheritdoc />
    public float[] ReadWindow(long top, long left, int size)
    {
        var planes = _reader.ReadPlanes(left, top, size, size, Channels)!;
        for (var i = 0; i < planes.Length; i++) planes[i] = (float)((planes[i] - Mean) * Scale);
        return planes;
    }
}
