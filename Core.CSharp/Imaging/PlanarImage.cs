using System;
using System.Collections.Generic;

namespace CropCat.Imaging;

/// <summary>How the sample values of a <see cref="PlanarImage"/> are to be read.</summary>
public enum SampleType
{
    /// <summary>Unsigned integers 0..2^BitDepth-1 (8 or 16 bits).</summary>
    UnsignedInteger,
    /// <summary>32-bit IEEE floats, used as they are (TIFF sample format 3).</summary>
    Float,
}

/// <summary>
/// A decoded image or stack, as <see cref="ImageFile.Read"/> returns it: one array per page (a TIFF stack has
/// several, every other format one), each holding <see cref="Channels"/> planes of Height x Width row-major
/// sample values, channel-major. Integer samples are stored exactly (8- and 16-bit values fit a float exactly);
/// channels are 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
/// </summary>
public sealed class PlanarImage
{
    /// <summary>Creates an image; every page must hold channels x height x width values.</summary>
    /// <exception cref="ArgumentException">Empty size, no page, an unknown channel count or bit depth, or a page of the wrong length.</exception>
    public PlanarImage(string path, ImageFormat format, int width, int height, int channels, int bitDepth, SampleType sampleType, IReadOnlyList<float[]> pages)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"image {path}: size {width}x{height} is empty");
        if (channels is < 1 or > 4) throw new ArgumentException($"image {path}: {channels} channels (1..4)");
        if (sampleType == SampleType.Float ? bitDepth != 32 : bitDepth is not (8 or 16))
            throw new ArgumentException($"image {path}: bit depth {bitDepth} for {sampleType} samples");
        if (pages.Count < 1) throw new ArgumentException($"image {path}: no pages");
        var n = (long)width * height * channels;
        for (var p = 0; p < pages.Count; p++)
            if (pages[p].Length != n) throw new ArgumentException($"image {path}: page {p} holds {pages[p].Length} values, expected {n}");
        Path = path;
        Format = format;
        Width = width;
        Height = height;
        Channels = channels;
        BitDepth = bitDepth;
        SampleType = sampleType;
        Pages = pages;
    }

    /// <summary>The file it was read from (used in messages).</summary>
    public string Path { get; }
    /// <summary>The format found from the file's magic bytes.</summary>
    public ImageFormat Format { get; }
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.</summary>
    public int Channels { get; }
    /// <summary>Bits per sample: 8 or 16 (integers) or 32 (float).</summary>
    public int BitDepth { get; }
    /// <summary>Integer or float samples.</summary>
    public SampleType SampleType { get; }
    /// <summary>The pages, each Channels planes of Height x Width values.</summary>
    public IReadOnlyList<float[]> Pages { get; }
    /// <summary>How many pages (TIFF stacks: slices; everything else: 1).</summary>
    public int PageCount => Pages.Count;

    /// <summary>The value that means full intensity: 2^BitDepth-1 for integers, 1 for floats.</summary>
    public float MaxValue => SampleType == SampleType.Float ? 1f : (1 << BitDepth) - 1;

    /// <summary>What the channels are, in words ("gray", "RGB", ...).</summary>
    public string ChannelsInWords => Channels switch { 1 => "gray", 2 => "gray+alpha", 3 => "RGB", 4 => "RGBA", _ => $"{Channels} channels" };

    /// <summary>One plane of one page (a copy): Height x Width raw sample values.</summary>
    public float[] Plane(int channel, int page = 0)
    {
        var n = Width * Height;
        return Pages[page].AsSpan(channel * n, n).ToArray();
    }

    /// <summary>
    /// Intensities, one per pixel: sample / <see cref="MaxValue"/> (integers land in [0, 1]; floats are kept as
    /// they are); colour as luma (0.299 R + 0.587 G + 0.114 B); alpha is ignored.
    /// </summary>
    public float[] ToGray(int page = 0)
    {
        var n = Width * Height;
        var s = Pages[page];
        var g = new float[n];
        var scale = 1f / MaxValue;
        for (var i = 0; i < n; i++)
            g[i] = Channels >= 3
                ? (0.299f * s[i] + 0.587f * s[n + i] + 0.114f * s[2 * n + i]) * scale
                : s[i] * scale;
        return g;
    }

    /// <summary>
    /// The page as <paramref name="channels"/> planes of intensities (channel-major): 1 = <see cref="ToGray"/>;
    /// 3 = R, G, B of a colour image (alpha ignored). Null when the image cannot give that many channels.
    /// </summary>
    public float[]? ToPlanes(int channels, int page = 0)
    {
        if (channels == 1) return ToGray(page);
        if (channels != 3 || Channels < 3) return null;
        var n = Width * Height;
        var s = Pages[page];
        var values = new float[3 * n];
        var scale = 1f / MaxValue;
        for (var i = 0; i < 3 * n; i++) values[i] = s[i] * scale;
        return values;
    }

    /// <summary>
    /// One label value per pixel, for masks: the gray value for
    /// gray images, 0xRRGGBB for colour (16-bit colour keeps the high byte of each sample); alpha is ignored.
    /// </summary>
    /// <exception cref="ImageFormatException">Float samples that are not whole numbers in 0..2^24 (a float image is no label map).</exception>
    public int[] ToLabelValues(int page = 0)
    {
        var n = Width * Height;
        var s = Pages[page];
        var v = new int[n];
        var shift = BitDepth == 16 ? 8 : 0;
        for (var i = 0; i < n; i++)
        {
            if (SampleType == SampleType.Float)
            {
                var f = s[i];
                if (Channels != 1 || f != MathF.Floor(f) || f < 0 || f > 1 << 24)
                    throw new ImageFormatException(ImageFormats.Name(Format), Path,
                        $"float sample {f} at pixel {i % Width},{i / Width} is not a label value (masks hold whole numbers, gray)");
                v[i] = (int)f;
            }
            else
            {
                v[i] = Channels >= 3
                    ? ((int)s[i] >> shift) << 16 | ((int)s[n + i] >> shift) << 8 | (int)s[2 * n + i] >> shift
                    : (int)s[i];
            }
        }
        return v;
    }

    /// <summary>A PNG decoded by <see cref="PngReader"/> as a one-page planar image (samples copied exactly).</summary>
    public static PlanarImage FromPng(PngImage png, string path)
    {
        var n = png.Width * png.Height;
        var c = png.Channels;
        var plane = new float[(long)n * c];
        for (var ch = 0; ch < c; ch++)
            for (var i = 0; i < n; i++)
                plane[ch * n + i] = png.Samples[i * c + ch];
        return new PlanarImage(path, ImageFormat.Png, png.Width, png.Height, c, png.BitDepth, SampleType.UnsignedInteger, [plane]);
    }
}
