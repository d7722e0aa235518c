using System;
using System.IO;
using System.Linq;
using TorchSharp;

namespace CropCat.Runtime;

/// <summary>The native runtime is missing or too old for TorchSharp; the message says what to install.</summary>
public sealed class NativeRuntimeException : Exception
{
    /// <summary>Creates the error with a message that names the fix.</summary>
    public NativeRuntimeException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// Loads libtorch once, after checking the C++ runtime it needs. TorchSharp 0.107's
/// libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13+); without it TorchSharp reports a
/// misleading "doesn't contain a reference to libtorch", so CropCat checks first and says
/// what is really missing.
/// </summary>
public static class NativeRuntime
{
    /// <summary>The C++ runtime symbol version TorchSharp's native library needs.</summary>
    public const string RequiredGlibcxx = "GLIBCXX_3.4.32";

    private static readonly object Gate = new();
    private static bool _loaded;

    private static readonly string[] LibStdCxxCandidates =
    [
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
    ];

    /// <summary>
    /// True when some libstdc++.so.6 on this Linux system carries <see cref="RequiredGlibcxx"/>,
    /// or when the check does not apply (not Linux, or no libstdc++ found in the usual places).
    /// </summary>
    public static bool CxxRuntimeIsRecentEnough()
    {
        if (!OperatingSystem.IsLinux()) return true;
        var found = LibStdCxxCandidates.Where(File.Exists).ToArray();
        if (found.Length == 0) return true; // unusual layout: let the loader decide
        var needle = System.Text.Encoding.ASCII.GetBytes(RequiredGlibcxx);
        return found.Any(p => File.ReadAllBytes(p).AsSpan().IndexOf(needle) >= 0);
    }

    /// <summary>
    /// F# scripts (dotnet fsi) and other hosts without the app's deps.json do not search
    /// runtimes/&lt;rid&gt;/native next to TorchSharp.dll, so TorchSharp falls back to copying
    /// libtorch out of the NuGet cache and then fails. Loading the two libraries by full path
    /// first makes `#r` of an executable's bin folder work; in a normal app it loads the same
    /// files the host would.
    /// </summary>
    private static void PreloadFromRuntimesFolder()
    {
        if (!OperatingSystem.IsLinux()) return;
        var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var bin = System.IO.Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(bin)) return;
        var native = System.IO.Path.Combine(bin, "runtimes", $"linux-{arch}", "native");
        string[] libraries =
            [System.IO.Path.Combine(native, "libtorch_cpu.so"), System.IO.Path.Combine(native, "libLibTorchSharp.so")];
        if (!libraries.All(File.Exists))
        {
            // `#r "nuget: CropCat.Dsl"` + `#r "nuget: libtorch-cpu-linux-x64"` in a script: TorchSharp.dll sits in
            // the NuGet cache (<packages>/torchsharp/<version>/lib/<tfm>/), libtorch in its own package beside it.
            // TorchSharp's own fallback copies both into one folder and then fails to load it, so load the
            // package files by full path instead: libtorch's own libraries first, then TorchSharp's binding.
            var packageRoot = System.IO.Path.GetFullPath(System.IO.Path.Combine(bin, "..", ".."));
            var packages = System.IO.Path.GetFullPath(System.IO.Path.Combine(packageRoot, "..", ".."));
            var libtorch = System.IO.Path.Combine(packages, $"libtorch-cpu-linux-{arch}", LibTorchVersion, "runtimes", $"linux-{arch}", "native");
            libraries =
            [
                System.IO.Path.Combine(libtorch, "libc10.so"),
                System.IO.Path.Combine(libtorch, "libtorch_cpu.so"),
                System.IO.Path.Combine(libtorch, "libtorch.so"),
                System.IO.Path.Combine(packageRoot, "runtimes", $"linux-{arch}", "native", "libLibTorchSharp.so"),
            ];
            if (!libraries.All(File.Exists)) return;
        }
        foreach (var library in libraries)
            System.Runtime.InteropServices.NativeLibrary.Load(library);
    }

    /// <summary>The libtorch release TorchSharp 0.107 is built against (its libtorch-* packages carry this version).</summary>
    public const string LibTorchVersion = "2.10.0";

    /// <summary>
    /// Checks the C++ runtime and initialises libtorch for the CPU (and CUDA when present).
    /// Safe to call many times; every CropCat entry point calls it before its first tensor.
    /// </summary>
    /// <exception cref="NativeRuntimeException">The C++ runtime is too old, or libtorch cannot be loaded.</exception>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            if (!CxxRuntimeIsRecentEnough())
                throw new NativeRuntimeException(
                    $"CropCat: this system's C++ runtime (libstdc++.so.6) lacks {RequiredGlibcxx}, which TorchSharp's native library needs. " +
                    "Install libstdc++6 from GCC 13 or newer (Debian 13, Ubuntu 24.04 and Fedora 39+ have it); " +
                    "on Debian 12, 'dotnet fsi build.fsx -t Setup' run as root installs it.");
            try
            {
                PreloadFromRuntimesFolder();
                torch.InitializeDeviceType(DeviceType.CPU);
                // NNPACK is never needed and floods stderr on CPUs it does not support.
                LibTorchQuiet.SetNnpack(false);
            }
            catch (Exception e)
            {
                throw new NativeRuntimeException(
                    "CropCat: libtorch could not be loaded. Reference the package 'libtorch-cpu-linux-x64' (or another libtorch-* package) " +
                    $"from your executable project. TorchSharp said: {e.Message}", e);
            }
            _loaded = true;
        }
    }
}
