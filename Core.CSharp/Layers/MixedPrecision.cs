using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// Lets one module of a bf16 network stay in fp32 (where libtorch's bf16 kernel for its shape is wrong):
/// every module runs in its own weights' dtype, and merged tensors meet in one dtype. With one dtype
/// throughout, each call is the plain module call. A convolution in mixed-precision training computes in bf16 on
/// its fp32 weights (<see cref="CastConvolution"/>) and returns bf16: the next convolution takes it uncast
/// (half the memory traffic between them), batch norm casts it back to its own fp32.
/// </summary>
internal static class MixedPrecision
{
    /// <summary><paramref name="m"/> applied to <paramref name="x"/> cast to <paramref name="dtypeOf"/>'s dtype when it differs.</summary>
    public static Tensor Call(nn.Module<Tensor, Tensor> m, Tensor dtypeOf, Tensor x)
    {
        if (CastConvolution.ComputeDtype(m) is { } compute)
        {
            var c = (TorchSharp.Modules.Convolution)m;
            return CastConvolution.Apply(c, x, c.weight!, c.bias, compute);
        }
        if (x.dtype == dtypeOf.dtype) return m.call(x);
        using var cast = x.to_type(dtypeOf.dtype);
        return m.call(cast);
    }

    /// <summary><paramref name="b"/> in <paramref name="a"/>'s dtype (an alias when it already is), for cat and add.</summary>
    public static Tensor Like(Tensor b, Tensor a) => b.dtype == a.dtype ? b.alias() : b.to_type(a.dtype);
}
