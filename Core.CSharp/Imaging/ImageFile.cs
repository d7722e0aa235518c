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

    /// <summary>
    /// Reads only the header of the image or stack at <paramref name="path"/>: its format, size, channels (as
    /// <see cref="Read"/> would give them) and pages. No pixel data is decoded: PNG chunks up to the first IDAT,
    /// an SKCodec's parsed header for JPEG/GIF/BMP/WebP, and libtiff's directories for TIFF. The budget and the
    /// header checks are Read's, with the same exceptions and messages; damage past the header is found by Read only.
    /// </summary>
    /// <exception cref="ImageFormatException">Missing, unreadable, of an unknown format, or a corrupt or unsupported header; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static ImageHeader Probe(string path, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        var format = DetectOrRefuse(path);
        return format switch
        {
            ImageFormat.Png => ProbePng(path, limits),
            ImageFormat.Tiff => TiffDecoder.Probe(OpenRead(path), path, limits),
            _ => SkiaHeaderReader.Read(path, format, limits),
        };
    }

    /// <summary>
    /// Reads page <paramref name="page"/> (0-based) of a TIFF stack as a one-page image, decoding that page's pixels
    /// only (libtiff reads the other directories' headers, not their data), so slices of a large stack load one at a
    /// time. The budget applies to the one page. Any other format has page 0 only, read by <see cref="Read"/>.
    /// </summary>
    /// <exception cref="ImageFormatException">Unreadable, corrupt, or no such page; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The page declares more pixels than the budget.</exception>
    public static PlanarImage ReadPage(string path, int page, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        if (DetectOrRefuse(path) == ImageFormat.Tiff) return TiffDecoder.DecodePage(OpenRead(path), path, page, limits);
        if (page != 0) throw new ImageFormatException("image", path, $"has 1 page; page {page} (0-based) does not exist");
        return Read(path, limits);
    }

    /// <summary>Opens <paramref name="path"/> for reading; a missing or unreadable file is an <see cref="ImageFormatException"/> naming it.</summary>
    internal static FileStream OpenRead(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageFormatException("image", path, $"cannot be read ({e.Message})", e);
        }
    }

    private static ImageHeader ProbePng(string path, ImageLimits limits)
    {
        using var f = OpenRead(path);
        return PngHeaderReader.Read(f, path, limits);
    }

    private static ImageFormat DetectOrRefuse(string path)
    {
        using var f = OpenRead(path);
        var head = new byte[ImageFormats.HeaderLength];
        var n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return ImageFormats.Detect(head.AsSpan(0, n)) ?? throw new ImageFormatException("image", path, UnknownFormat(head[..n]));
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
