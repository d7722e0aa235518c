using System;
using System.Collections.Generic;
using System.Linq;

namespace CropCat.Imaging;

/// <summary>Pictures of segmentations a person can check at a glance: gray images with tinted, outlined instances.</summary>
public static class Overlay
{
    /// <summary>The gray image, contrast-stretched between its 1st and 99th percentile, enlarged <paramref name="scale"/> times.</summary>
    public static Raster Gray(float[] image, int height, int width, int scale = 1)
    {
        var sorted = (float[])image.Clone();
        Array.Sort(sorted);
        float lo = sorted[(int)(0.01 * (sorted.Length - 1))], hi = sorted[(int)(0.99 * (sorted.Length - 1))];
        if (hi - lo < 1e-6f) hi = lo + 1;
        var r = new Raster(width * scale, height * scale);
        for (var y = 0; y < height * scale; y++)
            for (var x = 0; x < width * scale; x++)
            {
                var v = (byte)Math.Clamp((image[(y / scale) * width + x / scale] - lo) / (hi - lo) * 255, 0, 255);
                r.Set(x, y, (v, v, v));
            }
        return r;
    }

    /// <summary>
    /// The gray image with every instance (id > 0) tinted in its own colour and outlined, so merged cells
    /// show as one colour and split cells as two.
    /// </summary>
    public static Raster Instances(float[] image, int[] instances, int height, int width, int scale = 1, double alpha = 0.45)
    {
        var r = Gray(image, height, width, scale);
        for (var y = 0; y < height * scale; y++)
            for (var x = 0; x < width * scale; x++)
            {
                int sx = x / scale, sy = y / scale;
                var id = instances[sy * width + sx];
                if (id == 0) continue;
                var c = Colour(id);
                // Outline: the enlarged pixel is on the instance's edge if a neighbour in the source differs.
                var edge = (x % scale == 0 && sx > 0 && instances[sy * width + sx - 1] != id)
                           || (x % scale == scale - 1 && sx < width - 1 && instances[sy * width + sx + 1] != id)
                           || (y % scale == 0 && sy > 0 && instances[(sy - 1) * width + sx] != id)
                           || (y % scale == scale - 1 && sy < height - 1 && instances[(sy + 1) * width + sx] != id);
                if (edge) r.Set(x, y, c);
                else r.Blend(x, y, c, alpha);
            }
        return r;
    }

    /// <summary>Panels side by side with <paramref name="gap"/> white pixels between them, tops aligned.</summary>
    public static Raster SideBySide(IReadOnlyList<Raster> panels, int gap = 8)
    {
        var r = new Raster(panels.Sum(p => p.Width) + gap * (panels.Count - 1), panels.Max(p => p.Height));
        var x = 0;
        foreach (var p in panels)
        {
            r.Paste(p, x, 0);
            x += p.Width + gap;
        }
        return r;
    }

    /// <summary>A panel with a caption strip above it.</summary>
    public static Raster Captioned(Raster panel, string caption, int scale = 2)
    {
        var strip = 7 * scale + 8;
        var r = new Raster(panel.Width, panel.Height + strip);
        r.Text(4, 4, caption, (30, 30, 30), scale);
        r.Paste(panel, 0, strip);
        return r;
    }

    /// <summary>A saturated colour for instance <paramref name="id"/> (golden-angle hues, so neighbours differ).</summary>
    public static (byte R, byte G, byte B) Colour(int id)
    {
        var h = id * 137.508 % 360 / 60.0;
        var x = 1 - Math.Abs(h % 2 - 1);
        (double r, double g, double b) = (int)h switch
        {
            0 => (1.0, x, 0.0),
            1 => (x, 1.0, 0.0),
            2 => (0.0, 1.0, x),
            3 => (0.0, x, 1.0),
            4 => (x, 0.0, 1.0),
            _ => (1.0, 0.0, x),
        };
        return ((byte)(40 + 215 * r), (byte)(40 + 215 * g), (byte)(40 + 215 * b));
    }
}
