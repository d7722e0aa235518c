using System;
using System.IO;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace CropCat.Imaging;

/// <summary>
/// JPEG, GIF (first frame), BMP and WebP through SkiaSharp's codecs (libjpeg-turbo, libwebp and Skia's own GIF
/// and BMP readers; native code from SkiaSharp.NativeAssets.Linux). The header is read first and its size checked
/// against the budget before the pixel buffer exists; an incomplete or broken file is refused, never returned
/// half-decoded (Skia would fill the missing rows with zeros). Samples are 8-bit: gray where the file is gray
/// (one-component JPEG; GIF whose used colours are all opaque grays), else RGB, or RGBA where the file has alpha.
/// </summary>
internal static class SkiaDecoder
{
    /// <summary>Decodes <paramref name="bytes"/>, the contents of <paramref name="path"/>, already recognised as <paramref name="format"/>.</summary>
    /// <exception cref="ImageFormatException">Corrupt, truncated or unsupported; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The header declares more pixels than the budget.</exception>
    public static PlanarImage Decode(byte[] bytes, string path, ImageFormat format, ImageLimits limits)
    {
        var name = ImageFormats.Name(format);
        using var codec = CreateCodec(bytes, out var created);
        if (codec is null)
            throw new ImageFormatException(name, path, created == SKCodecResult.IncompleteInput
                ? "truncated: the file ends inside its header"
                : $"corrupt: the header cannot be decoded ({Words(created)})");
        var info = codec.Info;
        if (info.Width < 1 || info.Height < 1) throw new ImageFormatException(name, path, $"size {info.Width}x{info.Height} is empty");
        limits.Check(name, path, info.Width, info.Height, channels: 4);

        var gray = info.ColorType == SKColorType.Gray8;
        var hasAlpha = !gray && info.AlphaType != SKAlphaType.Opaque;
        var target = new SKImageInfo(info.Width, info.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888,
            gray || !hasAlpha ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var pixels = new byte[(long)target.RowBytes * target.Height];
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        SKCodecResult result;
        try
        {
            result = codec.GetPixels(target, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }
        if (result != SKCodecResult.Success)
            throw new ImageFormatException(name, path, result == SKCodecResult.IncompleteInput
                ? "truncated: the file ends before its image data does"
                : $"corrupt: the image data cannot be decoded ({Words(result)})");
        return gray
            ? Planes(path, format, info.Width, info.Height, pixels, 1, 1)
            : Planes(path, format, info.Width, info.Height, pixels, 4, Channels(pixels, format, hasAlpha));
    }

    private static SKCodec? CreateCodec(byte[] bytes, out SKCodecResult result) =>
        CreateCodec(new MemoryStream(bytes, writable: false), out result);

    /// <summary>A codec over <paramref name="stream"/> (which it then owns), or null with the reason in <paramref name="result"/>.</summary>
    internal static SKCodec? CreateCodec(Stream stream, out SKCodecResult result)
    {
        try
        {
            return SKCodec.Create(stream, out result);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException(
                "SkiaSharp's native library (libSkiaSharp, from the SkiaSharp.NativeAssets.Linux package) could not be loaded: " + e.Message, e);
        }
    }

    /// <summary>How many of the 4 decoded RGBA channels the image really has: 4 with alpha, 1 for an opaque all-gray GIF, else 3.</summary>
    private static int Channels(byte[] rgba, ImageFormat format, bool hasAlpha)
    {
        if (hasAlpha) return 4;
        if (format != ImageFormat.Gif) return 3;
        for (var i = 0; i < rgba.Length; i += 4)
            if (rgba[i] != rgba[i + 1] || rgba[i] != rgba[i + 2])
                return 3;
        return 1;
    }

    /// <summary>Interleaved 8-bit pixels (<paramref name="stride"/> bytes each) to <paramref name="channels"/> planes.</summary>
    private static PlanarImage Planes(string path, ImageFormat format, int width, int height, byte[] pixels, int stride, int channels)
    {
        var n = width * height;
        var plane = new float[(long)n * channels];
        for (var c = 0; c < channels; c++)
            for (var i = 0; i < n; i++)
                plane[c * n + i] = pixels[i * stride + c];
        return new PlanarImage(path, format, width, height, channels, 8, SampleType.UnsignedInteger, [plane]);
    }

    internal static string Words(SKCodecResult r) => r switch
    {
        SKCodecResult.IncompleteInput => "incomplete input",
        SKCodecResult.ErrorInInput => "error in the input",
        SKCodecResult.InvalidInput => "invalid input",
        SKCodecResult.Unimplemented => "a variant Skia does not implement",
        SKCodecResult.CouldNotRewind => "could not rewind",
        SKCodecResult.InvalidConversion => "invalid conversion",
        SKCodecResult.InvalidScale => "invalid scale",
        SKCodecResult.InvalidParameters => "invalid parameters",
        SKCodecResult.InternalError => "Skia internal error",
        _ => r.ToString(),
    };
}
