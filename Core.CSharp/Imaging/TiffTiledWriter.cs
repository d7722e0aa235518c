using System;
using System.IO;
using BitMiracle.LibTiff.Classic;

namespace CropCat.Imaging;

/// <summary>
/// Writes one gray image (a class map, or a probability map) as a tiled, Deflate-compressed TIFF, band by band:
/// rows are appended top to bottom (<see cref="WriteRows"/>), and each time a full row of tiles is buffered it is
/// encoded and written, so memory holds one row of tiles (<see cref="TileSize"/> x width samples), never the image.
/// 8- or 16-bit unsigned samples, min-is-black, little-endian; BigTIFF when the raw samples exceed 2 GiB (classic
/// TIFF offsets stop at 4 GiB). The file is written to a temporary file beside the target and renamed onto it by
/// <see cref="Commit"/>; disposing the writer before that (an error on the way) deletes the temporary file, so a
/// failed run leaves no partial output.
/// </summary>
public sealed class TiffTiledWriter : IDisposable
{
    private readonly PendingFile _file;
    private readonly Tiff _tiff;
    private readonly byte[] _band;   // one row of tiles: TileSize rows x Width samples
    private readonly byte[] _tile;   // one encoded tile's samples
    private readonly int _bytesPerSample;
    private int _bandRows;
    private bool _closed;

    private TiffTiledWriter(PendingFile file, Tiff tiff, int width, int height, int bits, int tileSize)
    {
        _file = file;
        _tiff = tiff;
        Width = width;
        Height = height;
        BitsPerSample = bits;
        TileSize = tileSize;
        _bytesPerSample = bits / 8;
        _band = new byte[(long)tileSize * width * _bytesPerSample];
        _tile = new byte[tileSize * tileSize * _bytesPerSample];
    }

    /// <summary>The file that appears at <see cref="Commit"/>.</summary>
    public string Path => _file.Target;

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Bits per sample, 8 or 16.</summary>
    public int BitsPerSample { get; }

    /// <summary>Tile edge in pixels (a multiple of 16, as TIFF requires).</summary>
    public int TileSize { get; }

    /// <summary>Rows appended so far.</summary>
    public int RowsWritten { get; private set; }

