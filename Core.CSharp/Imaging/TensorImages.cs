using System;
using static TorchSharp.torch;

namespace CropCat.Imaging;

/// <summary>Conversions between 2-D tensors and 8-bit pixel buffers.</summary>
public static class TensorImages
{
    /// <summary>Maps a (H, W) tensor with values in [0, 1] to 8-bit gray pixels (clamped, rounded).</summary>
    public static byte[] ToGray8(Tensor image)
    {
        if (image.dim() != 2) throw new ArgumentException($"expected a 2-D (H, W) tensor, got shape [{string.Join(", ", image.shape)}]");
        using var scope = NewDisposeScope();
        var bytes = (image.detach().cpu().to_type(ScalarType.Float32) * 255f).round().clamp(0f, 255f).to_type(ScalarType.Byte);
        return bytes.data<byte>().ToArray();
    }

    /// <summary>Writes a (H, W) tensor with values in [0, 1] as an 8-bit gray PNG.</summary>
    public static void WriteGrayPng(string path, Tensor image) =>
        Png.WriteGray(path, ToGray8(image), (int)image.shape[1], (int)image.shape[0]);
}
