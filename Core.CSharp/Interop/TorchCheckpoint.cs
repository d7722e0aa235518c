using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using CropCat.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Interop;

/// <summary>
/// Reads a PyTorch state dict saved with <c>torch.save(model.state_dict(), path)</c> (the zip format
/// of PyTorch 1.6 and later: <c>&lt;name&gt;/data.pkl</c> plus one raw little-endian storage per
/// <c>&lt;name&gt;/data/&lt;key&gt;</c>). The pickle goes through <see cref="RestrictedUnpickler"/>, so a
/// file that holds anything but tensors in (ordered) dicts is refused, never executed.
/// </summary>
public static class TorchCheckpoint
{
    /// <summary>
    /// Reads every tensor of the state dict in <paramref name="path"/>, keyed by its dotted name, on the
    /// CPU; entries that are not tensors are left out (<see cref="ReadStateDict"/> returns them too).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="PickleRefusedException">Not a zip-format state dict, a refused pickle, or a damaged file.</exception>
    public static Dictionary<string, Tensor> Read(string path) => ReadStateDict(path).Tensors;

    /// <summary>
    /// Reads the state dict in <paramref name="path"/>: its tensors (on the CPU) and, apart, the entries
    /// that are not tensors, such as the <c>mask_values</c> list milesial's train.py adds to the state dict.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="PickleRefusedException">Not a zip-format state dict, a refused pickle, or a damaged file.</exception>
    public static TorchStateDict ReadStateDict(string path)
    {
        NativeRuntime.EnsureLoaded();
        if (!File.Exists(path)) throw new FileNotFoundException($"PyTorch state dict '{path}' not found", path);
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException)
        {
            throw new PickleRefusedException(NotZip(path));
        }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
                ?? throw new PickleRefusedException($"{path}: the zip has no data.pkl, so it is not a torch.save file");
            var prefix = pkl.FullName[..^"data.pkl".Length];
            var byteOrder = zip.GetEntry(prefix + "byteorder");
            if (byteOrder is not null && ReadAll(byteOrder).AsSpan().SequenceEqual("big"u8))
                throw new PickleRefusedException($"{path}: big-endian storages are not supported");
            var root = RestrictedUnpickler.Load(ReadAll(pkl), path);
            if (root is not PickleDict dict)
                throw new PickleRefusedException($"{path}: the pickle holds a {root?.GetType().Name ?? "None"}, not a state dict (save model.state_dict(), not the model)");
            var storages = new Dictionary<string, Tensor>();
            var result = new Dictionary<string, Tensor>();
            var skipped = new Dictionary<string, object?>();
            try
            {
                foreach (var (k, v) in dict.Items)
                {
                    if (k is not string key) throw new PickleRefusedException($"{path}: a state-dict key is not a string");
                    if (v is not TensorRef t)
                    {
                        // Plain data beside the weights (milesial's mask_values): kept for the caller, not loaded.
                        skipped[key] = v;
                        continue;
                    }
                    if (!storages.TryGetValue(t.Storage.Key, out var flat))
                    {
                        var entry = zip.GetEntry($"{prefix}data/{t.Storage.Key}")
                            ?? throw new PickleRefusedException($"{path}: storage data/{t.Storage.Key} of '{key}' is missing from the zip");
                        flat = Storage(ReadAll(entry), t.Storage, path, key);
                        storages[t.Storage.Key] = flat;
                    }
                    if (t.Storage.Numel > 0 && t.Offset + Extent(t) > flat.shape[0])
                        throw new PickleRefusedException($"{path}: tensor '{key}' reaches past the end of its storage");
                    using var view = flat.as_strided(t.Size, t.Stride, t.Offset);
                    result[key] = view.clone();
                }
            }
            catch
            {
                foreach (var r in result.Values) r.Dispose();
                throw;
            }
            finally
            {
                foreach (var s in storages.Values) s.Dispose();
            }
            return new TorchStateDict(result, skipped);
        }
    }

    // torch.save's format before PyTorch 1.6: pickle protocol 2 (0x80 0x02), then LONG1 of 10 bytes
    // (0x8a 0x0a) holding the magic number 0x1950a86a20f9469cfc6c, little-endian.
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    private static string NotZip(string path)
    {
        var head = new byte[LegacyMagic.Length];
        int n;
        using (var f = File.OpenRead(path)) n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var what = n == head.Length && head.AsSpan().SequenceEqual(LegacyMagic)
            ? "a PyTorch file in the legacy format (torch.save before PyTorch 1.6, or with _use_new_zipfile_serialization=False), which CropCat does not read"
            : "not a zip-format PyTorch file (torch.save of PyTorch 1.6 or later)";
        return $"{path}: {what}. Re-save it with a current PyTorch: torch.save(torch.load(path), new_path), or export a .safetensors file.";
    }

    private static long Extent(TensorRef t)
    {
        if (t.Size.Any(s => s == 0)) return 0;
        long last = 0;
        for (var i = 0; i < t.Size.Length; i++) last += (t.Size[i] - 1) * t.Stride[i];
        return last + 1;
    }

    private static ScalarType DType(string storageType, string path, string key) => storageType switch
    {
        "FloatStorage" => ScalarType.Float32,
        "DoubleStorage" => ScalarType.Float64,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        _ => throw new PickleRefusedException($"{path}: tensor '{key}' has unsupported storage type {storageType}"),
    };

    private static Tensor Storage(byte[] bytes, StorageRef s, string path, string key)
    {
        var dtype = DType(s.StorageType, path, key);
        var flat = empty(new long[] { s.Numel }, dtype);
        if (bytes.LongLength != s.Numel * flat.ElementSize)
        {
            flat.Dispose();
            throw new PickleRefusedException($"{path}: storage of '{key}' has {bytes.LongLength} bytes, expected {s.Numel} x {s.StorageType}");
        }
        if (bytes.Length > 0) flat.bytes = bytes;
        return flat;
    }

    private static byte[] ReadAll(ZipArchiveEntry e)
    {
        using var s = e.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}
