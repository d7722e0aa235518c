using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using BitMiracle.LibTiff.Classic;

namespace CropCat.Imaging;

/// <summary>
/// TIFF through BitMiracle.LibTiff.NET (a managed port of libtiff): every page (directory) of a stack, 8/16-bit
/// unsigned and 32-bit float samples, gray (min-is-black or min-is-white), gray+alpha, RGB and RGBA, strips or tiles,
/// contiguous or separate planes, and whatever compression libtiff decodes (none, LZW, Deflate and PackBits are
/// tested). All pages' headers are read and their total size checked against the budget before any pixel buffer
/// exists. Pages must share size and sample layout (a stack). libtiff's own error text is kept for the message;
/// nothing is printed.
/// </summary>
internal static class TiffDecoder
{
    private const string Name = "TIFF";

    [ThreadStatic]
    private static StringBuilder? _errors;

    static TiffDecoder() => Tiff.SetErrorHandler(new CollectingHandler());

    /// <summary>Installs the quiet error handler (runs the static constructor) before another LibTiff.NET use, such as <see cref="TiffWriter"/>.</summary>
    internal static void Quiet() { }

    /// <summary>
    /// Collects libtiff's errors on this thread until the result is disposed, so that <see cref="Corrupt"/> can quote
    /// them; for readers that keep a file open across calls (<see cref="TiffRegionReader"/>).
    /// </summary>
    internal static IDisposable CollectErrors()
    {
        _errors = new StringBuilder();
        return new ErrorScope();
    }

    private sealed class ErrorScope : IDisposable
    {
        public void Dispose() => _errors = null;
    }

    /// <summary>Decodes <paramref name="bytes"/>, the contents of <paramref name="path"/>.</summary>
    /// <exception cref="ImageFormatException">Corrupt, truncated or unsupported; the message names the file.</exception>
    /// <exception cref="ImageTooLargeException">The pages declare more pixels than the budget.</exception>
    public static PlanarImage Decode(byte[] bytes, string path, ImageLimits limits) =>
        WithTiff(new MemoryStream(bytes, writable: false), path, tiff =>
        {
            var layouts = Layouts(tiff, path);
            var first = layouts[0];
            // Every page is known now; nothing of the image size has been allocated yet.
            limits.Check(Name, path, first.Width, first.Height, layouts.Length, first.Channels);
            var pages = new List<float[]>(layouts.Length);
            for (short p = 0; p < layouts.Length; p++)
            {
                if (!tiff.SetDirectory(p)) throw Corrupt(path, $"directory {p + 1} of {layouts.Length} cannot be read");
                pages.Add(ReadPage(tiff, layouts[p], path, p));
            }
            return Image(path, first, pages);
        });

    /// <summary>
    /// Decodes page <paramref name="page"/> (0-based) of the stack in <paramref name="stream"/> alone: every
    /// directory is still checked (a stack's pages must agree), but only this page's pixels are read, and the
    /// budget applies to one page.
    /// </summary>
    /// <exception cref="ImageFormatException">Corrupt, truncated, unsupported, or no such page.</exception>
    /// <exception cref="ImageTooLargeException">The page declares more pixels than the budget.</exception>
    public static PlanarImage DecodePage(Stream stream, string path, int page, ImageLimits limits) =>
        WithTiff(stream, path, tiff =>
        {
            var layouts = Layouts(tiff, path);
            if (page < 0 || page >= layouts.Length)
                throw new ImageFormatException(Name, path, $"has {layouts.Length} page(s); page {page} (0-based) does not exist");
            var l = layouts[page];
            limits.Check(Name, path, l.Width, l.Height, 1, l.Channels);
            if (!tiff.SetDirectory((short)page)) throw Corrupt(path, $"directory {page + 1} of {layouts.Length} cannot be read");
            return Image(path, l, [ReadPage(tiff, l, path, page)]);
        });

    /// <summary>The header of the stack in <paramref name="stream"/>: size, channels and page count, checked against the budget.</summary>
    /// <exception cref="ImageFormatException">Corrupt, truncated or unsupported.</exception>
    /// <exception cref="ImageTooLargeException">The pages declare more pixels than the budget.</exception>
    public static ImageHeader Probe(Stream stream, string path, ImageLimits limits) =>
        WithTiff(stream, path, tiff =>
        {
            var layouts = Layouts(tiff, path);
            var first = layouts[0];
            limits.Check(Name, path, first.Width, first.Height, layouts.Length, first.Channels);
            return new ImageHeader(ImageFormat.Tiff, first.Width, first.Height, first.Channels, layouts.Length);
        });

