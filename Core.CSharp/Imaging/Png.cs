using System;
using System.IO;
using System.IO.Compression;

namespace CropCat.Imaging;

/// <summary>
/// Minimal PNG writer (8-bit gray and RGB, no interlace). CropCat writes its pictures itself so the
/// core needs no native imaging library. Files are written atomically (temp file, then rename).
/// </summary>
public static class Png
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Writes an 8-bit gray image; <paramref name="pixels"/> is row-major, height*width bytes.</summary>
    public static void WriteGray(string path, byte[] pixels, int width, int height) =>
        Write(path, pixels, width, height, colorType: 0, channels: 1);

    /// <summary>Writes an 8-bit RGB image; <paramref name="pixels"/> is row-major RGBRGB..., height*width*3 bytes.</summary>
    public static void WriteRgb(string path, byte[] pixels, int width, int height) =>
        Write(path, pixels, width, height, colorType: 2, channels: 3);

    private static void Write(string path, byte[] pixels, int width, int height, byte colorType, int channels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"PNG {path}: size {width}x{height} is empty");
        if (pixels.Length != width * height * channels)
            throw new ArgumentException($"PNG {path}: expected {width * height * channels} bytes for {width}x{height}x{channels}, got {pixels.Length}");
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
        {
            var stride = width * channels;
            for (var y = 0; y < height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(pixels, y * stride, stride);
            }
        }
        var header = new byte[13];
        WriteBE(header, 0, (uint)width);
        WriteBE(header, 4, (uint)height);
        header[8] = 8;
        header[9] = colorType;
        AtomicFile.Write(path, s =>
        {
            s.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
            Chunk(s, "IHDR", header);
            Chunk(s, "IDAT", raw.ToArray());
            Chunk(s, "IEND", []);
        });
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        WriteBE(len, 0, (uint)data.Length);
        s.Write(len);
        var t = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(t);
        s.Write(data);
        var crc = Crc(Crc(0xFFFFFFFFu, t), data) ^ 0xFFFFFFFFu;
        var c = new byte[4];
        WriteBE(c, 0, crc);
        s.Write(c);
    }

    internal static void WriteBE(byte[] b, int o, uint v)
    {
        b[o] = (byte)(v >> 24);
        b[o + 1] = (byte)(v >> 16);
        b[o + 2] = (byte)(v >> 8);
        b[o + 3] = (byte)v;
    }

    internal static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }
}
