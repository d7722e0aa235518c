using CropCat.Architecture;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using CropCat.Nets;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>A state dict does not fit a network; the message lists every missing, unexpected and mis-shaped key.</summary>
public sealed class StateDictMismatchException : Exception
{
    /// <summary>Creates the error.</summary>
    public StateDictMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> misShaped)
        : base(message)
    {
        Missing = missing;
        Unexpected = unexpected;
        MisShaped = misShaped;
    }

    /// <summary>CropCat keys the state dict does not provide.</summary>
    public IReadOnlyList<string> Missing { get; }
    /// <summary>Source keys with no place in the network.</summary>
    public IReadOnlyList<string> Unexpected { get; }
    /// <summary>"source -> target: [shape] vs [shape]" for keys whose shapes differ.</summary>
    public IReadOnlyList<string> MisShaped { get; }
}

/// <summary>Copies a (PyTorch) state dict into a CropCat network through a <see cref="StateDictLayout"/>.</summary>
public static class StateDictLoader
{
    /// <summary>
    /// Refuses a net that would compute another function than the code that wrote weights of
    /// <paramref name="layout"/>: matching key names and shapes is not enough. The reading group's blocks end with
    /// the bare second convolution (<c>conv2(relu(conv1(x)))</c>), so their weights need blocks without the final
    /// ReLU (<see cref="UNetOptions.ReadingGroup"/>); with it, the measured output differed by 22% of its range.
    /// </summary>
    /// <exception cref="StateDictMismatchException">The net's blocks differ from the layout's code.</exception>
    public static void CheckFunction(Network net, StateDictLayout layout, string sourceName)
    {
        if (layout == StateDictLayout.Smp) SmpFunction.Check(net.Spec, sourceName);
        if (layout is not (StateDictLayout.CropCat or StateDictLayout.Auto))
        {
            // Every PyTorch code CropCat reads by its key names uses ReLU: a block with another activation has the
            // same keys and shapes and computes another function.
            var other = Blocks(net).Where(n => ((BlockSpec)n.Spec).Activation != Layers.BlockActivation.ReLU).ToList();
            if (other.Count > 0)
                throw new StateDictMismatchException(
                    $"{sourceName}: the {layout} layout's code uses ReLU after its convolutions, but this net's blocks use " +
                    $"{((BlockSpec)other[0].Spec).Activation} ({string.Join(", ", other.Take(3).Select(n => n.Path))}" +
                    (other.Count > 3 ? $" and {other.Count - 3} more" : "") + "): it would compute another function. Build the net with ReLU blocks",
                    [], [], []);
        }
        if (layout != StateDictLayout.ReadingGroup) return;
        var withRelu = Blocks(net).Where(n => ((BlockSpec)n.Spec).FinalRelu).Select(n => n.Path).ToList();
        if (withRelu.Count == 0) return;
        throw new StateDictMismatchException(
            $"{sourceName}: the reading group's U-Net (encoder.enc_blocks / decoder.dec_blocks) computes " +
            $"conv2(relu(conv1(x))) in every block, with no ReLU after the second convolution, but this net's blocks end with a ReLU ({string.Join(", ", withRelu.Take(3))}" +
            (withRelu.Count > 3 ? $" and {withRelu.Count - 3} more" : "") +
            "): it would compute another function. Build the net with UNetOptions.ReadingGroup(widths) (JSON: \"finalRelu\": false on every block)",
            [], [], []);
    }

    private static IEnumerable<Named> Blocks(Network net) => net.Spec.Named.Descendants().Where(n => n.Spec is BlockSpec);

