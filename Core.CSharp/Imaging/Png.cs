using System;

namespace CropCat.Imaging;

/// <summary>
/// 8-bit gray and RGB PNG writing through <see cref="PngEncoder"/>, plus the CRC and big-endian helpers the
/// encoder and <see cref="PngReader"/> share. CropCat writes its pictures itself so the core needs no
/// native imaging library. Files are written atomically (temp file, then rename).
/// </summary>
public static class Png
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Writes an 8-bit gray image; <paramref name="pixels"/> is row-major, height*width bytes.</summary>
    public static void WriteGray(string path, byte[] pixels, int width, int height) =>
        Write(path, pixels, width, height, channels: 1);

    /// <summary>Writes an 8-bit RGB image; <paramref name="pixels"/> is row-major RGBRGB..., height*width*3 bytes.</summary>
    public static void WriteRgb(string path, byte[] pixels, int width, int height) =>
        Write(path, pixels, width, height, channels: 3);

    private static void Write(string path, byte[] pixels, int width, int height, int channels)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"PNG {path}: size {width}x{height} is empty");
        if (pixels.Length != width * height * channels)
            throw new ArgumentException($"PNG {path}: expected {width * height * channels} bytes for {width}x{height}x{channels}, got {pixels.Length}");
        var samples = new ushort[pixels.Length];
        for (var i = 0; i < pixels.Length; i++) samples[i] = pixels[i];
        PngEncoder.Write(path, new PngImage(width, height, channels, 8, samples));
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
