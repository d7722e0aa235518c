using System;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace CropCat.Imaging;

/// <summary>
/// A general PNG encoder for the formats <see cref="PngReader"/> decodes: gray, gray+alpha, RGB, RGBA
/// (8 or 16 bit) and 8-bit palette, with a chosen row filter, so datasets (16-bit masks) and the decoder's
/// tests (every filter type) can be produced without an imaging library. Files are written atomically.
/// </summary>
public static class PngEncoder
{
    /// <summary>Writes a 16-bit gray PNG; <paramref name="pixels"/> is row-major, height*width values.</summary>
    public static void WriteGray16(string path, ushort[] pixels, int width, int height) =>
        Write(path, new PngImage(width, height, 1, 16, pixels));

    /// <summary>
    /// Writes <paramref name="image"/>. Row filter <paramref name="filter"/> 0..4 applies to every row;
    /// -1 cycles through all five row by row. A <paramref name="palette"/> (RGB triples) makes a colour-type-3
    /// file whose one-channel 8-bit samples are palette indices.
    /// </summary>
    public static void Write(string path, PngImage image, int filter = 0, byte[]? palette = null) =>
        AtomicFile.Write(path, s => s.Write(Encode(image, filter, palette)));

    /// <summary>The PNG bytes of <paramref name="image"/> (see <see cref="Write"/>).</summary>
    public static byte[] Encode(PngImage image, int filter = 0, byte[]? palette = null)
    {
        if (filter is < -1 or > 4) throw new ArgumentOutOfRangeException(nameof(filter), filter, "PNG row filter must be 0..4, or -1 for all in turn");
        if (image.BitDepth is not (8 or 16)) throw new ArgumentException($"bit depth {image.BitDepth} is not 8 or 16");
        if (palette is not null && (image.Channels != 1 || image.BitDepth != 8)) throw new ArgumentException("palette images have one 8-bit index channel");
        var colorType = palette is not null ? 3 : image.Channels switch
        {
            1 => 0,
            2 => 4,
            3 => 2,
            4 => 6,
            _ => throw new ArgumentException($"{image.Channels} channels"),
        };
        var bps = image.BitDepth / 8;
        var bpp = image.Channels * bps;
        var stride = image.Width * bpp;
        if (image.Samples.Length != image.Width * image.Height * image.Channels)
            throw new ArgumentException($"expected {image.Width * image.Height * image.Channels} samples, got {image.Samples.Length}");
        var prev = new byte[stride];
        var cur = new byte[stride];
        var outRow = new byte[stride];
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
        {
            for (var y = 0; y < image.Height; y++)
            {
                for (var i = 0; i < image.Width * image.Channels; i++)
                {
                    var v = image.Samples[y * image.Width * image.Channels + i];
                    if (bps == 2) { cur[2 * i] = (byte)(v >> 8); cur[2 * i + 1] = (byte)v; }
                    else cur[i] = (byte)v;
                }
                var f = filter < 0 ? y % 5 : filter;
                for (var i = 0; i < stride; i++)
                {
                    int a = i >= bpp ? cur[i - bpp] : 0;
                    int b = y > 0 ? prev[i] : 0;
                    int c = i >= bpp && y > 0 ? prev[i - bpp] : 0;
                    outRow[i] = (byte)(cur[i] - f switch
                    {
                        1 => a,
                        2 => b,
                        3 => (a + b) / 2,
                        4 => PngReader.Paeth(a, b, c),
                        _ => 0,
                    });
                }
                z.WriteByte((byte)f);
                z.Write(outRow);
                (prev, cur) = (cur, prev);
            }
        }
        var header = new byte[13];
        Png.WriteBE(header, 0, (uint)image.Width);
        Png.WriteBE(header, 4, (uint)image.Height);
        header[8] = (byte)image.BitDepth;
        header[9] = (byte)colorType;
        using var file = new MemoryStream();
        file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(file, "IHDR", header);
        if (palette is not null) Chunk(file, "PLTE", palette);
        Chunk(file, "IDAT", raw.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        Png.WriteBE(len, 0, (uint)data.Length);
        s.Write(len);
        var t = Encoding.ASCII.GetBytes(type);
        s.Write(t);
        s.Write(data);
        var c = new byte[4];
        Png.WriteBE(c, 0, Png.Crc(Png.Crc(0xFFFFFFFFu, t), data) ^ 0xFFFFFFFFu);
        s.Write(c);
    }
}
