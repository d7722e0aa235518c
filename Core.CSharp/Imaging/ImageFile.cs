using System;
using System.IO;

namespace CropCat.Imaging;

/// <summary>
/// The one way CropCat reads image files. The format is recognised from the file's first bytes (see
/// <see cref="ImageFormats.Detect"/>), never from its extension, and decoded by:
/// PNG: CropCat's <see cref="PngReader"/> (8/16-bit exact; Skia would give 16-bit PNGs as 8 bits);
/// JPEG, GIF (first frame), BMP, WebP: SkiaSharp; TIFF (every page of a stack): BitMiracle.LibTiff.NET.
/// Every decoder reads the header first and checks the declared size against <see cref="ImageLimits"/> before
/// allocating pixels. Any failure is an <see cref="ImageFormatException"/> naming the file.
/// </summary>
public static class ImageFile
{
    /// <summary>Reads the image or stack at <paramref name="path"/> as planar samples.</summary>
    /// <param name="path">The file.</param>
    /// <param name="limits">The pixel budget; <see cref="ImageLimits.Default"/> (2^28 pixels) when null.</param>
    /// <exception cref="ImageFormatException">Missing, unreadable, of an unknown format, truncated, corrupt or unsupported; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget (a subclass of <see cref="ImageFormatException"/>).</exception>
    public static PlanarImage Read(string path, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        var bytes = ReadBytes(path);
        var format = ImageFormats.Detect(bytes)
            ?? throw new ImageFormatException("image", path, UnknownFormat(bytes));
        return format switch
        {
            ImageFormat.Png => PlanarImage.FromPng(PngReader.Decode(bytes, path, limits), path),
            ImageFormat.Tiff => TiffDecoder.Decode(bytes, path, limits),
            _ => SkiaDecoder.Decode(bytes, path, format, limits),
        };
    }

    /// <summary>The format of the file at <paramref name="path"/> from its first bytes, or null when none is known.</summary>
    /// <exception cref="ImageFormatException">The file is missing or unreadable.</exception>
    public static ImageFormat? DetectFormat(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            var head = new byte[ImageFormats.HeaderLength];
            var n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return ImageFormats.Detect(head.AsSpan(0, n));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageFormatException("image", path, $"cannot be read ({e.Message})", e);
        }
    }

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageFormatException("image", path, $"cannot be read ({e.Message})", e);
        }
    }

    private static string UnknownFormat(byte[] bytes)
    {
        if (bytes.Length == 0) return "the file is empty";
        var head = Convert.ToHexString(bytes.AsSpan(0, Math.Min(8, bytes.Length)));
        return $"unknown image format (first bytes {head}); CropCat reads PNG, JPEG, GIF, TIFF, BMP and WebP, recognised by their signatures";
    }
}
