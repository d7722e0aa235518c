using System;
using System.Collections.Generic;
using System.IO;
using BitMiracle.LibTiff.Classic;
using CropCat.Numerics;

namespace CropCat.Imaging;

/// <summary>
/// Reads rectangles of a single-page TIFF that need not fit in memory: the file stays on disk (a
/// <see cref="FileStream"/>), and a read decodes only the strips or tiles its rectangle touches, keeping the most
/// recently used ones in a cache bounded by <see cref="CacheBytes"/>. Sample values are those
/// <see cref="ImageFile.Read"/> gives (<see cref="TiffDecoder"/>: 8/16-bit unsigned and 32-bit float; gray
/// (min-is-white inverted), gray+alpha, RGB(A); contiguous or separate planes; any compression libtiff decodes),
/// so a region equals the same rectangle of the decoded whole image, and <see cref="ReadPlanes"/> gives the
/// intensities <see cref="PlanarImage.ToPlanes"/> gives.
/// <para>
/// Strips and tiles are decoded whole, so one of them must fit <see cref="MaxBlockBytes"/> decoded. libtiff
/// already splits a single uncompressed strip into strips of about 8 KB ("strip chopping"), so uncompressed
/// one-strip files of any size read row by row; a compressed strip (or an uncompressed one of several) larger than
/// the limit is refused at <see cref="Open"/> with a message that says how to re-tile the file. A stack of several
/// pages is refused too.
/// </para>
/// </summary>
public sealed class TiffRegionReader : IDisposable
{
    /// <summary>The default limit on one decoded strip or tile: 64 MiB.</summary>
    public const long DefaultMaxBlockBytes = 64L << 20;

    /// <summary>The default cache: 64 MiB of decoded strips or tiles.</summary>
    public const long DefaultCacheBytes = 64L << 20;

    private const string Name = "TIFF";

    private readonly FileStream _stream;
    private readonly Tiff _tiff;
    private readonly TiffDecoder.Layout _layout;
    private readonly int _perPixel, _bytesPerSample, _blocksDown;
    private readonly Dictionary<(int Plane, int Row, int Column), LinkedListNode<Block>> _cache = [];
    private readonly LinkedList<Block> _recent = new();
    private long _cachedBytes;

    private sealed record Block((int Plane, int Row, int Column) Key, byte[] Data);

    private TiffRegionReader(string path, FileStream stream, Tiff tiff, TiffDecoder.Layout layout, string compression,
        int blockWidth, int blockHeight, long cacheBytes, long maxBlockBytes)
    {
        FilePath = path;
        _stream = stream;
        _tiff = tiff;
        _layout = layout;
        Compression = compression;
        IsTiled = tiff.IsTiled();
        BlockWidth = blockWidth;
        BlockHeight = blockHeight;
        CacheBytes = cacheBytes;
        MaxBlockBytes = maxBlockBytes;
        _perPixel = layout.Separate ? 1 : layout.Channels;
        _bytesPerSample = layout.BitsPerSample / 8;
        _blocksDown = (Height + blockHeight - 1) / blockHeight;
    }

    /// <summary>The file (used in messages).</summary>
    public string FilePath { get; }

    /// <summary>Width in pixels.</summary>
    public int Width => _layout.Width;

    /// <summary>Height in pixels.</summary>
    public int Height => _layout.Height;

    /// <summary>1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.</summary>
    public int Channels => _layout.Channels;

    /// <summary>Bits per sample: 8 or 16 (integers) or 32 (float).</summary>
    public int BitDepth => _layout.BitsPerSample;

    /// <summary>Integer or float samples.</summary>
    public SampleType SampleType => _layout.IsFloat ? SampleType.Float : SampleType.UnsignedInteger;

    /// <summary>Whether each channel has its own strips or tiles (planar configuration "separate").</summary>
    public bool SeparatePlanes => _layout.Separate;

    /// <summary>Whether the file is tiled (else striped).</summary>
    public bool IsTiled { get; }

    /// <summary>Width of one tile (of the image, for strips).</summary>
    public int BlockWidth { get; }

    /// <summary>Height of one tile, or rows per strip.</summary>
    public int BlockHeight { get; }

    /// <summary>libtiff's name of the compression ("NONE", "ADOBE_DEFLATE", "LZW", ...).</summary>
    public string Compression { get; }

