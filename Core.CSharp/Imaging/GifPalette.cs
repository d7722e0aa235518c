using System;
using System.IO;

namespace CropCat.Imaging;

/// <summary>
/// Reads a GIF's colour tables (the global one and the first frame's local one) without decoding pixels, to tell a
/// gray GIF (a Carvana mask: black and white entries) from a colour one before its pixels are read.
/// </summary>
internal static class GifPalette
{
    /// <summary>
    /// Whether every entry of the global colour table and of the first frame's local table is gray (R = G = B).
    /// False when the file cannot be walked (the decoder reports damage; this only chooses a channel count).
    /// </summary>
    public static bool AllGray(string path)
    {
        try
        {
            using var f = ImageFile.OpenRead(path);
            var screen = new byte[13]; // "GIF89a", width, height, packed flags, background, aspect
            f.ReadExactly(screen);
            if ((screen[10] & 0x80) != 0 && !GrayTable(f, screen[10])) return false;
            while (true)
            {
                var block = f.ReadByte();
                if (block == 0x2C) // image descriptor of the first frame: x, y, w, h, packed
                {
                    var d = new byte[9];
                    f.ReadExactly(d);
                    return (d[8] & 0x80) == 0 || GrayTable(f, d[8]);
                }
                if (block != 0x21) return false; // a trailer or garbage before any frame
                f.ReadByte(); // extension label
                SkipSubBlocks(f);
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ImageFormatException)
        {
            return false;
        }
    }

    private static bool GrayTable(Stream f, byte packed)
    {
        var table = new byte[3 * (1 << ((packed & 7) + 1))];
        f.ReadExactly(table);
        for (var i = 0; i < table.Length; i += 3)
            if (table[i] != table[i + 1] || table[i] != table[i + 2])
                return false;
        return true;
    }

    private static void SkipSubBlocks(Stream f)
    {
        int size;
        while ((size = f.ReadByte()) > 0) f.Seek(size, SeekOrigin.Current);
        if (size < 0) throw new EndOfStreamException();
    }
}
