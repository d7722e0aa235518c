using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CropCat.Imaging;

/// <summary>One line of a chart: a label for the legend, the y value at x = 1, 2, ..., and a colour.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Values">Y values at x = 1..n (NaN values are skipped).</param>
/// <param name="Color">Line colour.</param>
public sealed record Series(string Label, double[] Values, (byte R, byte G, byte B) Color);

/// <summary>Line charts drawn on a <see cref="Raster"/>: axes, tick labels, lines and a legend, no font library needed.</summary>
public static class Plot
{
    private static readonly (byte, byte, byte) Ink = (40, 40, 40);
    private static readonly (byte, byte, byte) Grid = (225, 225, 225);

    /// <summary>A chart of <paramref name="series"/> against x = 1..n with a title and axis labels.</summary>
    public static Raster LineChart(string title, string xLabel, IReadOnlyList<Series> series, int width = 560, int height = 360)
    {
        var r = new Raster(width, height);
        const int left = 64, right = 16, top = 58, bottom = 44;
        int pw = width - left - right, ph = height - top - bottom;
        var all = series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        var n = Math.Max(2, series.Max(s => s.Values.Length));
        double lo = all.Length == 0 ? 0 : all.Min(), hi = all.Length == 0 ? 1 : all.Max();
        if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
        var pad = 0.05 * (hi - lo);
        lo -= pad; hi += pad;
        double X(double i) => left + (i - 1) / (n - 1) * pw;
        double Y(double v) => top + (hi - v) / (hi - lo) * ph;

        r.Text(left, 10, title, Ink, 3);
        // Horizontal grid and y ticks: five levels with labels of as many decimals as the range needs.
        var decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10((hi - lo) / 4)) + 1, 0, 4);
        for (var k = 0; k <= 4; k++)
        {
            var v = lo + (hi - lo) * k / 4;
            var y = (int)Math.Round(Y(v));
            r.Line(left, y, left + pw, y, Grid);
            var label = v.ToString("F" + decimals, CultureInfo.InvariantCulture);
            r.Text(left - 6 - Raster.TextWidth(label, 2), y - 5, label, Ink, 2);
        }
        // X ticks at about six evenly spaced integers.
        var stepX = Math.Max(1, (int)Math.Ceiling((n - 1) / 6.0));
        for (var i = 1; i <= n; i += stepX)
        {
            var x = (int)Math.Round(X(i));
            r.Line(x, top + ph, x, top + ph + 4, Ink);
            var label = i.ToString(CultureInfo.InvariantCulture);
            r.Text(x - Raster.TextWidth(label, 2) / 2, top + ph + 8, label, Ink, 2);
        }
        r.Text(left + pw / 2 - Raster.TextWidth(xLabel, 2) / 2, height - 14, xLabel, Ink, 2);
        r.Line(left, top, left, top + ph, Ink, 2);
        r.Line(left, top + ph, left + pw, top + ph, Ink, 2);

        foreach (var s in series)
        {
            for (var i = 1; i < s.Values.Length; i++)
                if (double.IsFinite(s.Values[i - 1]) && double.IsFinite(s.Values[i]))
                    r.Line(X(i), Y(s.Values[i - 1]), X(i + 1), Y(s.Values[i]), s.Color, 3);
            if (s.Values.Length == 1 && double.IsFinite(s.Values[0]))
                r.FillRect((int)X(1) - 3, (int)Y(s.Values[0]) - 3, 7, 7, s.Color);
        }
        // Legend in one row between the title and the plot, right-aligned, so it never hides a line.
        var lx = left + pw - series.Sum(s => Raster.TextWidth(s.Label, 2) + 40);
        foreach (var s in series)
        {
            r.FillRect(lx, 38, 20, 5, s.Color);
            r.Text(lx + 26, 35, s.Label, Ink, 2);
            lx += Raster.TextWidth(s.Label, 2) + 40;
        }
        return r;
    }

    /// <summary>Canvases side by side with <paramref name="gap"/> white pixels between them, tops aligned.</summary>
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
}
