using System.IO;
using SkiaSharp;

namespace CropCat.Imaging;

/// <summary>
/// The header of a JPEG, GIF, BMP or WebP file through an <see cref="SKCodec"/>, which parses the header when it
/// is created and decodes nothing until asked for pixels. The channels follow <see cref="SkiaDecoder"/>'s rule.
/// </summary>
internal static class SkiaHeaderReader
{
    /// <summary>Reads the header of <paramref name="path"/>, already recognised as <paramref name="format"/>.</summary>
    /// <exception cref="ImageFormatException">Corrupt or truncated header.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static ImageHeader Read(string path, ImageFormat format, ImageLimits limits)
    {
        var name = ImageFormats.Name(format);
        int width, height;
        bool gray, hasAlpha;
        // Skia's managed stream wrapper may dispose the file itself; disposing it twice is harmless.
        using var file = ImageFile.OpenRead(path);
        using (var codec = SkiaDecoder.CreateCodec(file, out var created))
        {
            if (codec is null)
                throw new ImageFormatException(name, path, created == SKCodecResult.IncompleteInput
                    ? "truncated: the file ends inside its header"
                    : $"corrupt: the header cannot be decoded ({SkiaDecoder.Words(created)})");
            var info = codec.Info;
            if (info.Width < 1 || info.Height < 1) throw new ImageFormatException(name, path, $"size {info.Width}x{info.Height} is empty");
            limits.Check(name, path, info.Width, info.Height, channels: 4);
            (width, height) = (info.Width, info.Height);
            gray = info.ColorType == SKColorType.Gray8;
            hasAlpha = !gray && info.AlphaType != SKAlphaType.Opaque;
        }
        var channels = gray ? 1 : hasAlpha ? 4 : format == ImageFormat.Gif && GifPalette.AllGray(path) ? 1 : 3;
        return new ImageHeader(format, width, height, channels, 1);
    }
}
