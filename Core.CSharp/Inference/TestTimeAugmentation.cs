using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>Which transforms test-time augmentation averages over.</summary>
public enum TtaMode
{
    /// <summary>The image as it is.</summary>
    None,
    /// <summary>Every combination of flips along the spatial axes: 4 in 2-D, 8 in 3-D.</summary>
    Flips,
    /// <summary>The 8 symmetries of the square (flips and quarter turns), 2-D only.</summary>
    D4,
}

/// <summary>
/// Test-time augmentation: the probabilities of every transformed copy of the image (flips, quarter turns),
/// transformed back and averaged. Each copy is predicted by <see cref="OverlapTile"/> with its own plan (a quarter
/// turn swaps height and width), so each copy's tiled result is still exactly its whole-image pass, and so is
/// their average; Gaussian blending of padded nets applies per copy.
/// </summary>
public static class TestTimeAugmentation
{
    /// <summary>A transform: the spatial axes flipped (in the (C, spatial...) tensor's numbering) and the quarter turns in the last two axes.</summary>
    public readonly record struct Symmetry(long[] Flips, int Turns)
    {
        /// <summary>Applies the transform to a (C, spatial...) tensor.</summary>
        public Tensor Apply(Tensor x)
        {
            var y = Flips.Length == 0 ? x.alias() : x.flip(Flips);
            if (Turns == 0) return y;
            var d = x.dim();
            using (y) return y.rot90(Turns, (d - 2, d - 1));
        }

        /// <summary>Undoes <see cref="Apply"/>.</summary>
        public Tensor Invert(Tensor y)
        {
            var d = y.dim();
            var x = Turns == 0 ? y.alias() : y.rot90(-Turns, (d - 2, d - 1));
            if (Flips.Length == 0) return x;
            using (x) return x.flip(Flips);
        }
    }

    /// <summary>The transforms of <paramref name="mode"/> for a net of <paramref name="dims"/> spatial axes.</summary>
    /// <exception cref="ArgumentException">D4 on a 3-D net.</exception>
    public static IReadOnlyList<Symmetry> Transforms(TtaMode mode, int dims)
    {
        if (mode == TtaMode.D4 && dims != 2) throw new ArgumentException($"TTA d4 (quarter turns) is 2-D only; a {dims}-D net takes --tta flips");
        var axes = Enumerable.Range(1, dims).Select(a => (long)a).ToArray();
        return mode switch
        {
            TtaMode.None => [new Symmetry([], 0)],
            TtaMode.Flips => Subsets(axes).Select(f => new Symmetry(f, 0)).ToList(),
            // The dihedral group of the square: each quarter turn, with and without a flip of the width axis.
            TtaMode.D4 => Enumerable.Range(0, 4).SelectMany(t => new[] { new Symmetry([], t), new Symmetry([2], t) }).ToList(),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown TTA mode"),
        };
    }

    private static IEnumerable<long[]> Subsets(long[] axes) =>
        Enumerable.Range(0, 1 << axes.Length).Select(m => axes.Where((_, i) => (m >> i & 1) == 1).ToArray());

    /// <summary>
    /// The averaged probabilities (C, spatial...) of <paramref name="image"/> (C, spatial...) over the transforms of
    /// <paramref name="mode"/>, each predicted by <paramref name="tiler"/> (whose options should ask for probabilities).
    /// </summary>
    public static Tensor Predict(OverlapTile tiler, Tensor image, TtaMode mode)
    {
        var transforms = Transforms(mode, tiler.Network.Dims);
        Tensor? sum = null;
        foreach (var t in transforms)
        {
            using var scope = NewDisposeScope();
            var x = t.Apply(image).contiguous();
            var p = tiler.Predict(x);
            var back = t.Invert(p).contiguous();
            if (sum is null) sum = back.MoveToOuterDisposeScope();
            else sum.add_(back);
        }
        return sum!.div_(transforms.Count);
    }
}
