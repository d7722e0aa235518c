using System.Linq;
using CropCat.Layers;

namespace CropCat.Inference;

/// <summary>
/// The total down-sampling factor of a layer tree: 2^(number of 2x2 max-pools on the deepest path).
/// Tiles of an unpadded net must start at multiples of it, so that each tile's pooling grid is the
/// whole image's pooling grid; a tile shifted by one pixel would pool different 2x2 blocks and
/// predict different values.
/// </summary>
public static class Downsampling
{
    /// <summary>The number of down-steps on the deepest path of <paramref name="root"/> (4 for the paper's net).</summary>
    public static int Depth(Layer root) => Walk(root).Peak;

    /// <summary>2^<see cref="Depth"/>: 16 for the paper's net.</summary>
    public static int Factor(Layer root) => 1 << Depth(root);

    // Net: resolution change in down-steps from input to output; Peak: the deepest level reached inside.
    private static (int Net, int Peak) Walk(Layer layer)
    {
        switch (layer)
        {
            case MaxPoolDown:
                return (1, 1);
            case Up:
                return (-1, 0);
            case Skip s:
                // The merge brings the result back to the skip input's resolution.
                return (0, System.Math.Max(0, Walk(s.Body).Peak));
            default:
                {
                    // Chains (and any other container) run their children in sequence.
                    int running = 0, peak = 0;
                    foreach (var c in layer.Children)
                    {
                        var (net, p) = Walk(c);
                        peak = System.Math.Max(peak, running + p);
                        running += net;
                    }
                    return (running, peak);
                }
        }
    }
}
