using System.Linq;
using CropCat.Architecture;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>Applies an <see cref="InputNormalization"/> to a batch, the first operation of a network's forward.</summary>
public static class InputNormalizer
{
    /// <summary>
    /// (x - mean) / std per channel of a batch <paramref name="x"/> (N, C, spatial...), computed in x's dtype on x's
    /// device; a new tensor (x is not changed).
    /// </summary>
    public static Tensor Apply(InputNormalization n, Tensor x)
    {
        using var scope = NewDisposeScope();
        var shape = new long[x.dim()];
        System.Array.Fill(shape, 1L);
        shape[1] = n.Channels;
        var dtype = x.is_floating_point() ? x.dtype : ScalarType.Float32;
        var mean = tensor(n.Mean.Select(v => (float)v).ToArray(), shape).to(dtype, x.device);
        var std = tensor(n.Std.Select(v => (float)v).ToArray(), shape).to(dtype, x.device);
        return x.to_type(dtype).sub(mean).div_(std).MoveToOuterDisposeScope();
    }
}