    /// <summary>Opens <paramref name="stream"/> with libtiff, runs <paramref name="read"/>, and turns libtiff's failures into one message.</summary>
    private static T WithTiff<T>(Stream stream, string path, Func<Tiff, T> read)
    {
        _errors = new StringBuilder();
        try
        {
            using (stream)
            using (var tiff = Tiff.ClientOpen(path, "r", stream, new TiffStream()) ?? throw Corrupt(path, "the header or first directory cannot be read"))
                return read(tiff);
        }
        catch (Exception e) when (e is not ImageFormatException and not OutOfMemoryException)
        {
            // libtiff's port throws plain exceptions (index out of range, ...) on some damaged files.
            throw Corrupt(path, $"{e.GetType().Name}: {e.Message}", e);
        }
        finally
        {
            _errors = null;
        }
    }

    /// <summary>Every directory's layout, checked to form one stack; no pixel data is read.</summary>
    private static Layout[] Layouts(Tiff tiff, string path)
    {
        var count = tiff.NumberOfDirectories();
        if (count < 1) throw Corrupt(path, "no image directory");
        var layouts = new Layout[count];
        for (short p = 0; p < count; p++)
        {
            if (!tiff.SetDirectory(p)) throw Corrupt(path, $"directory {p + 1} of {count} cannot be read");
            layouts[p] = Layout.Of(tiff, path, p);
            if (p > 0 && !layouts[p].SameStackAs(layouts[0]))
                throw new ImageFormatException(Name, path,
                    $"page {p + 1} is {layouts[p]} but page 1 is {layouts[0]}; CropCat reads stacks whose pages share size and sample layout");
        }
        return layouts;
    }

    private static PlanarImage Image(string path, Layout first, List<float[]> pages) =>
        new(path, ImageFormat.Tiff, first.Width, first.Height, first.Channels, first.BitsPerSample,
            first.IsFloat ? SampleType.Float : SampleType.UnsignedInteger, pages);

    /// <summary>The one message for a damaged file: what failed, and libtiff's own errors of the current read.</summary>
    internal static ImageFormatException Corrupt(string path, string what, Exception? inner = null)
    {
        var libtiff = _errors is { Length: > 0 } ? $" (libtiff: {_errors.ToString().TrimEnd(' ', ';')})" : "";
        return new ImageFormatException(Name, path, $"corrupt or truncated: {what}{libtiff}", inner);
    }

    private static float[] ReadPage(Tiff tiff, Layout l, string path, int page)
    {
        int w = l.Width, h = l.Height, n = w * h;
        var values = new float[(long)n * l.Channels];
        var planes = l.Separate ? l.Channels : 1;
        var perPixel = l.Separate ? 1 : l.Channels;
        var bytesPerSample = l.BitsPerSample / 8;
        if (tiff.IsTiled())
        {
            var tw = tiff.GetField(TiffTag.TILEWIDTH)[0].ToInt();
            var th = tiff.GetField(TiffTag.TILELENGTH)[0].ToInt();
            if (tw < 1 || th < 1) throw Corrupt(path, $"page {page + 1} has tiles of {tw}x{th}");
            var need = tw * th * perPixel * bytesPerSample;
            var buffer = new byte[Math.Max(need, tiff.TileSize())];
            for (var plane = 0; plane < planes; plane++)
                for (var y0 = 0; y0 < h; y0 += th)
                    for (var x0 = 0; x0 < w; x0 += tw)
                    {
                        var tile = tiff.ComputeTile(x0, y0, 0, (short)plane);
                        if (tiff.ReadEncodedTile(tile, buffer, 0, need) < need)
                            throw Corrupt(path, $"page {page + 1}, tile at {x0},{y0} cannot be decoded");
                        for (var r = 0; r < th && y0 + r < h; r++)
                            for (var c = 0; c < tw && x0 + c < w; c++)
                                Store(values, l, buffer, (r * tw + c) * perPixel, (y0 + r) * w + x0 + c, plane, perPixel, n);
                    }
        }
        else
        {
            var rps = tiff.GetFieldDefaulted(TiffTag.ROWSPERSTRIP)[0].ToLong();
            var rows = (int)(rps < 1 || rps > h ? h : rps);
            var stripsPerPlane = (h + rows - 1) / rows;
            var buffer = new byte[Math.Max((long)rows * w * perPixel * bytesPerSample, tiff.StripSize())];
            for (var plane = 0; plane < planes; plane++)
                for (var k = 0; k < stripsPerPlane; k++)
                {
                    var y0 = k * rows;
                    var inStrip = Math.Min(rows, h - y0);
                    var need = inStrip * w * perPixel * bytesPerSample;
                    if (tiff.ReadEncodedStrip(plane * stripsPerPlane + k, buffer, 0, need) < need)
                        throw Corrupt(path, $"page {page + 1}, strip {k + 1} of {stripsPerPlane} (rows {y0}..{y0 + inStrip - 1}) cannot be decoded");
                    for (var i = 0; i < inStrip * w; i++)
                        Store(values, l, buffer, i * perPixel, y0 * w + i, plane, perPixel, n);
                }
        }
        return values;
    }

