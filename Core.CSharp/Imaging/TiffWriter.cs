using System;
using System.Collections.Generic;
using System.IO;
using BitMiracle.LibTiff.Classic;

namespace CropCat.Imaging;

/// <summary>
/// Writes gray volumes as multi-page TIFF stacks through BitMiracle.LibTiff.NET: one page per slice, 16-bit
/// unsigned or 32-bit float samples, Deflate-compressed strips (compression 8), little-endian, pages numbered (PageNumber tag) so
/// ImageJ, Fiji, tifffile and libtiff read them as a stack. Files are written atomically.
/// </summary>
public static class TiffWriter
{
    /// <summary>Writes 16-bit gray <paramref name="pages"/>, each <paramref name="height"/> x <paramref name="width"/> values row-major.</summary>
    /// <exception cref="ArgumentException">No page, an empty size, or a page of the wrong length.</exception>
    public static void WriteStack16(string path, IReadOnlyList<ushort[]> pages, int width, int height) =>
        Write(path, pages.Count, width, height, 16, SampleFormat.UINT, p =>
        {
            var bytes = new byte[pages[p].Length * 2];
            Buffer.BlockCopy(Checked(pages[p], p, width, height), 0, bytes, 0, bytes.Length);
            return bytes;
        });

    /// <summary>Writes 32-bit float gray <paramref name="pages"/>, each <paramref name="height"/> x <paramref name="width"/> values row-major.</summary>
    /// <exception cref="ArgumentException">No page, an empty size, or a page of the wrong length.</exception>
    public static void WriteStackFloat(string path, IReadOnlyList<float[]> pages, int width, int height) =>
        Write(path, pages.Count, width, height, 32, SampleFormat.IEEEFP, p =>
        {
            var bytes = new byte[pages[p].Length * 4];
            Buffer.BlockCopy(Checked(pages[p], p, width, height), 0, bytes, 0, bytes.Length);
            return bytes;
        });

    private static T[] Checked<T>(T[] page, int index, int width, int height) =>
        page.Length == (long)width * height
            ? page
            : throw new ArgumentException($"page {index} holds {page.Length} values, expected {width}x{height} = {(long)width * height}");

    private static void Write(string path, int count, int width, int height, int bits, SampleFormat format, Func<int, byte[]> pageBytes)
    {
        if (count < 1) throw new ArgumentException($"TIFF {path}: no pages to write");
        if (width < 1 || height < 1) throw new ArgumentException($"TIFF {path}: size {width}x{height} is empty");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("TiffWriter writes host-order samples and expects a little-endian CPU");
        TiffDecoder.Quiet(); // libtiff's errors are checked through return values here, not printed
        var rowBytes = width * bits / 8;
        var rowsPerStrip = Math.Clamp(65536 / rowBytes, 1, height);
        using var memory = new MemoryStream();
        using (var tiff = Tiff.ClientOpen(path, "w", memory, new TiffStream())
            ?? throw new IOException($"TIFF {path}: libtiff could not start the file"))
        {
            for (var p = 0; p < count; p++)
            {
                var data = pageBytes(p);
                tiff.SetField(TiffTag.IMAGEWIDTH, width);
                tiff.SetField(TiffTag.IMAGELENGTH, height);
                tiff.SetField(TiffTag.BITSPERSAMPLE, bits);
                tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
                tiff.SetField(TiffTag.SAMPLEFORMAT, format);
                tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
                tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
                tiff.SetField(TiffTag.COMPRESSION, Compression.ADOBE_DEFLATE);
                tiff.SetField(TiffTag.ROWSPERSTRIP, rowsPerStrip);
                tiff.SetField(TiffTag.SUBFILETYPE, FileType.PAGE);
                tiff.SetField(TiffTag.PAGENUMBER, p, count);
                for (int y = 0, strip = 0; y < height; y += rowsPerStrip, strip++)
                {
                    var rows = Math.Min(rowsPerStrip, height - y);
                    if (tiff.WriteEncodedStrip(strip, data, y * rowBytes, rows * rowBytes) < 0)
                        throw new IOException($"TIFF {path}: libtiff could not write page {p + 1}, strip {strip + 1}");
                }
                if (!tiff.WriteDirectory()) throw new IOException($"TIFF {path}: libtiff could not write page {p + 1}'s directory");
            }
        }
        var bytes = memory.ToArray();
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
