using System;
using System.IO;
using System.Runtime.InteropServices;
using TorchSharp;

namespace CropCat.Runtime;

/// <summary>
/// Keeps libtorch from flooding stderr. On CPUs that NNPACK does not support (AMD EPYC Zen 5 among
/// them) libtorch tries to initialise NNPACK for every small convolution and logs
/// "Could not initialize NNPACK! Reason: Unsupported hardware." each time: thousands of lines per
/// run, burying CropCat's own output. CropCat never needs NNPACK (libtorch picks oneDNN first for
/// fp32 CPU convolutions), so it switches NNPACK off through libtorch's own
/// <c>at::globalContext().setUserEnabledNNPACK(false)</c>, which libtorch checks before trying to
/// initialise it. TorchSharp does not wrap that call and <c>TORCH_CPP_LOG_LEVEL</c> is never read
/// under TorchSharp, hence the direct call into the exported C++ symbols.
/// </summary>
public static class LibTorchQuiet
{
    // Itanium C++ ABI names exported by libtorch_cpu.so (checked on libtorch 2.10).
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetUserEnabledNnpack = "_ZN2at7Context20setUserEnabledNNPACKEb";
    private const string UserEnabledNnpack = "_ZNK2at7Context17userEnabledNNPACKEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ContextGetter();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void BoolSetter(IntPtr self, [MarshalAs(UnmanagedType.U1)] bool value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool BoolGetter(IntPtr self);

    /// <summary>
    /// Whether libtorch would use NNPACK now; null when the switch cannot be reached (a libtorch
    /// without these exports, or not Linux).
    /// </summary>
    public static bool? NnpackEnabled
    {
        get
        {
            if (!TryContext(out var lib, out var ctx)) return null;
            var get = Marshal.GetDelegateForFunctionPointer<BoolGetter>(NativeLibrary.GetExport(lib, UserEnabledNnpack));
            return get(ctx);
        }
    }

    /// <summary>
    /// Turns NNPACK off (or back on). Returns false, changing nothing, when libtorch does not export
    /// the switch; CropCat then runs as before, only louder.
    /// </summary>
    public static bool SetNnpack(bool enabled)
    {
        if (!TryContext(out var lib, out var ctx)) return false;
        if (!NativeLibrary.TryGetExport(lib, SetUserEnabledNnpack, out var set)) return false;
        Marshal.GetDelegateForFunctionPointer<BoolSetter>(set)(ctx, enabled);
        return true;
    }

    private static bool TryContext(out IntPtr lib, out IntPtr context)
    {
        context = IntPtr.Zero;
        if (!TryLibTorch(out lib)) return false;
        if (!NativeLibrary.TryGetExport(lib, GlobalContext, out var get)
            || !NativeLibrary.TryGetExport(lib, UserEnabledNnpack, out _)) return false;
        context = Marshal.GetDelegateForFunctionPointer<ContextGetter>(get)();
        return context != IntPtr.Zero;
    }

    /// <summary>The libtorch_cpu.so that TorchSharp loaded (dlopen of an already loaded soname returns it).</summary>
    private static bool TryLibTorch(out IntPtr lib)
    {
        lib = IntPtr.Zero;
        if (!OperatingSystem.IsLinux()) return false;
        if (NativeLibrary.TryLoad("libtorch_cpu.so", typeof(torch).Assembly, null, out lib)) return true;
        var bin = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(bin)) return false;
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var path = Path.Combine(bin, "runtimes", $"linux-{arch}", "native", "libtorch_cpu.so");
        return File.Exists(path) && NativeLibrary.TryLoad(path, out lib);
    }
}
