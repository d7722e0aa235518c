using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Nets;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>What <see cref="EncoderWeights.LoadInto(Network, IReadOnlyDictionary{string, Tensor}, string)"/> did.</summary>
/// <param name="Loaded">Tensors copied into the encoder (parameters and batch-norm buffers).</param>
/// <param name="Ignored">Source keys left out on purpose: torchvision's classifier ("fc.weight", "fc.bias").</param>
public sealed record EncoderLoadReport(int Loaded, IReadOnlyList<string> Ignored)
{
    /// <summary>
    /// How the first convolution's RGB weights were adapted to a net of other than 3 input channels
    /// (e.g. "conv1.weight: RGB [64, 3, 7, 7] summed over R, G, B into [64, 1, 7, 7]"), or null when they were loaded as they are.
    /// </summary>
    public string? AdaptedFirstConv { get; init; }
}

/// <summary>
/// Loads a torchvision ResNet state dict (ImageNet weights: "conv1.weight", "layer1.0.bn1.running_mean",
/// ...) into the encoder of a CropCat ResNet U-Net, whose encoder keys are torchvision's under "encoder."
/// (segmentation_models_pytorch's naming). The classifier "fc.*" has no place in a segmentation net and is
/// ignored (reported); the decoder and head keep their weights. A net of other than 3 input channels gets the
/// RGB stem adapted as segmentation_models_pytorch adapts it for <c>in_channels</c>: one channel (gray) takes the
/// sum of the R, G and B weights, which computes on a gray image what the RGB weights compute on R = G = B = gray;
/// N channels take channel c's weights from RGB channel c mod 3, scaled by 3 / N (reported in
/// <see cref="EncoderLoadReport.AdaptedFirstConv"/>). Every encoder tensor must be provided
/// exactly once with its shape, or nothing is loaded and one <see cref="StateDictMismatchException"/>
/// lists every missing, unexpected and mis-shaped key.
/// </summary>
public static class EncoderWeights
{
    /// <summary>The prefix of the encoder's keys in the net.</summary>
    public const string Prefix = Architecture.ResNetUNets.EncoderPrefix;

    /// <summary>Loads <paramref name="torchvision"/> into the encoder of <paramref name="net"/>; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="StateDictMismatchException">The net has no encoder, or the tensors do not fit it.</exception>
    public static EncoderLoadReport LoadInto(Network net, IReadOnlyDictionary<string, Tensor> torchvision, string sourceName = "state dict")
    {
        var target = net.state_dict().Where(kv => kv.Key.StartsWith(Prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        if (target.Count == 0)
            throw new StateDictMismatchException($"{sourceName}: the net has no pretrained-encoder layers (keys \"{Prefix}*\"); build it with a ResNet encoder", [], [], []);
        var ignored = new List<string>();
        var unexpected = new List<string>();
        var misShaped = new List<string>();
        var plan = new List<(Tensor Dest, Tensor Src)>();
        string? adapted = null;
        using var scope = NewDisposeScope();
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, src) in torchvision.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (key.StartsWith("fc.", StringComparison.Ordinal))
            {
                ignored.Add(key);
                continue;
            }
            var name = Prefix + key;
            if (!target.TryGetValue(name, out var dest) || !covered.Add(name))
            {
                unexpected.Add(key);
                continue;
            }
            if (key == FirstConv && AdaptsRgb(src, dest))
            {
                plan.Add((dest, AdaptRgb(src, (int)dest.shape[1])));
                adapted = $"{key}: RGB [{string.Join(", ", src.shape)}] " + (dest.shape[1] == 1
                    ? $"summed over R, G, B into [{string.Join(", ", dest.shape)}]"
                    : $"repeated over {dest.shape[1]} channels (channel c from RGB channel c mod 3) and scaled by 3/{dest.shape[1]} into [{string.Join(", ", dest.shape)}]");
            }
            else if (!src.shape.SequenceEqual(dest.shape)) misShaped.Add($"{key} -> {name}: [{string.Join(", ", src.shape)}] vs net [{string.Join(", ", dest.shape)}]");
            else plan.Add((dest, src));
        }
        var missing = target.Keys.Where(k => !covered.Contains(k)).Select(k => k[Prefix.Length..]).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            static string List(string what, List<string> keys) =>
                keys.Count == 0 ? "" : $"\n  {what} ({keys.Count}): {string.Join(", ", keys.Take(8))}{(keys.Count > 8 ? $", ... {keys.Count - 8} more" : "")}";
            throw new StateDictMismatchException(
                $"{sourceName}: does not fit the net's encoder as a torchvision ResNet state dict " +
                "(keys like conv1.weight, layer1.0.bn1.running_mean; a ResNet-18/34 state dict fits only a ResNet-18/34 encoder of the same depth)" +
                List("missing", missing) + List("unexpected", unexpected) + List("mis-shaped", misShaped),
                missing, unexpected, misShaped);
        }
        using (no_grad())
            foreach (var (dest, src) in plan) dest.copy_(src);
        return new EncoderLoadReport(plan.Count, ignored) { AdaptedFirstConv = adapted };
    }

    /// <summary>torchvision's stem convolution, the one tensor whose input channels follow the image's.</summary>
    private const string FirstConv = "conv1.weight";

    /// <summary>An RGB stem [out, 3, k, k] for a net stem [out, c, k, k] with c other than 3.</summary>
    private static bool AdaptsRgb(Tensor src, Tensor dest) =>
        src.dim() == 4 && dest.dim() == 4 && src.shape[1] == 3 && dest.shape[1] != 3 &&
        src.shape[0] == dest.shape[0] && src.shape[2] == dest.shape[2] && src.shape[3] == dest.shape[3];

    /// <summary>smp's rule for in_channels: the sum over RGB for one channel, else RGB channel c mod 3 scaled by 3 / channels.</summary>
    private static Tensor AdaptRgb(Tensor rgb, int channels)
    {
        if (channels == 1) return rgb.sum(1, keepdim: true);
        var index = tensor(Enumerable.Range(0, channels).Select(c => (long)(c % 3)).ToArray(), device: rgb.device);
        return rgb.index_select(1, index).mul(3.0 / channels);
    }

    /// <summary>Loads the torchvision state dict in <paramref name="path"/> (.pth through the restricted unpickler, or .safetensors) into the encoder of <paramref name="net"/>.</summary>
    public static EncoderLoadReport LoadInto(Network net, string path)
    {
        var sd = PyTorchWeights.ReadStateDict(path);
        try
        {
            return LoadInto(net, sd.Tensors, path);
        }
        finally
        {
            foreach (var t in sd.Tensors.Values) t.Dispose();
        }
    }
}
