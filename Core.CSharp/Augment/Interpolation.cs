using System;

namespace CropCat.Augment;

/// <summary>Sampling a row-major image at real-valued positions; positions outside are mirrored back inside.</summary>
public static class Interpolation
{
    /// <summary>Mirrors index <paramref name="i"/> into 0..n-1 (reflect without repeating the edge: -1 -> 1).</summary>
    public static int Mirror(int i, int n) => Numerics.Mirror.Index(i, n);

    /// <summary>Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom), the usual "bicubic".</summary>
    public static double Cubic(double t)
    {
        t = Math.Abs(t);
        if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
        if (t < 2) return ((-0.5 * t + 2.5) * t - 4) * t + 2;
        return 0;
    }

    /// <summary>Bicubic sample of <paramref name="img"/> at (x, y).</summary>
    public static float Bicubic(float[] img, int height, int width, double x, double y) => Bicubic(img, 0, height, width, x, y);

    /// <summary>Bicubic sample at (x, y) of the height x width plane that starts at <paramref name="offset"/> in <paramref name="img"/>.</summary>
    public static float Bicubic(float[] img, int offset, int height, int width, double x, double y)
    {
        int ix = (int)Math.Floor(x), iy = (int)Math.Floor(y);
        double fx = x - ix, fy = y - iy;
        double sum = 0;
        for (var m = -1; m <= 2; m++)
        {
            var wy = Cubic(m - fy);
            if (wy == 0) continue;
            var row = offset + Mirror(iy + m, height) * width;
            double acc = 0;
            for (var k = -1; k <= 2; k++)
                acc += Cubic(k - fx) * img[row + Mirror(ix + k, width)];
            sum += wy * acc;
        }
        return (float)sum;
    }

    /// <summary>Bilinear sample of <paramref name="img"/> at (x, y).</summary>
    public static float Bilinear(float[] img, int height, int width, double x, double y)
    {
        int ix = (int)Math.Floor(x), iy = (int)Math.Floor(y);
        double fx = x - ix, fy = y - iy;
        int x0 = Mirror(ix, width), x1 = Mirror(ix + 1, width), y0 = Mirror(iy, height) * width, y1 = Mirror(iy + 1, height) * width;
        return (float)((1 - fy) * ((1 - fx) * img[y0 + x0] + fx * img[y0 + x1]) + fy * ((1 - fx) * img[y1 + x0] + fx * img[y1 + x1]));
    }

    /// <summary>Nearest-neighbour sample of a label map at (x, y): labels are never blended.</summary>
    public static int Nearest(int[] labels, int height, int width, double x, double y) =>
        labels[Mirror((int)Math.Round(y, MidpointRounding.AwayFromZero), height) * width + Mirror((int)Math.Round(x, MidpointRounding.AwayFromZero), width)];
}
