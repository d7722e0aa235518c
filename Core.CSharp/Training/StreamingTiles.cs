using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>
/// Training tiles drawn from a dataset on disk: each draw decodes its image through a bounded
/// <see cref="SampleCache"/> (so memory does not grow with the dataset), prepares it once per load (standardise,
/// the paper's weight map on the whole image), and cuts a random output window of the net with
/// <see cref="TileWindow.Cut"/> (mirror padding outside the image, padded pixels ignored). An epoch holds as many
/// draws as the grid of <see cref="TileWindow.GridStarts"/> has windows, so it covers about every pixel once.
/// </summary>
public sealed class StreamingTiles : ITrainingSet
{
    private readonly IReadOnlyList<DatasetEntry> _entries;
    private readonly int[] _firstDraw; // draw index where each entry's draws begin
    private readonly Func<Sample, Sample> _prepare;

    /// <summary>Creates the set.</summary>
    /// <param name="entries">The images (the set keeps their order).</param>
    /// <param name="tile">The input tile edge, a valid input size of the net.</param>
    /// <param name="outH">The net's output height for that tile.</param>
    /// <param name="outW">The net's output width for that tile.</param>
    /// <param name="prepare">What a loaded sample goes through before it is cached (standardisation, weight map, resizing).</param>
    /// <param name="cacheBytes">The cache bound in bytes.</param>
    public StreamingTiles(IReadOnlyList<DatasetEntry> entries, int tile, int outH, int outW, Func<Sample, Sample> prepare, long cacheBytes)
    {
        if (entries.Count == 0) throw new ArgumentException("no training images");
        if (outH < 1 || outW < 1 || outH > tile || outW > tile) throw new ArgumentException($"output {outW}x{outH} does not fit the tile {tile}");
        _entries = entries;
        Tile = tile;
        OutHeight = outH;
        OutWidth = outW;
        _prepare = prepare;
        _firstDraw = new int[entries.Count + 1];
        for (var i = 0; i < entries.Count; i++)
            _firstDraw[i + 1] = checked(_firstDraw[i] + TileWindow.GridCount(entries[i].Height, entries[i].Width, outH, outW));
        Cache = new SampleCache(i => prepare(entries[i].Load()), cacheBytes);
    }

    /// <summary>The input tile edge.</summary>
    public int Tile { get; }
    /// <summary>The output window height.</summary>
    public int OutHeight { get; }
    /// <summary>The output window width.</summary>
    public int OutWidth { get; }
    /// <summary>The cache of prepared images (its hit and load counts show how often images are decoded).</summary>
    public SampleCache Cache { get; }
    /// <summary>The images.</summary>
    public IReadOnlyList<DatasetEntry> Entries => _entries;

    /// <inheritdoc />
    public int Count => _firstDraw[^1];

    /// <summary>Image count, tile, then every image's name and size hashed in order (the pixels are not read for it).</summary>
    public string Fingerprint
    {
        get
        {
            var text = string.Join("\n", _entries.Select(e => $"{e.Name}|{e.Height}|{e.Width}"));
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{Tile}|{OutHeight}|{OutWidth}\n{text}"))).ToLowerInvariant();
            return string.Create(CultureInfo.InvariantCulture, $"{_entries.Count} images streamed as {Tile}px tiles, sha256 {hash}");
        }
    }

    /// <summary>The image that draw <paramref name="index"/> cuts from.</summary>
    public int EntryOf(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"draws are 0..{Count - 1}");
        // Every image has at least one window, so the starts increase strictly: an exact hit is that image's first draw.
        var i = Array.BinarySearch(_firstDraw, index);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>A random output window of the draw's image, as a training tile.</summary>
    public Sample Draw(int index, long seed)
    {
        var s = Cache.Get(EntryOf(index));
        var rng = new Random((int)(seed & 0x7fffffff));
        var oy = TileWindow.RandomStart(rng, s.Height, OutHeight);
        var ox = TileWindow.RandomStart(rng, s.Width, OutWidth);
        return TileWindow.Cut(s, oy, ox, Tile, OutHeight, OutWidth);
    }

    /// <summary>
    /// Every grid window of every image in <paramref name="entries"/> as a tile, decoded lazily one image at a time
    /// (not cached: validation images are read once per pass), for validation.
    /// </summary>
    public static IEnumerable<Sample> GridTiles(IEnumerable<DatasetEntry> entries, int tile, int outH, int outW, Func<Sample, Sample> prepare)
    {
        foreach (var e in entries)
        {
            var s = prepare(e.Load());
            foreach (var oy in TileWindow.GridStarts(s.Height, outH))
                foreach (var ox in TileWindow.GridStarts(s.Width, outW))
                    yield return TileWindow.Cut(s, oy, ox, tile, outH, outW);
        }
    }
}