    /// <summary>The most bytes of decoded strips or tiles kept between reads (least recently used ones go first; each block is copied out as soon as it is decoded, so even 0 works, slowly).</summary>
    public long CacheBytes { get; set; }

    /// <summary>The most bytes one decoded strip or tile may take (checked at <see cref="Open"/>).</summary>
    public long MaxBlockBytes { get; }

    /// <summary>Decoded bytes of one strip or tile (of one plane, for separate planes).</summary>
    public long BlockBytes => (long)BlockWidth * BlockHeight * _perPixel * _bytesPerSample;

    /// <summary>Strips or tiles decoded so far (cache misses), for reports and tests.</summary>
    public long BlocksDecoded { get; private set; }

    /// <summary>The layout in words: "40000x40000, 8-bit gray, tiles of 256x256, ADOBE_DEFLATE".</summary>
    public override string ToString() =>
        $"{Width}x{Height}, {BitDepth}-bit {(SampleType == SampleType.Float ? "float " : "")}{ChannelsInWords}, " +
        (IsTiled ? $"tiles of {BlockWidth}x{BlockHeight}" : $"strips of {BlockHeight} row(s)") + $", {Compression}";

    private string ChannelsInWords => Channels switch { 1 => "gray", 2 => "gray+alpha", 3 => "RGB", _ => "RGBA" };

    /// <summary>
    /// Opens the single-page TIFF at <paramref name="path"/> and reads its header (no pixel data).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="cacheBytes">Initial <see cref="CacheBytes"/>.</param>
    /// <param name="maxBlockBytes">The most bytes one decoded strip or tile may take.</param>
    /// <exception cref="ImageFormatException">
    /// Missing or unreadable, not a TIFF, corrupt, a stack of several pages, an unsupported sample layout, or strips or
    /// tiles larger than <paramref name="maxBlockBytes"/>; the message names the file and says what to do.
    /// </exception>
    public static TiffRegionReader Open(string path, long cacheBytes = DefaultCacheBytes, long maxBlockBytes = DefaultMaxBlockBytes)
    {
        var stream = ImageFile.OpenRead(path);
        Tiff? tiff = null;
        TiffDecoder.Quiet();
        var errors = TiffDecoder.CollectErrors(); // until the end, so that a refusal can quote libtiff
        try
        {
            var head = new byte[ImageFormats.HeaderLength];
            var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            var format = ImageFormats.Detect(head.AsSpan(0, n));
            if (format != ImageFormat.Tiff)
                throw new ImageFormatException(format is { } f ? ImageFormats.Name(f) : "image", path,
                    "is not a TIFF; region-by-region reading (streamed prediction) reads TIFF files only");
            stream.Position = 0;
            tiff = Tiff.ClientOpen(path, "r", stream, new TiffStream())
                ?? throw TiffDecoder.Corrupt(path, "the header or first directory cannot be read");
            var pages = tiff.NumberOfDirectories();
            if (pages > 1)
                throw new ImageFormatException(Name, path,
                    $"has {pages} pages; region-by-region reading (streamed prediction) reads single-page TIFFs (predict a stack without --stream: page by page in memory)");
            if (!tiff.SetDirectory(0)) throw TiffDecoder.Corrupt(path, "directory 1 cannot be read");
            var layout = TiffDecoder.Layout.Of(tiff, path, 0);
            var compression = tiff.GetField(TiffTag.COMPRESSION) is { } c ? ((BitMiracle.LibTiff.Classic.Compression)c[0].ToInt()).ToString() : "NONE";
            int bw, bh;
            if (tiff.IsTiled())
            {
                bw = tiff.GetField(TiffTag.TILEWIDTH)[0].ToInt();
                bh = tiff.GetField(TiffTag.TILELENGTH)[0].ToInt();
                if (bw < 1 || bh < 1) throw TiffDecoder.Corrupt(path, $"tiles of {bw}x{bh}");
            }
            else
            {
                var rps = tiff.GetFieldDefaulted(TiffTag.ROWSPERSTRIP)[0].ToLong();
                bw = layout.Width;
                bh = (int)(rps < 1 || rps > layout.Height ? layout.Height : rps);
            }
            var reader = new TiffRegionReader(path, stream, tiff, layout, compression, bw, bh, cacheBytes, maxBlockBytes);
            if (reader.BlockBytes > maxBlockBytes)
                throw new ImageFormatException(Name, path,
                    $"{(reader.IsTiled ? $"each tile ({bw}x{bh})" : $"each strip ({bh} rows of {bw} px)")} decodes to {reader.BlockBytes:N0} bytes, " +
                    $"over the limit of {maxBlockBytes:N0} for reading region by region ({compression} blocks are decoded whole); " +
                    "re-tile it, e.g. tiffcp -t -w 256 -l 256 in.tif out.tif, or tiffcp -s -r 64 in.tif out.tif for strips of 64 rows");
            return reader;
        }
        catch (Exception e) when (e is not ImageFormatException and not OutOfMemoryException)
        {
            tiff?.Dispose();
            stream.Dispose();
            throw TiffDecoder.Corrupt(path, $"{e.GetType().Name}: {e.Message}", e);
        }
        catch
        {
            tiff?.Dispose();
            stream.Dispose();
            throw;
        }
        finally
        {
            errors.Dispose();
        }
    }

