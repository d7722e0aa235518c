using System;

namespace CropCat.Interop.Onnx;

/// <summary>The network cannot be written as ONNX: <see cref="Path"/> names the layer (or "network"), the message says why.</summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>A refusal at <paramref name="path"/> for <paramref name="reason"/>.</summary>
    public OnnxExportException(string path, string reason) : base($"ONNX export: {path}: {reason}")
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The refusing layer's path, e.g. "level 2 / enc", or "network".</summary>
    public string Path { get; }

    /// <summary>What the exporter cannot express there.</summary>
    public string Reason { get; }
}
