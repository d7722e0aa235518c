using System;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Runtime;

/// <summary>The number format a network computes in.</summary>
public enum Precision
{
    /// <summary>IEEE fp32 weights and activations (the default; training needs it).</summary>
    Float32,

    /// <summary>
    /// bfloat16 weights and activations for inference: half the memory traffic, and on CPUs with
    /// AVX512_BF16 or AMX-BF16 oneDNN's bf16 dot products do twice the work per instruction. Inputs are
    /// cast on the way in and the logits come back as fp32. About 3 significant digits per value.
    /// </summary>
    BFloat16,
}

/// <summary>A precision the device cannot run fast (or at all); the message names the device and what is missing.</summary>
public sealed class PrecisionNotSupportedException : Exception
{
    /// <summary>Creates the error.</summary>
    public PrecisionNotSupportedException(string message) : base(message) { }
}

/// <summary>Which precisions a device runs, and the dtype of each.</summary>
public static class Precisions
{
    private static readonly Lazy<string[]> CpuFlags = new(() =>
    {
        try
        {
            var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) : null;
            return line is null ? [] : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException) { return []; }
    });

    /// <summary>True when this CPU has bf16 dot-product instructions (AVX512_BF16 or AMX-BF16, from /proc/cpuinfo).</summary>
    public static bool CpuHasBFloat16 => SimulatedCpuBFloat16 ?? (CpuFlags.Value.Contains("avx512_bf16") || CpuFlags.Value.Contains("amx_bf16"));

    /// <summary>Test hook: overrides what /proc/cpuinfo says about bf16 (false simulates a CPU without it); null reads the CPU.</summary>
    internal static bool? SimulatedCpuBFloat16 { get; set; }

    /// <summary>The libtorch dtype of <paramref name="p"/>.</summary>
    public static ScalarType DtypeOf(Precision p) => p == Precision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>
    /// Throws unless <paramref name="device"/> runs <paramref name="p"/>: bf16 on a CPU needs AVX512_BF16 or
    /// AMX-BF16 (without them libtorch emulates bf16, slower than fp32, so CropCat refuses instead).
    /// </summary>
    /// <exception cref="PrecisionNotSupportedException">The device lacks support.</exception>
    public static void EnsureSupported(Precision p, Device device)
    {
        if (p == Precision.Float32 || device.type == DeviceType.CUDA) return;
        if (!CpuHasBFloat16)
            throw new PrecisionNotSupportedException(
                $"bf16 needs a CPU with AVX512_BF16 or AMX-BF16 instructions; this one ({CpuInfo.Model}) has neither, so bf16 would be emulated and slower than fp32. Use Float32 (--precision fp32)");
    }
}
