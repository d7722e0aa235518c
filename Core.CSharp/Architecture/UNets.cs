using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>
/// U-Net descriptions as a fold over levels:
/// level k = enc_k >> skip merge (down >> level k+1 >> up_k) >> dec_k, with the bottom block innermost.
/// </summary>
public static class UNets
{
    /// <summary>One level around <paramref name="inner"/>: encoder block, a skip around (down, inner, up), decoder block.</summary>
    public static Spec Level(BlockSpec encoder, PoolSpec down, Spec inner, UpSpec up, Merge merge, BlockSpec decoder, GateSpec? gate = null) =>
        new ChainSpec(encoder, new SkipSpec(merge, new ChainSpec(down, inner, up), gate), decoder);

    /// <summary>The description of a U-Net with <paramref name="o"/>'s hyperparameters (validated first unless <paramref name="validate"/> is false).</summary>
    /// <exception cref="System.ArgumentException">A bad field, named.</exception>
    public static NetSpec Describe(UNetOptions o, bool validate = true)
    {
        if (validate) o.Validate();
        var w = o.Widths;
        var depth = w.Length - 1;
        var gate = o.Gate > 0 ? new GateSpec(o.Gate) : null;
        Spec inner = new BlockSpec(w[depth], o.Padding, o.BatchNorm, o.BottomDropout, FinalRelu: o.FinalRelu,
            Norm: o.Norm, Groups: o.Groups, Activation: o.Activation, Slope: o.Slope);
        for (var k = depth; k >= 1; k--)
        {
            var block = new BlockSpec(w[k - 1], o.Padding, o.BatchNorm, FinalRelu: o.FinalRelu,
                Norm: o.Norm, Groups: o.Groups, Activation: o.Activation, Slope: o.Slope);
            inner = Level(block, new PoolSpec(o.Pool), inner, new UpSpec(w[k - 1], o.Up), o.Merge, block, gate);
        }
        return new NetSpec(o.InChannels, new ChainSpec(inner, new HeadSpec(o.Classes)), o.Dims);
    }

    /// <summary>
    /// The 3-D U-Net of Cicek et al. 2016: 3 down-steps; encoder blocks that double the channels in their
    /// second convolution, (32, 64), (64, 128), (128, 256), bottom (256, 512); batch norm before each ReLU;
    /// 2x2x2 transposed up-convolutions that keep the channels; decoder blocks of two convolutions to
    /// 256, 128, 64; a 1x1x1 head. Input 116x132x132 (D x H x W) -> output 28x44x44.
    /// 19,073,187 parameters as CropCat counts them (batch norm's scale and shift, no bias before batch
    /// norm); counted as the paper does (convolution biases, no batch-norm parameters, no up-convolution
    /// bias) the same layers give its 19,069,955.
    /// </summary>
    public static NetSpec Cicek3D(int inChannels = 3, int classes = 3)
    {
        int[] w = [64, 128, 256, 512];
        const int depth = 3;
        Spec inner = new BlockSpec(w[depth], Padding.Valid, BatchNorm: true, Mid: w[depth] / 2);
        for (var k = depth; k >= 1; k--)
        {
            var enc = new BlockSpec(w[k - 1], Padding.Valid, BatchNorm: true, Mid: w[k - 1] / 2);
            var dec = new BlockSpec(w[k - 1], Padding.Valid, BatchNorm: true);
            inner = Level(enc, new PoolSpec(PoolMode.Strict), inner, new UpSpec(w[k], UpMode.Transposed), Merge.CropConcat, dec);
        }
        return new NetSpec(inChannels, new ChainSpec(inner, new HeadSpec(classes)), Dims: 3);
    }
}
