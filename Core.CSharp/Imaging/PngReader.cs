using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace CropCat.Imaging;

/// <summary>A PNG file cannot be read; the message names the file and the reason.</summary>
public sealed class PngException : ImageFormatException
{
    /// <summary>Creates the error for <paramref name="path"/>.</summary>
    public PngException(string path, string reason, Exception? inner = null) : base("PNG", path, reason, inner) { }
}

/// <summary>
/// A decoded PNG: <see cref="Samples"/> holds Height*Width*Channels values, row-major, channels
/// interleaved, each in 0..2^BitDepth-1. Palette images are expanded to RGB (or RGBA with a tRNS chunk).
/// </summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.</param>
/// <param name="BitDepth">8 or 16.</param>
/// <param name="Samples">The sample values.</param>
public sealed record PngImage(int Width, int Height, int Channels, int BitDepth, ushort[] Samples)
{
    /// <summary>The largest sample value at this bit depth (255 or 65535).</summary>
    public int MaxValue => (1 << BitDepth) - 1;
}

/// <summary>
/// A self-contained PNG decoder (zlib through System.IO.Compression): IHDR, concatenated IDAT,
/// all five row filters, bit depth 8 and 16 for gray, gray+alpha, RGB, RGBA, and 8-bit palette.
/// Chunk CRCs are checked. Interlaced (Adam7) and sub-byte bit depths are refused with a clear error.
/// </summary>
public static class PngReader
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Decodes the PNG at <paramref name="path"/> within the default <see cref="ImageLimits"/>.</summary>
    /// <exception cref="PngException">Missing, unreadable, corrupt or unsupported; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static PngImage Read(string path) => Read(path, null);

    /// <summary>Decodes the PNG at <paramref name="path"/>; its declared size is checked against <paramref name="limits"/> (default when null) before any pixel memory is allocated.</summary>
    /// <exception cref="PngException">Missing, unreadable, corrupt or unsupported; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static PngImage Read(string path, ImageLimits? limits)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PngException(path, $"cannot be read ({e.Message})", e);
        }
        return Decode(bytes, path, limits);
    }

    /// <summary>Decodes PNG bytes within the default <see cref="ImageLimits"/>; <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="PngException">Corrupt or unsupported.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static PngImage Decode(byte[] bytes, string name) => Decode(bytes, name, null);

    /// <summary>
    /// Decodes PNG bytes; <paramref name="name"/> is used in error messages. The IHDR's size is checked against
    /// <paramref name="limits"/> (default when null) as soon as it is read, before any pixel memory is allocated.
    /// </summary>
    /// <exception cref="PngException">Corrupt or unsupported.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static PngImage Decode(byte[] bytes, string name, ImageLimits? limits)
    {
        limits ??= ImageLimits.Default;
        if (bytes.Length < 8 || !bytes.AsSpan(0, 8).SequenceEqual(Signature))
            throw new PngException(name, "not a PNG file (bad signature)");
        int width = 0, height = 0, depth = 0, colorType = -1;
        byte[]? palette = null, transparency = null;
        using var idat = new MemoryStream();
        var pos = 8;
        var sawEnd = false;
        while (!sawEnd)
        {
            if (pos + 8 > bytes.Length) throw new PngException(name, "truncated: the file ends inside a chunk header before IEND");
            var len = (int)ReadBE(bytes, pos);
            var type = Encoding.ASCII.GetString(bytes, pos + 4, 4);
            if (len < 0 || pos + 12L + len > bytes.Length) throw new PngException(name, $"truncated: chunk {type} claims {len} bytes past the end of the file");
            var data = bytes.AsSpan(pos + 8, len);
            var crc = Png.Crc(Png.Crc(0xFFFFFFFFu, bytes.AsSpan(pos + 4, 4)), data) ^ 0xFFFFFFFFu;
            if (crc != ReadBE(bytes, pos + 8 + len)) throw new PngException(name, $"chunk {type} has a bad CRC (corrupt file)");
            switch (type)
            {
                case "IHDR":
                    if (len != 13) throw new PngException(name, "IHDR chunk is not 13 bytes");
                    long declaredWidth = ReadBE(bytes, pos + 8), declaredHeight = ReadBE(bytes, pos + 12);
                    if (declaredWidth == 0 || declaredHeight == 0 || declaredWidth > int.MaxValue || declaredHeight > int.MaxValue)
                        throw new PngException(name, $"IHDR declares size {declaredWidth}x{declaredHeight}, outside 1..2^31-1 (corrupt file)");
                    // The budget is checked here, on the header alone: nothing of the image size is allocated yet.
                    limits.Check("PNG", name, declaredWidth, declaredHeight);
                    width = (int)declaredWidth;
                    height = (int)declaredHeight;
                    depth = data[8];
                    colorType = data[9];
                    if (data[10] != 0 || data[11] != 0) throw new PngException(name, "unknown compression or filter method");
                    if (data[12] != 0) throw new PngException(name, "interlaced (Adam7) PNGs are not supported; save the image without interlacing");
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "tRNS": transparency = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
                case "IEND": sawEnd = true; break;
            }
            pos += 12 + len;
        }
        if (colorType < 0) throw new PngException(name, "no IHDR chunk");
        if (width <= 0 || height <= 0) throw new PngException(name, $"size {width}x{height} is empty");
        var channels = colorType switch
        {
            0 => 1,
            2 => 3,
            3 => 1,
            4 => 2,
            6 => 4,
            _ => throw new PngException(name, $"unknown colour type {colorType}"),
        };
        if (colorType == 3 ? depth != 8 : depth is not (8 or 16))
            throw new PngException(name, $"bit depth {depth} with colour type {colorType} is not supported (CropCat reads 8- and 16-bit images and 8-bit palettes)");
        if (colorType == 3 && palette is null) throw new PngException(name, "palette image without a PLTE chunk");

        var bpp = channels * depth / 8;
        if ((long)(width * (long)bpp + 1) * height > Array.MaxLength)
            throw new PngException(name, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{width}x{height} with {bpp} bytes per pixel needs more bytes than one .NET array holds ({Array.MaxLength:N0})"));
        var stride = width * bpp;
        var raw = Inflate(idat.ToArray(), (long)(stride + 1) * height, name);
        Unfilter(raw, stride, height, bpp, name);

        var samples = new ushort[width * height * channels];
        for (var y = 0; y < height; y++)
        {
            var row = y * (stride + 1) + 1;
            for (var i = 0; i < width * channels; i++)
                samples[y * width * channels + i] = depth == 16
                    ? (ushort)(raw[row + 2 * i] << 8 | raw[row + 2 * i + 1])
                    : raw[row + i];
        }
        return colorType == 3 ? ExpandPalette(width, height, samples, palette!, transparency, name) : new PngImage(width, height, channels, depth, samples);
    }

    private static byte[] Inflate(byte[] compressed, long expected, string name)
    {
        var raw = new byte[expected];
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            var read = 0;
            while (read < raw.Length)
            {
                var n = z.Read(raw, read, raw.Length - read);
                if (n == 0) break;
                read += n;
            }
            if (read < raw.Length) throw new PngException(name, $"image data is truncated: {read} of {expected} bytes after decompression");
        }
        catch (InvalidDataException e)
        {
            throw new PngException(name, $"image data is corrupt ({e.Message})", e);
        }
        return raw;
    }

    /// <summary>Undoes the per-row filters in place (PNG spec section 9): None, Sub, Up, Average, Paeth.</summary>
    private static void Unfilter(byte[] raw, int stride, int height, int bpp, string name)
    {
        for (var y = 0; y < height; y++)
        {
            var row = y * (stride + 1);
            var filter = raw[row];
            var cur = row + 1;
            var prev = row - stride; // start of the previous row's data; only read when y > 0
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? raw[cur + i - bpp] : 0;
                int b = y > 0 ? raw[prev + i] : 0;
                int c = i >= bpp && y > 0 ? raw[prev + i - bpp] : 0;
                raw[cur + i] = filter switch
                {
                    0 => raw[cur + i],
                    1 => (byte)(raw[cur + i] + a),
                    2 => (byte)(raw[cur + i] + b),
                    3 => (byte)(raw[cur + i] + (a + b) / 2),
                    4 => (byte)(raw[cur + i] + Paeth(a, b, c)),
                    _ => throw new PngException(name, $"row {y} has unknown filter type {filter} (corrupt file)"),
                };
            }
        }
    }

    /// <summary>The Paeth predictor: whichever of left, up, upper-left is closest to left + up - upper-left.</summary>
    internal static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static PngImage ExpandPalette(int width, int height, ushort[] indices, byte[] palette, byte[]? trns, string name)
    {
        var entries = palette.Length / 3;
        var channels = trns is null ? 3 : 4;
        var s = new ushort[width * height * channels];
        for (var i = 0; i < indices.Length; i++)
        {
            var k = indices[i];
            if (k >= entries) throw new PngException(name, $"palette index {k} at pixel {i % width},{i / width} is outside the {entries}-entry palette");
            s[i * channels] = palette[3 * k];
            s[i * channels + 1] = palette[3 * k + 1];
            s[i * channels + 2] = palette[3 * k + 2];
            if (channels == 4) s[i * channels + 3] = k < trns!.Length ? trns[k] : (ushort)255;
        }
        return new PngImage(width, height, channels, 8, s);
    }

    private static uint ReadBE(byte[] b, int o) => (uint)(b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3]);
}
