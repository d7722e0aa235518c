using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>2^N max-pool with stride 2: the down-step (<see cref="Architecture.PoolSpec"/>; its shape rule decides odd sizes).</summary>
public sealed class MaxPoolDown : Layer
{
    private readonly int _dims;

    /// <summary>Creates the down-step over <paramref name="dims"/> spatial axes, shown as <paramref name="path"/>.</summary>
    public MaxPoolDown(string path, int dims = 2) : base(path) => _dims = dims;

    /// <inheritdoc />
    public override Tensor Forward(Tensor x) => NdModules.MaxPool(_dims, x);

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
