using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>
/// A convolution bias b directly followed by batch norm is redundant: in eval mode
/// BN(conv(x) + b) = gamma (conv(x) - (mu - b)) / sqrt(var + eps) + beta, so it equals no bias with
/// running_mean mu - b; in train mode the batch mean absorbs b and the running-mean update keeps the
/// difference b. CropCat's batch-norm blocks have no conv bias, so old checkpoints that carry one
/// (milesial's code before "delete convolution bias before BN") are loaded through this fold.
/// </summary>
public static class BiasFold
{
    /// <summary>
    /// The running-mean key of the batch norm right after the convolution whose bias is
    /// <paramref name="cropCatBiasKey"/> ("enc1.conv1.bias" -> "enc1.bn1.running_mean"), when the net has
    /// that convolution (without a bias) and that batch norm; null otherwise.
    /// </summary>
    public static string? RunningMeanFor(string cropCatBiasKey, IEnumerable<string> netKeys)
    {
        var m = Regex.Match(cropCatBiasKey, @"^(.+)\.conv([12])\.bias$");
        if (!m.Success) return null;
        var keys = netKeys as ICollection<string> ?? netKeys.ToList();
        var scope = m.Groups[1].Value;
        var n = m.Groups[2].Value;
        var mean = $"{scope}.bn{n}.running_mean";
        return keys.Contains($"{scope}.conv{n}.weight") && !keys.Contains(cropCatBiasKey) && keys.Contains(mean) ? mean : null;
    }

    /// <summary>running_mean - bias, computed in float64 and returned in the running mean's dtype.</summary>
    public static Tensor Fold(Tensor runningMean, Tensor bias)
    {
        if (!runningMean.shape.SequenceEqual(bias.shape))
            throw new ArgumentException($"bias fold: bias [{string.Join(", ", bias.shape)}] does not match running mean [{string.Join(", ", runningMean.shape)}]");
        using var m = runningMean.to_type(ScalarType.Float64);
        using var b = bias.to(ScalarType.Float64, runningMean.device);
        using var d = m - b;
        return d.to_type(runningMean.dtype);
    }
}
