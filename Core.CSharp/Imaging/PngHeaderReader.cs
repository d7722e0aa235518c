using System;
using System.IO;
using System.Text;

namespace CropCat.Imaging;

/// <summary>
/// A PNG's size and channels from its chunks up to the first IDAT (IHDR, and tRNS for palette images), without
/// inflating image data. Checks what <see cref="PngReader"/> checks on those chunks, with the same messages.
/// </summary>
internal static class PngHeaderReader
{
    /// <summary>Reads the header of the PNG <paramref name="stream"/> (the file <paramref name="path"/>).</summary>
    /// <exception cref="PngException">Corrupt, truncated or unsupported.</exception>
    /// <exception cref="ImageTooLargeException">The IHDR declares more pixels than the budget.</exception>
    public static ImageHeader Read(Stream stream, string path, ImageLimits limits)
    {
        var head = new byte[8];
        if (stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8 || !head.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            throw new PngException(path, "not a PNG file (bad signature)");
        int width = 0, height = 0, colorType = -1;
        var transparency = false;
        var chunk = new byte[8];
        while (true)
        {
            if (stream.ReadAtLeast(chunk, 8, throwOnEndOfStream: false) < 8)
                throw new PngException(path, "truncated: the file ends inside a chunk header before IEND");
            var len = (int)BigEndian(chunk, 0);
            var type = Encoding.ASCII.GetString(chunk, 4, 4);
            if (len < 0 || stream.Position + len + 4L > stream.Length)
                throw new PngException(path, $"truncated: chunk {type} claims {len} bytes past the end of the file");
            if (type is "IDAT" or "IEND") break;
            if (type == "IHDR")
            {
                if (len != 13) throw new PngException(path, "IHDR chunk is not 13 bytes");
                var data = new byte[17];
                stream.ReadExactly(data);
                var crc = Png.Crc(Png.Crc(0xFFFFFFFFu, chunk.AsSpan(4, 4)), data.AsSpan(0, 13)) ^ 0xFFFFFFFFu;
                if (crc != BigEndian(data, 13)) throw new PngException(path, $"chunk {type} has a bad CRC (corrupt file)");
                long w = BigEndian(data, 0), h = BigEndian(data, 4);
                if (w == 0 || h == 0 || w > int.MaxValue || h > int.MaxValue)
                    throw new PngException(path, $"IHDR declares size {w}x{h}, outside 1..2^31-1 (corrupt file)");
                limits.Check("PNG", path, w, h);
                width = (int)w;
                height = (int)h;
                int depth = data[8];
                colorType = data[9];
                if (data[10] != 0 || data[11] != 0) throw new PngException(path, "unknown compression or filter method");
                if (data[12] != 0) throw new PngException(path, "interlaced (Adam7) PNGs are not supported; save the image without interlacing");
                if (colorType is not (0 or 2 or 3 or 4 or 6)) throw new PngException(path, $"unknown colour type {colorType}");
                if (colorType == 3 ? depth != 8 : depth is not (8 or 16))
                    throw new PngException(path, $"bit depth {depth} with colour type {colorType} is not supported (CropCat reads 8- and 16-bit images and 8-bit palettes)");
                continue;
            }
            if (type == "tRNS") transparency = true;
            stream.Seek(len + 4L, SeekOrigin.Current);
        }
        if (colorType < 0) throw new PngException(path, "no IHDR chunk");
        // What PngReader gives: palettes expand to RGB, or RGBA when a tRNS chunk is present.
        var channels = colorType switch { 0 => 1, 2 => 3, 3 => transparency ? 4 : 3, 4 => 2, _ => 4 };
        return new ImageHeader(ImageFormat.Png, width, height, channels, 1);
    }

    private static uint BigEndian(byte[] b, int at) => (uint)(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]);
}
