using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;

namespace CropCat.Interop;

/// <summary>
/// Refuses a net that would compute another function than segmentation_models_pytorch's U-Net with the same
/// key names and shapes: smp concatenates [up, skip] (<see cref="BodyFirstSkipSpec"/>) after nearest x2
/// up-sampling (<see cref="NearestUpSpec"/>); a CropCat skip concatenates [skip, up] and the other up-steps
/// interpolate differently or carry weights. Widths and block counts need no check here: they show in the shapes.
/// </summary>
internal static class SmpFunction
{

    /// <exception cref="StateDictMismatchException">The first layer of <paramref name="spec"/> that differs from smp's decoder.</exception>
    public static void Check(NetSpec spec, string sourceName)
    {
        foreach (var n in spec.Named.Descendants())
        {
            string? why = n.Spec switch
            {
                SkipSpec s => $"merges by {s.Kind(spec.Dims)} with the skip feature first, but smp's decoder concatenates [up-sampled, skip] (a \"bodyFirstSkip\" layer)",
                UpSpec u => $"up-samples by {u.Kind(spec.Dims)}, but smp's decoder up-samples by nearest x2 without parameters (a \"nearestUp\" layer)",
                _ => null,
            };
            if (why is not null)
                throw new StateDictMismatchException(
                    $"{sourceName}: segmentation_models_pytorch's U-Net weights into a net that computes another function: {n.Path} {why}. " +
                    "Build the net as smp's (cropcat import --pytorch does, or ResNetUNets.Describe)", [], [], []);
        }
    }
}
