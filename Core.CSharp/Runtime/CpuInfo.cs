using System;
using System.IO;
using System.Linq;

namespace CropCat.Runtime;

/// <summary>What the CPU is, for keys and reports: speed choices made on one CPU model do not carry to another.</summary>
public static class CpuInfo
{
    private static readonly Lazy<string> ModelName = new(Read);

    /// <summary>The CPU's model name (Linux /proc/cpuinfo "model name", e.g. "AMD EPYC"), or the architecture elsewhere.</summary>
    public static string Model => ModelName.Value;

    private static string Read()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                var family = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu family", StringComparison.Ordinal));
                var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model\t", StringComparison.Ordinal));
                static string Value(string? l) => l is null ? "?" : l[(l.IndexOf(':') + 1)..].Trim();
                // "AMD EPYC" alone names Zen 3 and Zen 5 alike: family and model tell them apart.
                if (line is not null) return $"{Value(line)} (family {Value(family)}, model {Value(model)})";
            }
        }
        catch (IOException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
