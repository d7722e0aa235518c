using System;
using System.Collections.Generic;

namespace CropCat.Data;

/// <summary>Knobs of the synthetic "touching cells" images.</summary>
public sealed record SyntheticCellsOptions
{
    /// <summary>Image height in pixels.</summary>
    public int Height { get; init; } = 188;
    /// <summary>Image width in pixels.</summary>
    public int Width { get; init; } = 188;
    /// <summary>Smallest and largest mean cell radius in pixels.</summary>
    public double MinRadius { get; init; } = 9;
    /// <inheritdoc cref="MinRadius"/>
    public double MaxRadius { get; init; } = 20;
    /// <summary>Fraction of the image the cells should roughly cover.</summary>
    public double Coverage { get; init; } = 0.45;
    /// <summary>Probability that a new cell is placed against an existing one (clusters of touching cells).</summary>
    public double ClusterProbability { get; init; } = 0.7;
    /// <summary>Width of the background line drawn between touching cells: 1 or 2 pixels.</summary>
    public int BorderWidth { get; init; } = 2;
    /// <summary>Standard deviation of the additive pixel noise.</summary>
    public double Noise { get; init; } = 0.04;
}

/// <summary>
/// Seeded synthetic images of touching, clustered cells that stand in for the ISBI cell-tracking data
/// (PhC-U373, DIC-HeLa), which cannot be downloaded here. Each cell is a wobbly ellipse of its own size,
/// orientation and gray level with a textured interior, a bright phase-contrast halo and a darker
/// nucleus; cells are packed into clusters so that many touch. The whole image gets a smooth uneven
/// illumination and pixel noise. Ground truth: instance ids and a 2-class mask in which a thin (1-2 px)
/// background line separates touching cells, the structure the paper's weight map is made for.
/// </summary>
public static class SyntheticCells
{
    private sealed record Cell(double Cx, double Cy, double A, double B, double Angle, double[] Harmonics, double[] Phases, double Gray, double TextureSeed);

    /// <summary>Generates sample number <paramref name="seed"/>; the same seed always gives the same sample.</summary>
    public static Sample Generate(int seed, SyntheticCellsOptions? options = null)
    {
        var o = options ?? new SyntheticCellsOptions();
        if (o.BorderWidth is not (1 or 2)) throw new ArgumentException($"BorderWidth must be 1 or 2, got {o.BorderWidth}");
        var rng = new Random(seed);
        int h = o.Height, w = o.Width;
        var cells = PlaceCells(rng, o);

        // Each pixel belongs to the cell in whose normalised radius it lies deepest: touching cells then
        // meet along a natural curve instead of overlapping.
        var owner = new int[h * w];
        var depth = new double[h * w];
        for (var k = 0; k < cells.Count; k++)
        {
            var c = cells[k];
            var r = Math.Max(c.A, c.B) * 1.3;
            for (var y = Math.Max(0, (int)(c.Cy - r)); y <= Math.Min(h - 1, (int)(c.Cy + r)); y++)
                for (var x = Math.Max(0, (int)(c.Cx - r)); x <= Math.Min(w - 1, (int)(c.Cx + r)); x++)
                {
                    var rho = NormalisedRadius(c, x, y);
                    if (rho >= 1) continue;
                    var i = y * w + x;
                    var d = 1 - rho;
                    if (owner[i] == 0 || d > depth[i]) { owner[i] = k + 1; depth[i] = d; }
                }
        }

        // The background line between touching cells: a pixel is a border pixel when a 4-neighbour
        // belongs to another cell (2 px lines), or only on the higher-id side (1 px lines).
        var instances = (int[])owner.Clone();
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                var a = owner[i];
                if (a == 0) continue;
                if (IsContact(owner, w, h, x, y, a, o.BorderWidth)) instances[i] = 0;
            }
        var classes = new int[h * w];
        for (var i = 0; i < classes.Length; i++) classes[i] = instances[i] > 0 ? 1 : 0;

