using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Nets;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>What <see cref="EncoderWeights.LoadInto(Network, IReadOnlyDictionary{string, Tensor}, string)"/> did.</summary>
/// <param name="Loaded">Tensors copied into the encoder (parameters and batch-norm buffers).</param>
/// <param name="Ignored">Source keys left out on purpose: torchvision's classifier ("fc.weight", "fc.bias").</param>
public sealed record EncoderLoadReport(int Loaded, IReadOnlyList<string> Ignored);

/// <summary>
/// Loads a torchvision ResNet state dict (ImageNet weights: "conv1.weight", "layer1.0.bn1.running_mean",
/// ...) into the encoder of a CropCat ResNet U-Net, whose encoder keys are torchvision's under "encoder."
/// (segmentation_models_pytorch's naming). The classifier "fc.*" has no place in a segmentation net and is
/// ignored (reported); the decoder and head keep their weights. Every encoder tensor must be provided
/// exactly once with its shape, or nothing is loaded and one <see cref="StateDictMismatchException"/>
/// lists every missing, unexpected and mis-shaped key.
/// </summary>
public static class EncoderWeights
{
    /// <summary>The prefix of the encoder's keys in the net.</summary>
    public const string Prefix = "encoder.";

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
            if (!src.shape.SequenceEqual(dest.shape)) misShaped.Add($"{key} -> {name}: [{string.Join(", ", src.shape)}] vs net [{string.Join(", ", dest.shape)}]");
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
        return new EncoderLoadReport(plan.Count, ignored);
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
