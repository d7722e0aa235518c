using System;
using System.Globalization;

namespace CropCat.Imaging;

/// <summary>
/// Limits applied to every image read through <see cref="ImageFile"/> and <see cref="PngReader"/>: the header's
/// declared size is checked against <see cref="MaxPixels"/> before any pixel memory is allocated, so a crafted or
/// broken header (a PNG claiming 60000 x 60000) is refused with a message instead of exhausting memory.
/// </summary>
public sealed record ImageLimits
{
    /// <summary>The default pixel budget, 2^28 (268,435,456) pixels: a 16384 x 16384 image.</summary>
    public const long DefaultMaxPixels = 1L << 28;

    private readonly long _maxPixels = DefaultMaxPixels;

    /// <summary>The limits used when none are given (<see cref="DefaultMaxPixels"/>).</summary>
    public static ImageLimits Default { get; } = new();

    /// <summary>
    /// The most pixels one file may declare, summed over the pages of a TIFF stack (width x height x pages;
    /// channels are not counted). Must be positive.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero or negative.</exception>
    public long MaxPixels
    {
        get => _maxPixels;
        init => _maxPixels = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxPixels), value, "the pixel budget must be at least 1");
    }

    /// <summary>
    /// Refuses a declared size over the budget, or one whose planes would not fit in one .NET array whatever the
    /// budget. Call it with the header's numbers before allocating pixels.
    /// </summary>
    /// <exception cref="ImageTooLargeException">The declared size is over the budget or the array limit.</exception>
    public void Check(string format, string path, long width, long height, long pages = 1, int channels = 1)
    {
        var pixels = (double)width * height * pages;
        var size = pages == 1 ? $"{width}x{height}" : $"{pages} pages of {width}x{height}";
        if (pixels > MaxPixels)
            throw new ImageTooLargeException(format, path, width, height, pages, MaxPixels, string.Create(CultureInfo.InvariantCulture,
                $"declares {size} pixels ({pixels:N0} pixels), over the pixel budget of {MaxPixels:N0} (ImageLimits.MaxPixels); refused before decoding"));
        if ((double)width * height * Math.Max(1, channels) > Array.MaxLength)
            throw new ImageTooLargeException(format, path, width, height, pages, MaxPixels,
                string.Create(CultureInfo.InvariantCulture,
                    $"declares {size} pixels with {channels} channel(s), more values per page than one .NET array holds ({Array.MaxLength:N0}); refused before decoding"));
    }
}