        var image = Render(rng, o, cells, owner, depth);
        return new Sample($"synthetic {seed}", h, w, image, classes, Relabel(instances));
    }

    /// <summary>
    /// An RGB copy of a gray sample, as if stained: each channel is its own affine tint of the gray
    /// values (red falls where green rises), clamped to [0, 1]; labels are shared.
    /// </summary>
    public static Sample Stained(Sample gray)
    {
        if (gray.Channels != 1) throw new ArgumentException($"sample {gray.Name}: Stained needs a gray sample, got {gray.Channels} channels");
        (float Offset, float Slope)[] tints = [(0.85f, -0.45f), (0.35f, 0.55f), (0.6f, 0.3f)];
        var n = gray.Height * gray.Width;
        var rgb = new float[3 * n];
        for (var c = 0; c < 3; c++)
            for (var i = 0; i < n; i++)
                rgb[c * n + i] = Math.Clamp(tints[c].Offset + tints[c].Slope * gray.Image[i], 0f, 1f);
        return new Sample(gray.Name, gray.Height, gray.Width, rgb, gray.Classes, gray.Instances, gray.Weights, 3);
    }

    private static bool IsContact(int[] owner, int w, int h, int x, int y, int a, int borderWidth)
    {
        Span<(int, int)> n = [(1, 0), (-1, 0), (0, 1), (0, -1)];
        foreach (var (dx, dy) in n)
        {
            int xx = x + dx, yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
            var b = owner[yy * w + xx];
            if (b != 0 && b != a && (borderWidth == 2 || a > b)) return true;
        }
        return false;
    }

    private static List<Cell> PlaceCells(Random rng, SyntheticCellsOptions o)
    {
        var cells = new List<Cell>();
        var target = o.Coverage * o.Height * o.Width;
        double area = 0;
        for (var attempt = 0; attempt < 400 && area < target; attempt++)
        {
            var r = o.MinRadius + (o.MaxRadius - o.MinRadius) * rng.NextDouble();
            var elong = 1 + 0.6 * rng.NextDouble();
            double a = r * Math.Sqrt(elong), b = r / Math.Sqrt(elong);
            double cx, cy;
            if (cells.Count > 0 && rng.NextDouble() < o.ClusterProbability)
            {
                // Against an existing cell: centre at about the sum of the radii, so the two touch.
                var p = cells[rng.Next(cells.Count)];
                var theta = 2 * Math.PI * rng.NextDouble();
                var dist = (Math.Sqrt(p.A * p.B) + r) * (0.8 + 0.15 * rng.NextDouble());
                cx = p.Cx + dist * Math.Cos(theta);
                cy = p.Cy + dist * Math.Sin(theta);
            }
            else
            {
                cx = rng.NextDouble() * o.Width;
                cy = rng.NextDouble() * o.Height;
            }
            if (cx < -r / 2 || cy < -r / 2 || cx > o.Width + r / 2 || cy > o.Height + r / 2) continue;
            // Reject cells that would swallow most of a neighbour: clusters touch, they do not stack.
            var clash = false;
            foreach (var q in cells)
                if (Math.Sqrt((q.Cx - cx) * (q.Cx - cx) + (q.Cy - cy) * (q.Cy - cy)) < 0.75 * (Math.Sqrt(q.A * q.B) + r)) { clash = true; break; }
            if (clash) continue;
            var harm = new double[] { 0, 0, 0.06 * rng.NextDouble(), 0.05 * rng.NextDouble(), 0.03 * rng.NextDouble() };
            var phases = new double[harm.Length];
            for (var k = 0; k < phases.Length; k++) phases[k] = 2 * Math.PI * rng.NextDouble();
            cells.Add(new Cell(cx, cy, a, b, Math.PI * rng.NextDouble(), harm, phases, 0.55 + 0.35 * rng.NextDouble(), rng.NextDouble() * 1000));
            area += Math.PI * a * b;
        }
        return cells;
    }

    /// <summary>Radius of (x, y) relative to the cell's wobbly outline: below 1 inside, 1 on the outline.</summary>
    private static double NormalisedRadius(Cell c, double x, double y)
    {
        double dx = x - c.Cx, dy = y - c.Cy;
        double cos = Math.Cos(c.Angle), sin = Math.Sin(c.Angle);
        double u = (dx * cos + dy * sin) / c.A, v = (-dx * sin + dy * cos) / c.B;
        var rho = Math.Sqrt(u * u + v * v);
        var phi = Math.Atan2(v, u);
        var outline = 1.0;
        for (var k = 2; k < c.Harmonics.Length; k++) outline += c.Harmonics[k] * Math.Sin(k * phi + c.Phases[k]);
        return rho / outline;
    }

    private static float[] Render(Random rng, SyntheticCellsOptions o, List<Cell> cells, int[] owner, double[] depth)
    {
        int h = o.Height, w = o.Width;
        // Smooth illumination: a tilted plane times a broad bump, so brightness varies by ~+-30 % across the field.
        double gx = (rng.NextDouble() - 0.5) * 0.5, gy = (rng.NextDouble() - 0.5) * 0.5;
        double bx = rng.NextDouble() * w, by = rng.NextDouble() * h, bs = 0.6 * Math.Max(w, h);
        var background = 0.62 + 0.08 * (rng.NextDouble() - 0.5);
        var texture = SmoothNoise(rng, h, w, 3);
        // Phase-contrast halos: bright along a cell's outer outline, and fainter along the line where two
        // cells touch, so the net has a weak but real cue for the border (as in PhC-U373 images).
        var (outer, contact) = Outlines(owner, h, w);
        var dOuter = CropCat.Numerics.DistanceTransform.Squared(outer, h, w);
        var dContact = CropCat.Numerics.DistanceTransform.Squared(contact, h, w);
        var img = new float[h * w];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                double v = background;
                var k = owner[i];
                if (k > 0)
                {
                    var c = cells[k - 1];
                    var d = depth[i];
                    // Interior darker than the background, textured, with a darker nucleus near the centre.
                    var body = c.Gray * background - 0.07 * texture[i];
                    var nucleus = d > 0.6 ? 0.12 * Math.Min(1, (d - 0.6) / 0.15) : 0;
                    v = body - nucleus + 0.2 * Math.Exp(-dOuter[i] / 1.5) + 0.1 * Math.Exp(-dContact[i] / 1.0);
                }
                else
                {
                    v += 0.15 * Math.Exp(-dOuter[i] / 3.0);
                }
                var light = (1 + gx * (x / (double)w - 0.5) * 2 + gy * (y / (double)h - 0.5) * 2)
                            * (0.85 + 0.3 * Math.Exp(-((x - bx) * (x - bx) + (y - by) * (y - by)) / (2 * bs * bs)));
                img[i] = (float)(v * light + o.Noise * Gaussian(rng));
            }
        return img;
    }

    /// <summary>Cell pixels next to the background (outer outline) and next to another cell (contact line).</summary>
    private static (bool[] Outer, bool[] Contact) Outlines(int[] owner, int h, int w)
    {
        var outer = new bool[h * w];
        var contact = new bool[h * w];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var a = owner[y * w + x];
                if (a == 0) continue;
                foreach (var (dx, dy) in new[] { (1, 0), (-1, 0), (0, 1), (0, -1) })
                {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    var b = owner[yy * w + xx];
                    if (b == 0) outer[y * w + x] = true;
                    else if (b != a) contact[y * w + x] = true;
                }
            }
        return (outer, contact);
    }

    /// <summary>Gaussian noise blurred by repeated 3x3 box filters, scaled to unit standard deviation.</summary>
    private static double[] SmoothNoise(Random rng, int h, int w, int passes)
    {
        var a = new double[h * w];
        for (var i = 0; i < a.Length; i++) a[i] = Gaussian(rng);
        var b = new double[h * w];
        for (var p = 0; p < passes; p++)
        {
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                {
                    double s = 0; var n = 0;
                    for (var dy = -1; dy <= 1; dy++)
                        for (var dx = -1; dx <= 1; dx++)
                        {
                            int xx = x + dx, yy = y + dy;
                            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                            s += a[yy * w + xx]; n++;
                        }
                    b[y * w + x] = s / n;
                }
            (a, b) = (b, a);
        }
        double m = 0, v = 0;
        foreach (var t in a) m += t;
        m /= a.Length;
        foreach (var t in a) v += (t - m) * (t - m);
        var sd = Math.Sqrt(v / a.Length) + 1e-12;
        for (var i = 0; i < a.Length; i++) a[i] = (a[i] - m) / sd;
        return a;
    }

    /// <summary>Standard normal sample (Box-Muller).</summary>
    internal static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Renumbers instance ids to 1..n in order of first appearance (cells cut away by borders vanish).</summary>
    private static int[] Relabel(int[] ids)
    {
        var map = new Dictionary<int, int>();
        var r = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] == 0) continue;
            if (!map.TryGetValue(ids[i], out var n)) map[ids[i]] = n = map.Count + 1;
            r[i] = n;
        }
        return r;
    }
}
