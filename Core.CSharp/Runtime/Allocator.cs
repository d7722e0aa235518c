using System;
using System.Runtime.InteropServices;

namespace CropCat.Runtime;

/// <summary>
/// The glibc allocator setting that keeps the heap between passes. By default glibc returns
/// every freed block over 32 MiB to the kernel, so each pass of a U-Net faults its
/// activations back in (measured: 13-35% of a forward or training step on this class of machine).
/// <see cref="KeepHeap"/> stops that at the cost of a process that keeps its peak heap.
/// Training and tiled inference call it unless CROPCAT_KEEP_HEAP=0.
/// </summary>
public static class Allocator
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_MAX = -4;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>True once <see cref="KeepHeap"/> has changed the allocator in this process.</summary>
    public static bool HeapKept { get; private set; }

    /// <summary>True unless the environment variable CROPCAT_KEEP_HEAP is "0" or "false".</summary>
    public static bool EnabledByEnvironment
    {
        get
        {
            var v = Environment.GetEnvironmentVariable("CROPCAT_KEEP_HEAP");
            return v is null || !(v == "0" || v.Equals("false", StringComparison.OrdinalIgnoreCase));
        }
    }

    /// <summary>
    /// Serve large blocks from the heap instead of mmap and never trim it (glibc only; a no-op elsewhere).
    /// Returns whether the setting took effect.
    /// </summary>
    public static bool KeepHeap()
    {
        if (HeapKept) return true;
        if (!OperatingSystem.IsLinux() || !EnabledByEnvironment) return false;
        try
        {
            var ok = Mallopt(M_MMAP_MAX, 0) == 1 && Mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
            HeapKept = ok;
            return ok;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl or another libc: keep its defaults
        }
    }
}