    /// <summary>
    /// The raw samples of the rectangle [<paramref name="x"/>, x + width) x [<paramref name="y"/>, y + height), which
    /// must lie inside the image: <see cref="Channels"/> planes of height x width values, channel-major, as
    /// <see cref="PlanarImage.Pages"/> holds them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rectangle is empty or leaves the image.</exception>
    /// <exception cref="ImageFormatException">A strip or tile it touches cannot be decoded; the message names the file and the block.</exception>
    public float[] ReadRegion(int x, int y, int width, int height)
    {
        if (width < 1 || height < 1 || x < 0 || y < 0 || (long)x + width > Width || (long)y + height > Height)
            throw new ArgumentOutOfRangeException(nameof(width),
                $"TIFF {FilePath}: region {width}x{height} at {x},{y} is empty or leaves the {Width}x{Height} image");
        var n = (long)width * height;
        var values = new float[n * Channels];
        var planes = _layout.Separate ? Channels : 1;
        int bx0 = x / BlockWidth, bx1 = (x + width - 1) / BlockWidth;
        int by0 = y / BlockHeight, by1 = (y + height - 1) / BlockHeight;
        for (var plane = 0; plane < planes; plane++)
            for (var by = by0; by <= by1; by++)
                for (var bx = bx0; bx <= bx1; bx++)
                {
                    var data = BlockAt(plane, by, bx);
                    int top = by * BlockHeight, left = bx * BlockWidth;
                    int r0 = Math.Max(y, top), r1 = Math.Min(y + height, Math.Min(top + BlockHeight, Height));
                    int c0 = Math.Max(x, left), c1 = Math.Min(x + width, Math.Min(left + BlockWidth, Width));
                    for (var r = r0; r < r1; r++)
                    {
                        var src = ((r - top) * BlockWidth + (c0 - left)) * _perPixel;
                        var dst = (long)(r - y) * width + (c0 - x);
                        for (var c = c0; c < c1; c++, dst++)
                            for (var s = 0; s < _perPixel; s++, src++)
                                values[(plane + s) * n + dst] = TiffDecoder.SampleAt(_layout, data, src, plane + s);
                    }
                }
        return values;
    }

