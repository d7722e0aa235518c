using System;

namespace CropCat.Data;

/// <summary>Connected-component labelling of foreground pixels.</summary>
public static class Components
{
    /// <summary>
    /// Labels the 4-connected components of the pixels where <paramref name="foreground"/> is true with ids
    /// 1..n (0 = background), in raster order of their first pixel. 4-connectivity keeps two cells apart
    /// when a 1-pixel diagonal background line separates them.
    /// </summary>
    public static int[] Label(bool[] foreground, int height, int width)
    {
        if (foreground.Length != height * width) throw new ArgumentException($"expected {height * width} pixels, got {foreground.Length}");
        var ids = new int[foreground.Length];
        var stack = new int[foreground.Length];
        var next = 0;
        for (var start = 0; start < ids.Length; start++)
        {
            if (!foreground[start] || ids[start] != 0) continue;
            next++;
            var top = 0;
            stack[top++] = start;
            ids[start] = next;
            while (top > 0)
            {
                var i = stack[--top];
                int x = i % width, y = i / width;
                if (x > 0) Visit(i - 1);
                if (x < width - 1) Visit(i + 1);
                if (y > 0) Visit(i - width);
                if (y < height - 1) Visit(i + width);
            }

            void Visit(int j)
            {
                if (!foreground[j] || ids[j] != 0) return;
                ids[j] = next;
                stack[top++] = j;
            }
        }
        return ids;
    }

    /// <summary>Components of the pixels whose class is not 0 (background).</summary>
    public static int[] OfClasses(int[] classes, int height, int width) =>
        Label(Array.ConvertAll(classes, c => c != 0), height, width);
}
