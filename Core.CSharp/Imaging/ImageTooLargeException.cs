using System;

namespace CropCat.Imaging;

/// <summary>
/// An image's header declares more pixels than the <see cref="ImageLimits"/> budget allows. It is raised after the
/// header is read and before any pixel memory is allocated; the message names the file and the declared size.
/// </summary>
public sealed class ImageTooLargeException : ImageFormatException
{
    /// <summary>Creates the error for <paramref name="path"/> declaring <paramref name="pages"/> pages of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public ImageTooLargeException(string format, string path, long width, long height, long pages, long maxPixels, string reason)
        : base(format, path, reason)
    {
        DeclaredWidth = width;
        DeclaredHeight = height;
        DeclaredPages = pages;
        MaxPixels = maxPixels;
    }

    /// <summary>The width the header declares.</summary>
    public long DeclaredWidth { get; }

    /// <summary>The height the header declares.</summary>
    public long DeclaredHeight { get; }

    /// <summary>The number of pages (1 except for TIFF stacks).</summary>
    public long DeclaredPages { get; }

    /// <summary>The budget that refused it (<see cref="ImageLimits.MaxPixels"/>).</summary>
    public long MaxPixels { get; }
}