    /// <summary>
    /// Starts a tiled TIFF of <paramref name="width"/> x <paramref name="height"/> gray samples of
    /// <paramref name="bitsPerSample"/> bits at <paramref name="path"/> (written to a temporary file until <see cref="Commit"/>).
    /// </summary>
    /// <exception cref="ArgumentException">An empty size, a bit depth other than 8 or 16, or a tile edge that is not a positive multiple of 16.</exception>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public static TiffTiledWriter Create(string path, int width, int height, int bitsPerSample, int tileSize = 256)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"TIFF {path}: size {width}x{height} is empty");
        if (bitsPerSample is not (8 or 16)) throw new ArgumentException($"TIFF {path}: the tiled writer writes 8- or 16-bit samples, not {bitsPerSample}");
        if (tileSize < 16 || tileSize % 16 != 0) throw new ArgumentException($"TIFF {path}: tile edge {tileSize} is not a positive multiple of 16 (TIFF requires it)");
        if ((long)width * tileSize * (bitsPerSample / 8) > Array.MaxLength)
            throw new ArgumentException($"TIFF {path}: one row of {tileSize} px tiles of a {width} px wide image does not fit one buffer");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("TiffTiledWriter writes host-order samples and expects a little-endian CPU");
        TiffDecoder.Quiet(); // libtiff's errors are checked through return values here, not printed
        var file = new PendingFile(path);
        try
        {
            var big = (long)width * height * (bitsPerSample / 8) > int.MaxValue;
            var tiff = Tiff.ClientOpen(path, big ? "w8" : "w", file.Stream, new KeepOpen())
                ?? throw new IOException($"TIFF {path}: libtiff could not start the file");
            tiff.SetField(TiffTag.IMAGEWIDTH, width);
            tiff.SetField(TiffTag.IMAGELENGTH, height);
            tiff.SetField(TiffTag.BITSPERSAMPLE, bitsPerSample);
            tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
            tiff.SetField(TiffTag.SAMPLEFORMAT, SampleFormat.UINT);
            tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
            tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
            tiff.SetField(TiffTag.COMPRESSION, Compression.ADOBE_DEFLATE);
            tiff.SetField(TiffTag.TILEWIDTH, tileSize);
            tiff.SetField(TiffTag.TILELENGTH, tileSize);
            tiff.SetField(TiffTag.SOFTWARE, "CropCat");
            return new TiffTiledWriter(file, tiff, width, height, bitsPerSample, tileSize);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends the next <paramref name="rows"/> rows: <paramref name="values"/> holds rows x <see cref="Width"/> samples,
    /// row-major (each below 2^<see cref="BitsPerSample"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The span has the wrong length, the rows run past the image, or a value does not fit the bit depth.</exception>
    /// <exception cref="IOException">libtiff could not write a tile.</exception>
    public void WriteRows(ReadOnlySpan<ushort> values, int rows)
    {
        if (_closed) throw new InvalidOperationException($"TIFF {Path}: the writer is closed");
        if (rows < 0 || values.Length != (long)rows * Width)
            throw new ArgumentException($"TIFF {Path}: {values.Length} values are not {rows} rows of {Width}");
        if (RowsWritten + rows > Height)
            throw new ArgumentException($"TIFF {Path}: rows {RowsWritten}..{RowsWritten + rows - 1} run past the image's {Height} rows");
        var max = (1 << BitsPerSample) - 1;
        for (var r = 0; r < rows; r++)
        {
            var row = values.Slice(r * Width, Width);
            var at = (long)_bandRows * Width * _bytesPerSample;
            for (var x = 0; x < Width; x++)
            {
                var v = row[x];
                if (v > max) throw new ArgumentException($"TIFF {Path}: value {v} at {x},{RowsWritten} does not fit {BitsPerSample} bits");
                if (_bytesPerSample == 1) _band[at + x] = (byte)v;
                else
                {
                    _band[at + 2 * x] = (byte)v;
                    _band[at + 2 * x + 1] = (byte)(v >> 8);
                }
            }
            _bandRows++;
            RowsWritten++;
            if (_bandRows == TileSize) FlushBand();
        }
    }

    /// <summary>Writes the last (partial) row of tiles and the directory, then renames the file onto <see cref="Path"/>.</summary>
    /// <exception cref="InvalidOperationException">Fewer rows than <see cref="Height"/> were written.</exception>
    /// <exception cref="IOException">libtiff could not finish the file.</exception>
    public void Commit()
    {
        if (_closed) throw new InvalidOperationException($"TIFF {Path}: the writer is closed");
        if (RowsWritten != Height)
            throw new InvalidOperationException($"TIFF {Path}: {RowsWritten} of {Height} rows written; the file is incomplete");
        if (_bandRows > 0) FlushBand();
        if (!_tiff.WriteDirectory()) throw new IOException($"TIFF {Path}: libtiff could not write the directory");
        _tiff.Flush();
        _closed = true;
        _tiff.Dispose();
        _file.Commit();
    }

    /// <summary>Closes the writer; before <see cref="Commit"/> that abandons the file (no output, no temporary file).</summary>
    public void Dispose()
    {
        if (!_closed)
        {
            _closed = true;
            try
            {
                _tiff.Dispose();
            }
            catch (Exception e) when (e is IOException or NotSupportedException)
            {
                // The stream already failed (a full disk); the temporary file is deleted below.
            }
        }
        _file.Dispose();
    }

    // libtiff closes its stream when it closes; the pending file flushes, closes and renames it itself.
    private sealed class KeepOpen : TiffStream
    {
        public override void Close(object clientData) { }
    }

    // Encodes the buffered rows as one row of tiles; rows and columns past the image are zero.
    private void FlushBand()
    {
        var y0 = RowsWritten - _bandRows;
        var rowBytes = TileSize * _bytesPerSample;
        for (var x0 = 0; x0 < Width; x0 += TileSize)
        {
            Array.Clear(_tile);
            var n = Math.Min(TileSize, Width - x0) * _bytesPerSample;
            for (var r = 0; r < _bandRows; r++)
                Buffer.BlockCopy(_band, (int)(((long)r * Width + x0) * _bytesPerSample), _tile, r * rowBytes, n);
            var index = _tiff.ComputeTile(x0, y0, 0, 0);
            if (_tiff.WriteEncodedTile(index, _tile, _tile.Length) < 0)
                throw new IOException($"TIFF {Path}: libtiff could not write the tile at {x0},{y0}");
        }
        _bandRows = 0;
    }
}