    /// <summary>Copies one pixel's samples (starting at sample <paramref name="sample"/> of the buffer) into the planes.</summary>
    private static void Store(float[] values, Layout l, byte[] buffer, int sample, int pixel, int plane, int perPixel, int n)
    {
        for (var s = 0; s < perPixel; s++)
            values[(long)(plane + s) * n + pixel] = SampleAt(l, buffer, sample + s, plane + s);
    }

    /// <summary>
    /// Sample <paramref name="i"/> of a decoded strip or tile (host byte order, as libtiff returns it) as the value
    /// <see cref="PlanarImage"/> stores for <paramref name="channel"/>: the integer or float as it is, with a
    /// min-is-white gray channel inverted.
    /// </summary>
    internal static float SampleAt(Layout l, byte[] buffer, int i, int channel)
    {
        float v = l.BitsPerSample switch
        {
            8 => buffer[i],
            16 => BitConverter.ToUInt16(buffer, 2 * i),
            _ => BitConverter.ToSingle(buffer, 4 * i),
        };
        if (l.MinIsWhite && channel == 0) v = (1 << l.BitsPerSample) - 1 - v;
        return v;
    }

    /// <summary>One directory's size and sample layout, checked against what CropCat reads.</summary>
    internal sealed record Layout(int Width, int Height, int Channels, int BitsPerSample, bool IsFloat, bool Separate, bool MinIsWhite)
    {
        public static Layout Of(Tiff tiff, string path, int page)
        {
            var width = tiff.GetField(TiffTag.IMAGEWIDTH)?[0].ToLong() ?? 0;
            var height = tiff.GetField(TiffTag.IMAGELENGTH)?[0].ToLong() ?? 0;
            if (width < 1 || height < 1 || width > int.MaxValue || height > int.MaxValue)
                throw Corrupt(path, $"page {page + 1} declares size {width}x{height}");
            var spp = tiff.GetFieldDefaulted(TiffTag.SAMPLESPERPIXEL)[0].ToInt();
            var bps = tiff.GetFieldDefaulted(TiffTag.BITSPERSAMPLE)[0].ToInt();
            var format = (SampleFormat)tiff.GetFieldDefaulted(TiffTag.SAMPLEFORMAT)[0].ToInt();
            var planar = (PlanarConfig)tiff.GetFieldDefaulted(TiffTag.PLANARCONFIG)[0].ToInt();
            var photometric = tiff.GetField(TiffTag.PHOTOMETRIC) is { } ph ? (Photometric)ph[0].ToInt() : Photometric.MINISBLACK;
            string Unsupported(string what) =>
                $"page {page + 1}: {what} is not supported (CropCat reads 8/16-bit unsigned and 32-bit float samples, gray, gray+alpha, RGB or RGBA)";
            var isFloat = format == SampleFormat.IEEEFP;
            if (isFloat ? bps != 32 : format != SampleFormat.UINT || bps is not (8 or 16))
                throw new ImageFormatException(Name, path, Unsupported($"{bps}-bit {format} samples"));
            var gray = photometric is Photometric.MINISBLACK or Photometric.MINISWHITE;
            if (!(gray && spp is 1 or 2) && !(photometric == Photometric.RGB && spp is 3 or 4))
                throw new ImageFormatException(Name, path, Unsupported($"photometric {photometric} with {spp} samples per pixel"));
            if (photometric == Photometric.MINISWHITE && isFloat)
                throw new ImageFormatException(Name, path, Unsupported("min-is-white float samples"));
            return new Layout((int)width, (int)height, spp, bps, isFloat, planar == PlanarConfig.SEPARATE && spp > 1,
                photometric == Photometric.MINISWHITE);
        }

        public bool SameStackAs(Layout o) =>
            Width == o.Width && Height == o.Height && Channels == o.Channels && BitsPerSample == o.BitsPerSample && IsFloat == o.IsFloat;

        public override string ToString() => $"{Width}x{Height}, {Channels} x {BitsPerSample}-bit {(IsFloat ? "float" : "unsigned")}";
    }

    /// <summary>Keeps libtiff's errors for the current read's message instead of printing them.</summary>
    private sealed class CollectingHandler : TiffErrorHandler
    {
        public override void ErrorHandler(Tiff tif, string method, string format, params object[] args) =>
            _errors?.Append(Format(method, format, args)).Append("; ");

        public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }

        public override void WarningHandler(Tiff tif, string method, string format, params object[] args) { }

        public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }

        private static string Format(string method, string format, object[] args)
        {
            try
            {
                return $"{method}: {string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args)}";
            }
            catch (FormatException)
            {
                return $"{method}: {format}";
            }
        }
    }
}
