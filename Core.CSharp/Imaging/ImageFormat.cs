using System;
using System.Collections.Generic;
using System.IO;

namespace CropCat.Imaging;

/// <summary>The image file formats <see cref="ImageFile"/> reads.</summary>
public enum ImageFormat
{
    /// <summary>PNG (CropCat's own decoder: 8/16-bit exact).</summary>
    Png,
    /// <summary>JPEG (SkiaSharp).</summary>
    Jpeg,
    /// <summary>GIF, first frame (SkiaSharp).</summary>
    Gif,
    /// <summary>TIFF, every page (BitMiracle.LibTiff.NET).</summary>
    Tiff,
    /// <summary>Windows bitmap (SkiaSharp).</summary>
    Bmp,
    /// <summary>WebP (SkiaSharp).</summary>
    WebP,
}

/// <summary>
/// Recognises a format from a file's first bytes (its magic number), never from its extension, and lists the
/// extensions folder readers look for.
/// </summary>
public static class ImageFormats
{
    /// <summary>How many leading bytes <see cref="Detect"/> needs to tell every format apart.</summary>
    public const int HeaderLength = 12;

    /// <summary>The file extensions (lower case, with the dot) that folder readers enumerate.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp"];

    private static readonly HashSet<string> ExtensionSet = new(Extensions, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="path"/> has one of <see cref="Extensions"/> (any case).</summary>
    public static bool HasImageExtension(string path) => ExtensionSet.Contains(Path.GetExtension(path));

    /// <summary>The extensions as one string for messages: ".png, .jpg, ...".</summary>
    public static string ExtensionsInWords => string.Join(", ", Extensions);

    /// <summary>The format's name in messages ("PNG", "JPEG", ...).</summary>
    public static string Name(ImageFormat format) => format switch
    {
        ImageFormat.Png => "PNG",
        ImageFormat.Jpeg => "JPEG",
        ImageFormat.Gif => "GIF",
        ImageFormat.Tiff => "TIFF",
        ImageFormat.Bmp => "BMP",
        ImageFormat.WebP => "WebP",
        _ => format.ToString(),
    };

    /// <summary>
    /// The format whose signature <paramref name="header"/> starts with (PNG, JPEG SOI, GIF87a/89a, TIFF/BigTIFF in
    /// either byte order, BMP "BM", RIFF....WEBP), or null when none matches.
    /// </summary>
    public static ImageFormat? Detect(ReadOnlySpan<byte> header)
    {
        if (header.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) return ImageFormat.Png;
        if (header.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return ImageFormat.Jpeg;
        if (header.StartsWith("GIF87a"u8) || header.StartsWith("GIF89a"u8)) return ImageFormat.Gif;
        if (header.StartsWith("II*\0"u8) || header.StartsWith("MM\0*"u8) || header.StartsWith("II+\0"u8) || header.StartsWith("MM\0+"u8))
            return ImageFormat.Tiff;
        if (header.Length >= 12 && header.StartsWith("RIFF"u8) && header[8..12].SequenceEqual("WEBP"u8)) return ImageFormat.WebP;
        if (header.StartsWith("BM"u8)) return ImageFormat.Bmp;
        return null;
    }
}
