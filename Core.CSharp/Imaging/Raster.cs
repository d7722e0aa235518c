using System;
using System.Collections.Generic;

namespace CropCat.Imaging;

/// <summary>
/// A small RGB canvas for the overlays CropCat draws itself: pixels, rectangles
/// and caption text in a built-in 3x5 pixel font (digits, A-Z and a few signs), saved as PNG.
/// </summary>
public sealed class Raster
{
    /// <summary>A blank canvas filled with <paramref name="background"/>.</summary>
    public Raster(int width, int height, (byte R, byte G, byte B)? background = null)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"raster size {width}x{height} is empty");
        Width = width;
        Height = height;
        Rgb = new byte[width * height * 3];
        var bg = background ?? (255, 255, 255);
        FillRect(0, 0, width, height, bg);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Row-major RGB bytes.</summary>
    public byte[] Rgb { get; }

    /// <summary>Sets one pixel (ignored outside the canvas).</summary>
    public void Set(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= Width || (uint)y >= Height) return;
        var o = (y * Width + x) * 3;
        Rgb[o] = c.R; Rgb[o + 1] = c.G; Rgb[o + 2] = c.B;
    }

    /// <summary>Mixes <paramref name="c"/> into one pixel with opacity <paramref name="alpha"/>.</summary>
    public void Blend(int x, int y, (byte R, byte G, byte B) c, double alpha)
    {
        if ((uint)x >= Width || (uint)y >= Height) return;
        var o = (y * Width + x) * 3;
        Rgb[o] = (byte)Math.Round(Rgb[o] * (1 - alpha) + c.R * alpha);
        Rgb[o + 1] = (byte)Math.Round(Rgb[o + 1] * (1 - alpha) + c.G * alpha);
        Rgb[o + 2] = (byte)Math.Round(Rgb[o + 2] * (1 - alpha) + c.B * alpha);
    }

    /// <summary>Fills the rectangle [x, x+w) x [y, y+h).</summary>
    public void FillRect(int x, int y, int w, int h, (byte R, byte G, byte B) c)
    {
        for (var yy = Math.Max(0, y); yy < Math.Min(Height, y + h); yy++)
            for (var xx = Math.Max(0, x); xx < Math.Min(Width, x + w); xx++)
                Set(xx, yy, c);
    }

    /// <summary>Copies <paramref name="other"/> onto this canvas with its top-left corner at (x, y).</summary>
    public void Paste(Raster other, int x, int y)
    {
        for (var yy = 0; yy < other.Height; yy++)
            for (var xx = 0; xx < other.Width; xx++)
            {
                var o = (yy * other.Width + xx) * 3;
                Set(x + xx, y + yy, (other.Rgb[o], other.Rgb[o + 1], other.Rgb[o + 2]));
            }
    }

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/>.</summary>
    public static int TextWidth(string text, int scale) => text.Length == 0 ? 0 : (text.Length * 4 - 1) * scale;

    /// <summary>
    /// Draws <paramref name="text"/> with its top-left corner at (x, y), each font pixel a
    /// <paramref name="scale"/> x <paramref name="scale"/> block. Lower case is drawn as upper case; unknown signs as blanks.
    /// </summary>
    public void Text(int x, int y, string text, (byte R, byte G, byte B) c, int scale = 2)
    {
        foreach (var ch in text.ToUpperInvariant())
        {
            if (Font.TryGetValue(ch, out var rows))
                for (var r = 0; r < 5; r++)
                    for (var k = 0; k < 3; k++)
                        if (rows[r][k] == '1') FillRect(x + k * scale, y + r * scale, scale, scale, c);
            x += 4 * scale;
        }
    }

    /// <summary>The canvas as 8-bit RGB PNG bytes (for logs that embed pictures, e.g. TensorBoard).</summary>
    public byte[] EncodePng()
    {
        var samples = new ushort[Rgb.Length];
        for (var i = 0; i < Rgb.Length; i++) samples[i] = Rgb[i];
        return PngEncoder.Encode(new PngImage(Width, Height, 3, 8, samples));
    }

    /// <summary>Writes the canvas as an 8-bit RGB PNG (atomically).</summary>
    public void Save(string path) => Png.WriteRgb(path, Rgb, Width, Height);

    private static readonly Dictionary<char, string[]> Font = new()
    {
        ['0'] = ["111", "101", "101", "101", "111"],
        ['1'] = ["010", "110", "010", "010", "111"],
        ['2'] = ["111", "001", "111", "100", "111"],
        ['3'] = ["111", "001", "111", "001", "111"],
        ['4'] = ["101", "101", "111", "001", "001"],
        ['5'] = ["111", "100", "111", "001", "111"],
        ['6'] = ["111", "100", "111", "101", "111"],
        ['7'] = ["111", "001", "001", "010", "010"],
        ['8'] = ["111", "101", "111", "101", "111"],
        ['9'] = ["111", "101", "111", "001", "111"],
        ['.'] = ["000", "000", "000", "000", "010"],
        ['-'] = ["000", "000", "111", "000", "000"],
        [':'] = ["000", "010", "000", "010", "000"],
        ['/'] = ["001", "001", "010", "100", "100"],
        ['('] = ["010", "100", "100", "100", "010"],
        [')'] = ["010", "001", "001", "001", "010"],
        ['|'] = ["010", "010", "010", "010", "010"],
        ['='] = ["000", "111", "000", "111", "000"],
        ['%'] = ["101", "001", "010", "100", "101"],
        [','] = ["000", "000", "000", "010", "100"],
        ['A'] = ["010", "101", "111", "101", "101"],
        ['B'] = ["110", "101", "110", "101", "110"],
        ['C'] = ["011", "100", "100", "100", "011"],
        ['D'] = ["110", "101", "101", "101", "110"],
        ['E'] = ["111", "100", "110", "100", "111"],
        ['F'] = ["111", "100", "110", "100", "100"],
        ['G'] = ["011", "100", "101", "101", "011"],
        ['H'] = ["101", "101", "111", "101", "101"],
        ['I'] = ["111", "010", "010", "010", "111"],
        ['J'] = ["001", "001", "001", "101", "010"],
        ['K'] = ["101", "101", "110", "101", "101"],
        ['L'] = ["100", "100", "100", "100", "111"],
        ['M'] = ["101", "111", "111", "101", "101"],
        ['N'] = ["110", "101", "101", "101", "101"],
        ['O'] = ["010", "101", "101", "101", "010"],
        ['P'] = ["110", "101", "110", "100", "100"],
        ['Q'] = ["010", "101", "101", "110", "011"],
        ['R'] = ["110", "101", "110", "101", "101"],
        ['S'] = ["011", "100", "010", "001", "110"],
        ['T'] = ["111", "010", "010", "010", "010"],
        ['U'] = ["101", "101", "101", "101", "111"],
        ['V'] = ["101", "101", "101", "101", "010"],
        ['W'] = ["101", "101", "111", "111", "101"],
        ['X'] = ["101", "101", "010", "101", "101"],
        ['Y'] = ["101", "101", "010", "010", "010"],
        ['Z'] = ["111", "001", "010", "100", "111"],
    };
}