    /// <summary>
    /// The raw samples of the window [<paramref name="x"/>, x + width) x [<paramref name="y"/>, y + height) of the
    /// image's mirror extension (<see cref="Mirror"/>: numpy's reflect, repeated for windows larger than the image),
    /// channel-major planes as <see cref="ReadRegion"/>. Only the rectangle of the image the window maps to is read.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An empty window.</exception>
    /// <exception cref="ImageFormatException">A strip or tile cannot be decoded.</exception>
    public float[] ReadMirrored(long x, long y, int width, int height)
    {
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(width), $"TIFF {FilePath}: window {width}x{height} is empty");
        if (x >= 0 && y >= 0 && x + width <= Width && y + height <= Height) return ReadRegion((int)x, (int)y, width, height);
        var rows = Mirror.Indices(y, height, Height);
        var cols = Mirror.Indices(x, width, Width);
        var (rowMin, rowMax) = Range(rows);
        var (colMin, colMax) = Range(cols);
        int bw = colMax - colMin + 1, bh = rowMax - rowMin + 1;
        var inside = ReadRegion(colMin, rowMin, bw, bh);
        long n = (long)width * height, m = (long)bw * bh;
        var values = new float[n * Channels];
        for (var ch = 0; ch < Channels; ch++)
            for (var i = 0; i < height; i++)
            {
                var src = ch * m + (rows[i] - rowMin) * bw - colMin;
                var dst = ch * n + (long)i * width;
                for (var j = 0; j < width; j++) values[dst + j] = inside[src + cols[j]];
            }
        return values;
    }

    /// <summary>
    /// The intensities a net of <paramref name="channels"/> channels reads from the mirror window (as
    /// <see cref="ReadMirrored"/>): exactly <see cref="PlanarImage.ToPlanes"/> of those samples (1: gray, colour as
    /// luma, integers divided by 2^bits - 1; 3: R, G, B). Null when the image cannot give that many channels.
    /// </summary>
    /// <exception cref="ImageFormatException">A strip or tile cannot be decoded.</exception>
    public float[]? ReadPlanes(long x, long y, int width, int height, int channels)
    {
        if (channels != 1 && (channels != 3 || Channels < 3)) return null;
        var raw = ReadMirrored(x, y, width, height);
        var region = new PlanarImage(FilePath, ImageFormat.Tiff, width, height, Channels, BitDepth, SampleType, [raw]);
        return region.ToPlanes(channels);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _tiff.Dispose();
        _stream.Dispose();
        _cache.Clear();
        _recent.Clear();
        _cachedBytes = 0;
    }

    private static (int Min, int Max) Range(long[] indices)
    {
        long min = long.MaxValue, max = long.MinValue;
        foreach (var i in indices)
        {
            min = Math.Min(min, i);
            max = Math.Max(max, i);
        }
        return ((int)min, (int)max);
    }

    // The decoded block (tile, or strip) at block row by, column bx of a plane: from the cache or decoded now.
    private byte[] BlockAt(int plane, int by, int bx)
    {
        var key = (plane, by, bx);
        if (_cache.TryGetValue(key, out var hit))
        {
            _recent.Remove(hit);
            _recent.AddFirst(hit);
            return hit.Value.Data;
        }
        var need = IsTiled ? BlockBytes : (long)Math.Min(BlockHeight, Height - by * BlockHeight) * Width * _perPixel * _bytesPerSample;
        byte[]? data = null;
        // Make room first; a block of the right size that falls out of the cache is reused.
        while (_recent.Count > 0 && _cachedBytes + need > CacheBytes)
        {
            var old = _recent.Last!;
            _recent.RemoveLast();
            _cache.Remove(old.Value.Key);
            _cachedBytes -= old.Value.Data.Length;
            if (old.Value.Data.Length == need) data = old.Value.Data;
        }
        data ??= new byte[need];
        Decode(plane, by, bx, data);
        BlocksDecoded++;
        var node = _recent.AddFirst(new Block(key, data));
        _cache[key] = node;
        _cachedBytes += data.Length;
        return data;
    }

    private void Decode(int plane, int by, int bx, byte[] data)
    {
        using var errors = TiffDecoder.CollectErrors();
        try
        {
            if (IsTiled)
            {
                int x0 = bx * BlockWidth, y0 = by * BlockHeight;
                var tile = _tiff.ComputeTile(x0, y0, 0, (short)plane);
                if (_tiff.ReadEncodedTile(tile, data, 0, data.Length) < data.Length)
                    throw TiffDecoder.Corrupt(FilePath, $"the tile at {x0},{y0}{PlaneInWords(plane)} cannot be decoded");
            }
            else
            {
                var strip = plane * _blocksDown + by;
                if (_tiff.ReadEncodedStrip(strip, data, 0, data.Length) < data.Length)
                    throw TiffDecoder.Corrupt(FilePath,
                        $"strip {by + 1} of {_blocksDown}{PlaneInWords(plane)} (rows {by * BlockHeight}..{Math.Min(Height, (by + 1) * BlockHeight) - 1}) cannot be decoded");
            }
        }
        catch (Exception e) when (e is not ImageFormatException and not OutOfMemoryException)
        {
            throw TiffDecoder.Corrupt(FilePath, $"block {bx},{by}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    private string PlaneInWords(int plane) => _layout.Separate ? $" of plane {plane + 1}" : "";
}