    /// <summary>
    /// Loads <paramref name="source"/> into <paramref name="net"/>: every parameter and buffer of the
    /// net must be provided exactly once with its shape, and every source key must have a place;
    /// otherwise nothing is changed and one <see cref="StateDictMismatchException"/> lists all problems.
    /// A convolution bias the net does not have is accepted when batch norm follows that convolution
    /// (old milesial checkpoints): it is folded into the batch norm's running mean, which computes the
    /// same function (see <see cref="BiasFold"/>). Values are converted to the net's dtype and device.
    /// </summary>
    /// <param name="net">The network to fill.</param>
    /// <param name="source">Tensors by name (from <see cref="TorchCheckpoint.Read"/> or a safetensors file).</param>
    /// <param name="layout">The naming of <paramref name="source"/>; Auto recognises it.</param>
    /// <param name="sourceName">Names the source in errors (the file name).</param>
    /// <returns>The layout used and the biases folded.</returns>
    public static LoadReport LoadInto(Network net, IReadOnlyDictionary<string, Tensor> source,
        StateDictLayout layout = StateDictLayout.Auto, string sourceName = "state dict")
    {
        if (layout == StateDictLayout.Auto) layout = StateDictLayouts.Detect(source.Keys);
        CheckFunction(net, layout, sourceName);
        var target = net.state_dict();
        var depth = net.Spec.Depth;
        var missing = new List<string>();
        var unexpected = new List<string>();
        var misShaped = new List<string>();
        var plan = new Dictionary<string, (Tensor Dest, Tensor Src, bool Swap)>(StringComparer.Ordinal);
        var folds = new List<(string Key, Tensor Bias, string RunningMean)>();
        var covered = new HashSet<string>();
        foreach (var (key, src) in source.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var map = StateDictLayouts.ToCropCat(key, layout, depth);
            if (map is not null && !target.ContainsKey(map.Target) && BiasFold.RunningMeanFor(map.Target, target.Keys) is { } mean)
            {
                if (!covered.Add(map.Target)) unexpected.Add($"{key} (second source for {map.Target})");
                else if (src.dim() != 1 || src.shape[0] != target[mean].shape[0])
                    misShaped.Add($"{key} -> folded into {mean}: [{string.Join(", ", src.shape)}] vs net [{string.Join(", ", target[mean].shape)}]");
                else folds.Add((key, src, mean));
                continue;
            }
            if (map is null || !target.TryGetValue(map.Target, out var dest) || !covered.Add(map.Target))
            {
                unexpected.Add(map is null || !target.ContainsKey(map.Target) ? key : $"{key} (second source for {map.Target})");
                continue;
            }
            var shapeOk = src.shape.SequenceEqual(dest.shape) && (!map.SwapInputHalves || src.shape[1] % 2 == 0);
            if (!shapeOk)
            {
                misShaped.Add($"{key} -> {map.Target}: [{string.Join(", ", src.shape)}] vs net [{string.Join(", ", dest.shape)}]");
                continue;
            }
            plan[map.Target] = (dest, src, map.SwapInputHalves);
        }
        missing.AddRange(target.Keys.Where(k => !covered.Contains(k)).OrderBy(k => k, StringComparer.Ordinal));
        // A mis-shaped key was covered by its source, so it is not also reported as missing.
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
            throw new StateDictMismatchException(Describe(sourceName, layout, missing, unexpected, misShaped), missing, unexpected, misShaped);

        using var _ = no_grad();
        var folded = new List<Tensor>();
        try
        {
            foreach (var (_, bias, mean) in folds)
            {
                var (dest, src, swap) = plan[mean];
                var f = BiasFold.Fold(src, bias);
                folded.Add(f);
                plan[mean] = (dest, f, swap);
            }
            foreach (var (dest, src, swap) in plan.Values)
            {
                if (swap)
                {
                    using var swapped = SwapInputHalves(src);
                    dest.copy_(swapped);
                }
                else dest.copy_(src);
            }
        }
        finally
        {
            foreach (var f in folded) f.Dispose();
        }
        return new LoadReport(layout) { FoldedBiases = folds.Select(f => f.Key).ToList() };
    }

    /// <summary>
    /// The weights of <paramref name="net"/> named as in <paramref name="layout"/> (decoder conv1 inputs
    /// swapped back for the reading group's [up, skip] order): new CPU tensors the caller owns, ready for
    /// a safetensors file that the PyTorch code of that layout loads with load_state_dict.
    /// </summary>
    public static Dictionary<string, Tensor> Export(Network net, StateDictLayout layout = StateDictLayout.CropCat)
    {
        // The same check as loading: the layout's code must compute what this net computes.
        CheckFunction(net, layout, $"an export to the {layout} layout");
        var source = net.state_dict();
        var depth = net.Spec.Depth;
        var result = new Dictionary<string, Tensor>();
        using var _ = no_grad();
        foreach (var (key, t) in source)
        {
            var map = StateDictLayouts.FromCropCat(key, layout, depth);
            if (map is null)
                throw new ArgumentException($"CropCat parameter '{key}' has no counterpart in the {layout} layout (does the net match that layout?)");
            using var detached = t.detach();
            using var cpu = detached.cpu();
            result[map.Target] = map.SwapInputHalves ? SwapInputHalves(cpu) : cpu.contiguous().clone();
        }
        return result;
    }

    /// <summary>Swaps the two halves of dimension 1 of a conv weight: [up, skip] to [skip, up] and back.</summary>
    public static Tensor SwapInputHalves(Tensor w)
    {
        var half = w.shape[1] / 2;
        using var a = w.narrow(1, 0, half);
        using var b = w.narrow(1, half, w.shape[1] - half);
        return cat([b, a], 1);
    }

    private static string Describe(string source, StateDictLayout layout, List<string> missing, List<string> unexpected, List<string> misShaped)
    {
        const int Shown = 12;
        var sb = new StringBuilder($"{source} does not fit the network (layout {layout}): ");
        sb.Append($"{missing.Count} missing, {unexpected.Count} unexpected, {misShaped.Count} mis-shaped key(s).");
        void List(string title, List<string> xs)
        {
            if (xs.Count == 0) return;
            sb.Append($"\n  {title}: {string.Join(", ", xs.Take(Shown))}");
            if (xs.Count > Shown) sb.Append($" … and {xs.Count - Shown} more");
        }
        List("missing", missing);
        List("unexpected", unexpected);
        List("mis-shaped", misShaped);
        return sb.ToString();
    }
}
