using CropCat.Shapes;

namespace CropCat.Training;

/// <summary>
/// Centre crops of row-major arrays by the core's crop rule (<see cref="ShapeRules.CropOffset"/>): an unpadded
/// net predicts the centre of its input, so labels and weights are cropped exactly like the skip features.
/// </summary>
public static class Crops
{
    /// <summary>The centre <paramref name="th"/> x <paramref name="tw"/> part of a <paramref name="h"/> x <paramref name="w"/> array.</summary>
    public static T[] Center<T>(T[] a, int h, int w, int th, int tw)
    {
        ShapeRules.CenterCrop(new Shape(1, h, w), th, tw).OrThrow("label crop");
        int oy = ShapeRules.CropOffset(h, th), ox = ShapeRules.CropOffset(w, tw);
        var r = new T[th * tw];
        for (var y = 0; y < th; y++)
            System.Array.Copy(a, (y + oy) * w + ox, r, y * tw, tw);
        return r;
    }
}
