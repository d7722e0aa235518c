using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Nets;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>
/// Reads PyTorch weights (a .pt/.pth state dict or a .safetensors file) into a CropCat network.
/// Prefer .safetensors: it holds only tensors, while a .pt file is a pickle, read here through a
/// restricted interpreter that refuses anything but a plain state dict.
/// </summary>
public static class PyTorchWeights
{
    /// <summary>Reads every tensor of <paramref name="path"/> on the CPU: .pt/.pth/.bin through <see cref="TorchCheckpoint"/>, .safetensors otherwise.</summary>
    public static Dictionary<string, Tensor> Read(string path) => ReadStateDict(path).Tensors;

    /// <summary>
    /// Reads the tensors of <paramref name="path"/> on the CPU and, for a .pt file, the entries that are
    /// not tensors (a safetensors file has none).
    /// </summary>
    public static TorchStateDict ReadStateDict(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".pt" or ".pth" or ".bin" or ".ckpt" => TorchCheckpoint.ReadStateDict(path),
            ".safetensors" => new TorchStateDict(ReadSafetensors(path), new Dictionary<string, object?>()),
            _ => throw new ArgumentException($"{path}: unknown weight file type '{ext}' (expected .safetensors, .pt or .pth)"),
        };
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="net"/> (see <see cref="StateDictLoader.LoadInto"/>).
    /// Entries that are not tensors (milesial's <c>mask_values</c>) are skipped and returned in the
    /// report, which also names the layout used and the conv biases folded into batch norm.
    /// </summary>
    /// <exception cref="StateDictMismatchException">The tensors do not fit the net; the message also lists the skipped entries.</exception>
    public static LoadReport LoadInto(Network net, string path, StateDictLayout layout = StateDictLayout.Auto)
    {
        var sd = ReadStateDict(path);
        try
        {
            return StateDictLoader.LoadInto(net, sd.Tensors, layout, path) with { Skipped = sd.Skipped };
        }
        catch (StateDictMismatchException e) when (sd.Skipped.Count > 0)
        {
            // A skipped entry may be why tensors are missing (say, a training checkpoint {'model': state_dict, ...}).
            var skipped = string.Join(", ", sd.Skipped.Select(kv => $"{kv.Key} = {PickleValues.Describe(kv.Value)}"));
            throw new StateDictMismatchException($"{e.Message}\n  skipped (not tensors): {skipped}", e.Missing, e.Unexpected, e.MisShaped);
        }
        finally
        {
            foreach (var t in sd.Tensors.Values) t.Dispose();
        }
    }

    private static Dictionary<string, Tensor> ReadSafetensors(string path) => CropCat.IO.Safetensors.Read(path).Tensors;

    /// <summary>
    /// Writes the weights of <paramref name="net"/> named as in <paramref name="layout"/> to a
    /// safetensors file, for <c>model.load_state_dict(safetensors.torch.load_file(path))</c> in the
    /// PyTorch code of that layout (metadata: format "pt", cropcat.layout).
    /// </summary>
    public static void ExportSafetensors(Network net, string path, StateDictLayout layout = StateDictLayout.CropCat)
    {
        var tensors = StateDictLoader.Export(net, layout);
        try
        {
            var metadata = new Dictionary<string, string> { ["format"] = "pt", ["cropcat.layout"] = layout.ToString() };
            CropCat.IO.Safetensors.Write(path, tensors, metadata);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
