using System;
using TorchSharp;

namespace CropCat.Runtime;

/// <summary>
/// The one place where CropCat chooses its device: CUDA when a CUDA build of libtorch is
/// present and sees a GPU, else the CPU. The environment variable CROPCAT_DEVICE ("cpu", "cuda",
/// "cuda:1") overrides the choice.
/// </summary>
public static class Devices
{
    private static torch.Device? _default;

    /// <summary>The device every CropCat module and tensor uses unless told otherwise.</summary>
    public static torch.Device Default
    {
        get
        {
            if (_default is not null) return _default;
            NativeRuntime.EnsureLoaded();
            var requested = Environment.GetEnvironmentVariable("CROPCAT_DEVICE");
            _default = !string.IsNullOrWhiteSpace(requested)
                ? Parse(requested)
                : torch.cuda.is_available() ? torch.CUDA : torch.CPU;
            return _default;
        }
        set => _default = value;
    }

    /// <summary>Parses "cpu", "cuda" or "cuda:N"; asking for CUDA without a CUDA libtorch is an error that says so.</summary>
    public static torch.Device Parse(string name)
    {
        NativeRuntime.EnsureLoaded();
        var d = new torch.Device(name.Trim().ToLowerInvariant());
        if (d.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ArgumentException($"device '{name}' was asked for, but this libtorch has no CUDA or sees no GPU");
        return d;
    }
}
