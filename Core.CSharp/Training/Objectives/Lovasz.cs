using System.Collections.Generic;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// <c>lovasz</c>: Berman et al.'s Lovasz extension of the Jaccard loss. A binary head gets the Lovasz hinge (errors
/// 1 - x (2y - 1) of the logits, through ReLU), a softmax head the Lovasz softmax (errors |g_c - p_c| per class, over
/// the classes present in the truth). Errors are sorted in decreasing order and dotted with the gradient of the
/// Jaccard loss along that order; invalid pixels are sorted after every valid one with error 0, which leaves the valid
/// pixels' terms as if they were removed. Pixel weights are not used.
/// </summary>
public sealed record Lovasz : BasicObjective
{
    /// <summary>True: the loss of each image, averaged over the batch (the reference's default for the hinge);
    /// false: one loss over all the batch's pixels (its default for the softmax).</summary>
    public bool PerImage { get; init; } = true;

    /// <inheritdoc />
    public override string Name => "lovasz";

    private protected override Heads Accepts => Heads.Both;

    private protected override IEnumerable<(string Key, string Value)> OwnParameters()
    {
        if (!PerImage) yield return ("per_image", "false");
    }

    private protected override Tensor Evaluate(LossInputs x)
    {
        var n = x.Logits.shape[0];
        var rows = PerImage ? n : 1;
        var v = x.Valid.reshape(rows, -1);
        if (x.Binary)
        {
            var logit = x.Logits.reshape(rows, -1);
            var y = x.TargetAsFloat().reshape(rows, -1);
            var errors = 1.0 - logit * (2.0 * y - 1.0);
            // -inf sorts last, and ReLU makes it (and its gradient) 0.
            errors = errors.masked_fill(v.eq(0.0), double.NegativeInfinity);
            return SortedDot(errors, y).mean();
        }
        else
        {
            var k = x.Classes;
            var p = nn.functional.softmax(x.Logits, 1);
            var g = nn.functional.one_hot(x.Target, k).permute(0, 3, 1, 2).to_type(p.dtype) * x.Valid.unsqueeze(1);
            // Rows (image, class) or (class) over all of the batch's pixels.
            Tensor Rows(Tensor t) => PerImage ? t.reshape(n, k, -1) : t.permute(1, 0, 2, 3).reshape(1, k, -1);
            var pr = Rows(p);
            var gr = Rows(g);
            // Softmax errors lie in [0, 1]: -1 sorts last, and clamping it to 0 removes it.
            var errors = (gr - pr).abs().masked_fill(v.unsqueeze(1).eq(0.0), -1.0);
            var perClass = SortedDot(errors.reshape(-1, errors.shape[2]), gr.reshape(-1, gr.shape[2]), clampAtZero: true).reshape(rows, k);
            // classes = 'present': classes absent from a row's truth are left out; a row with none scores 0.
            var present = gr.sum(2).gt(0.0).to_type(p.dtype);
            var perRow = (perClass * present).sum(1) / present.sum(1).clamp_min(1.0);
            return perRow.mean();
        }
    }

    /// <summary>
    /// Per row: the errors sorted in decreasing order, through ReLU (the hinge) or clamped at 0 (the softmax, whose
    /// errors are >= 0 except the sentinel), dotted with the Lovasz gradient of the truth in that order.
    /// </summary>
    private static Tensor SortedDot(Tensor errors, Tensor truth, bool clampAtZero = false)
    {
        var (sorted, perm) = errors.sort(1, descending: true);
        var truthSorted = truth.gather(1, perm);
        var grad = LovaszGrad(truthSorted);
        var e = clampAtZero ? sorted.clamp_min(0.0) : sorted.relu();
        return (e * grad).sum(1);
    }

    /// <summary>Gradient of the Jaccard loss along sorted errors, per row: J_i - J_{i-1} with J_i the Jaccard loss of
    /// the first i pixels predicted foreground (Berman et al., Alg. 1).</summary>
    private static Tensor LovaszGrad(Tensor truthSorted)
    {
        using var _ = no_grad();
        var total = truthSorted.sum(1, keepdim: true);
        var intersection = total - truthSorted.cumsum(1);
        var union = total + (1.0 - truthSorted).cumsum(1);
        var jaccard = 1.0 - intersection / union;
        var m = jaccard.shape[1];
        if (m == 1) return jaccard;
        var rest = jaccard.narrow(1, 1, m - 1) - jaccard.narrow(1, 0, m - 1);
        return cat([jaccard.narrow(1, 0, 1), rest], 1);
    }
}
