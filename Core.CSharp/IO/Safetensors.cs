using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using CropCat.Imaging;
using static TorchSharp.torch;

namespace CropCat.IO;

/// <summary>A safetensors file is corrupt, truncated or holds something CropCat cannot read; the message names the file and the fault.</summary>
public sealed class SafetensorsException : Exception
{
    /// <summary>Creates the error for <paramref name="path"/>.</summary>
    public SafetensorsException(string path, string reason, Exception? inner = null)
        : base($"safetensors file {path}: {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; }
}

/// <summary>
/// The safetensors format (the Hugging Face / PyTorch interchange format): an 8-byte little-endian
/// header length, a JSON header mapping every tensor name to its dtype, shape and byte range
/// (data_offsets, relative to the end of the header) plus an optional "__metadata__" string map,
/// then the raw little-endian tensor bytes. No code runs on load, unlike pickle checkpoints.
/// </summary>
public static class Safetensors
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private static readonly Dictionary<ScalarType, string> DtypeNames = new()
    {
        [ScalarType.Float32] = "F32",
        [ScalarType.Float64] = "F64",
        [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16",
        [ScalarType.Int64] = "I64",
        [ScalarType.Int32] = "I32",
        [ScalarType.Int16] = "I16",
        [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8",
        [ScalarType.Bool] = "BOOL",
    };

    private static readonly Dictionary<string, (ScalarType Type, int Size)> Dtypes = new()
    {
        ["F32"] = (ScalarType.Float32, 4),
        ["F64"] = (ScalarType.Float64, 8),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; copied to the CPU) and the optional string
    /// <paramref name="metadata"/> to <paramref name="path"/> atomically. Tensors are stored in
    /// name order; the header is padded with spaces to a multiple of 8 bytes so the data is aligned.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has a dtype safetensors cannot hold, or a name is "__metadata__".</exception>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var blobs = new List<byte[]>(names.Length);
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WritePropertyName(MetadataKey);
                json.WriteStartObject();
                foreach (var (k, v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in names)
            {
                if (name == MetadataKey) throw new ArgumentException($"safetensors {path}: a tensor may not be named {MetadataKey}");
                var t = tensors[name];
                if (!DtypeNames.TryGetValue(t.dtype, out var dtype))
                    throw new ArgumentException($"safetensors {path}: tensor '{name}' has dtype {t.dtype}, which safetensors cannot hold");
                using var c = t.detach().cpu().contiguous();
                var bytes = c.numel() == 0 ? [] : c.bytes.ToArray();
                blobs.Add(bytes);
                json.WritePropertyName(name);
                json.WriteStartObject();
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes.Length;
            }
            json.WriteEndObject();
        }
        var headerBytes = header.ToArray();
        var padded = (headerBytes.Length + 7) / 8 * 8;
        AtomicFile.Write(path, s =>
        {
            s.Write(BitConverter.GetBytes((ulong)padded)); // little-endian on every platform .NET runs TorchSharp on
            s.Write(headerBytes);
            for (var i = headerBytes.Length; i < padded; i++) s.WriteByte((byte)' ');
            foreach (var b in blobs) s.Write(b);
        });
    }

    /// <summary>
    /// Reads every tensor (on the CPU) and the "__metadata__" map of a safetensors file. Supports
    /// F32, F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafetensorsException">The file is truncated or corrupt; the message says what is wrong.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file {path} does not exist", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new SafetensorsException(path, $"only {bytes.Length} bytes, too short for the 8-byte header length");
        var headerLen = BitConverter.ToUInt64(bytes, 0);
        if (headerLen > MaxHeaderBytes || (long)headerLen > bytes.Length - 8)
            throw new SafetensorsException(path, $"header length {headerLen} exceeds the {bytes.Length - 8} bytes after the length field (truncated or not a safetensors file)");
        var dataStart = 8 + (int)headerLen;
        var dataLen = bytes.Length - dataStart;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLen));
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(path, $"the header is not valid JSON ({e.Message})", e);
        }
        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new SafetensorsException(path, "the header is not a JSON object");
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (p.Name == MetadataKey)
                    {
                        if (p.Value.ValueKind != JsonValueKind.Object) throw new SafetensorsException(path, "__metadata__ is not an object");
                        foreach (var m in p.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                                ? m.Value.GetString()!
                                : throw new SafetensorsException(path, $"__metadata__ value '{m.Name}' is not a string");
                        continue;
                    }
                    tensors[p.Name] = ReadTensor(path, p.Name, p.Value, bytes, dataStart, dataLen);
                }
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return (tensors, metadata);
    }

    private static Tensor ReadTensor(string path, string name, JsonElement e, byte[] bytes, int dataStart, int dataLen)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafetensorsException(path, $"tensor '{name}' needs dtype, shape and data_offsets [begin, end]");
        var dtype = dt.GetString()!;
        if (!Dtypes.TryGetValue(dtype, out var info))
            throw new SafetensorsException(path, $"tensor '{name}' has dtype {dtype}, which CropCat does not read (supported: {string.Join(", ", Dtypes.Keys)})");
        var shape = sh.EnumerateArray().Select(d => d.TryGetInt64(out var v) && v >= 0 ? v : throw new SafetensorsException(path, $"tensor '{name}' has a bad shape entry {d}")).ToArray();
        var begin = off[0].TryGetInt64(out var b) ? b : -1;
        var end = off[1].TryGetInt64(out var en) ? en : -1;
        if (begin < 0 || end < begin)
            throw new SafetensorsException(path, $"tensor '{name}' has bad data_offsets [{off[0]}, {off[1]}]");
        if (end > dataLen)
            throw new SafetensorsException(path, $"tensor '{name}' ends at byte {end} of the data, but the file holds only {dataLen} data bytes (truncated)");
        var count = shape.Aggregate(1L, (a, d) => a * d);
        if (count * info.Size != end - begin)
            throw new SafetensorsException(path, $"tensor '{name}' of dtype {dtype} and shape [{string.Join(", ", shape)}] needs {count * info.Size} bytes, but data_offsets span {end - begin}");
        var t = empty(shape, info.Type);
        if (count > 0) t.bytes = bytes.AsSpan(dataStart + (int)begin, (int)(end - begin));
        return t;
    }
}
