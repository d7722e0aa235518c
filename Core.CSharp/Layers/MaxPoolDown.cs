using System.Collections.Generic;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>2x2 max-pool with stride 2: the down-step. Strict mode (default) refuses odd sizes.</summary>
public sealed class MaxPoolDown : Layer
{
    /// <summary>Creates the down-step shown as <paramref name="path"/>.</summary>
    public MaxPoolDown(string path, PoolMode mode = PoolMode.Strict) : base(path) => Mode = mode;

    /// <summary>Strict (refuse odd sizes) or Floor.</summary>
    public PoolMode Mode { get; }

    /// <inheritdoc />
    public override string Kind => "MaxPool2x2";

    /// <inheritdoc />
    public override long ParameterCount => 0;

    /// <inheritdoc />
    public override Shape Infer(Shape input, List<ShapeTrace>? trace = null)
    {
        var y = ShapeRules.MaxPool2x2(input, Mode).OrThrow(Path);
        trace?.Add(new ShapeTrace(Path, Kind, y, 0));
        return y;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => Pool2x2(x);

    /// <summary>
    /// max_pool2d(x, 2, 2), by <see cref="PairwiseMax"/> where that is faster and exact (no autograd,
    /// NCHW-contiguous, even sizes), else by libtorch's kernel (fast for channels-last input).
    /// </summary>
    public static Tensor Pool2x2(Tensor x)
    {
        if (is_grad_enabled() || !x.is_contiguous() || x.shape[2] % 2 != 0 || x.shape[3] % 2 != 0)
            return nn.functional.max_pool2d(x, 2, 2);
        return PairwiseMax(x);
    }

    /// <summary>
    /// The same values as max_pool2d(x, 2, 2) for an NCHW-contiguous x of even size, as two
    /// element-wise maxima over strided views: first of row pairs, then of column pairs. libtorch's
    /// NCHW max-pool kernel does not vectorize a 2x2 window (measured 166 ms vs 18 ms over the paper
    /// net's four down-steps). Max is exact, so the result is bit-identical; used without autograd
    /// only, because maximum()'s backward splits ties where max-pool's picks one element.
    /// </summary>
    public static Tensor PairwiseMax(Tensor x)
    {
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        // Row 2i and row 2i+1 are the two halves of one row of length 2w in this view.
        using var rowPairs = x.view(n, c, h / 2, 2 * w);
        using var top = rowPairs.narrow(3, 0, w);
        using var bottom = rowPairs.narrow(3, w, w);
        using var rows = maximum(top, bottom);
        using var colPairs = rows.view(n, c, h / 2, w / 2, 2);
        using var left = colPairs.select(4, 0);
        using var right = colPairs.select(4, 1);
        return maximum(left, right);
    }
}
