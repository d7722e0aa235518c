using System.Collections.Generic;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Bench;

/// <summary>
/// A hand-written TorchSharp U-Net with exactly the layers of <see cref="Nets.UNet.Create"/> for
/// valid padding, transposed up-sampling, no batch norm: two 3x3 convs + ReLU per block, 2x2
/// max-pool, 2x2 transposed conv, centre crop and [skip, up] concatenation, optional bottom dropout,
/// 1x1 head. It is written the way a careful user would write it by hand (in-place ReLU, every
/// intermediate disposed at its last use), so the A/B benchmark measures what CropCat's layer tree,
/// shape check and registration cost on top of plain TorchSharp — nothing else.
/// </summary>
public sealed class ReferenceUNet : nn.Module<Tensor, Tensor>
{
    private readonly List<Conv2d> _enc1 = new(), _enc2 = new(), _dec1 = new(), _dec2 = new();
    private readonly List<ConvTranspose2d> _up = new();
    private readonly Conv2d _bottom1, _bottom2, _head;
    private readonly Dropout? _dropout;
    private readonly bool _freeEarly;

    /// <summary>Builds the net for <paramref name="inChannels"/>, <paramref name="classes"/> and level widths top..bottom.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="classes">Classes of the head.</param>
    /// <param name="widths">Channels per level, top to bottom block.</param>
    /// <param name="bottomDropout">Dropout after the bottom block; 0 for none.</param>
    /// <param name="freeEarly">
    /// Dispose every intermediate at its last use (true, as CropCat does). False keeps them all until the
    /// caller's dispose scope ends — the memory A/B of "free at last use".
    /// </param>
    public ReferenceUNet(int inChannels, int classes, int[] widths, double bottomDropout = 0.0, bool freeEarly = true) : base("ReferenceUNet")
    {
        _freeEarly = freeEarly;
        NativeRuntime.EnsureLoaded();
        var depth = widths.Length - 1;
        for (var k = 0; k < depth; k++)
        {
            var inC = k == 0 ? inChannels : widths[k - 1];
            _enc1.Add(nn.Conv2d(inC, widths[k], 3));
            _enc2.Add(nn.Conv2d(widths[k], widths[k], 3));
            _up.Add(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride: 2));
            _dec1.Add(nn.Conv2d(2 * widths[k], widths[k], 3));
            _dec2.Add(nn.Conv2d(widths[k], widths[k], 3));
        }
        _bottom1 = nn.Conv2d(widths[depth - 1], widths[depth], 3);
        _bottom2 = nn.Conv2d(widths[depth], widths[depth], 3);
        _head = nn.Conv2d(widths[0], classes, 1);
        if (bottomDropout > 0) _dropout = nn.Dropout(bottomDropout);
        for (var k = 0; k < depth; k++)
        {
            register_module($"enc{k + 1}_conv1", _enc1[k]);
            register_module($"enc{k + 1}_conv2", _enc2[k]);
            register_module($"dec{k + 1}_up", _up[k]);
            register_module($"dec{k + 1}_conv1", _dec1[k]);
            register_module($"dec{k + 1}_conv2", _dec2[k]);
        }
        register_module("bottom_conv1", _bottom1);
        register_module("bottom_conv2", _bottom2);
        register_module("head", _head);
        if (_dropout is not null) register_module("dropout", _dropout);
    }

    /// <summary>Builds the net on <see cref="Devices.Default"/> in <see cref="MemoryLayouts.Default"/> (NCHW when that is Auto: this net does not tune; give it the layout CropCat chose with <see cref="WithLayout"/>).</summary>
    public static ReferenceUNet Create(int inChannels, int classes, int[] widths, double bottomDropout = 0.0, bool freeEarly = true)
    {
        var net = new ReferenceUNet(inChannels, classes, widths, bottomDropout, freeEarly);
        net.WithLayout(MemoryLayouts.Default == MemoryLayout.Auto ? MemoryLayout.Contiguous : MemoryLayouts.Default);
        net.to(Devices.Default);
        return net;
    }

    /// <summary>The memory layout of the weights and activations (as <see cref="Nets.Network.Layout"/>).</summary>
    public MemoryLayout Layout { get; private set; } = MemoryLayout.Contiguous;

    /// <summary>
    /// Re-strides every 4-D weight to <paramref name="layout"/>; each forward then re-strides its input
    /// the same way and returns NCHW logits, exactly as CropCat's <see cref="Nets.Network"/> does.
    /// </summary>
    public ReferenceUNet WithLayout(MemoryLayout layout)
    {
        MemoryLayouts.Restride(this, layout);
        Layout = layout;
        return this;
    }

    /// <summary>
    /// Copies every weight of <paramref name="source"/> (a CropCat net of the same layout) into this
    /// net, so that both compute the same function.
    /// </summary>
    public void CopyFrom(Nets.Network source)
    {
        var src = source.state_dict();
        var depth = _up.Count;
        using var _ = no_grad();
        void Copy(nn.Module m, string name)
        {
            foreach (var (p, t) in m.named_parameters())
                t.copy_(src[$"{name}.{p}"]);
        }
        for (var k = 0; k < depth; k++)
        {
            Copy(_enc1[k], $"enc{k + 1}.conv1");
            Copy(_enc2[k], $"enc{k + 1}.conv2");
            Copy(_up[k], $"dec{k + 1}.up");
            Copy(_dec1[k], $"dec{k + 1}.conv1");
            Copy(_dec2[k], $"dec{k + 1}.conv2");
        }
        Copy(_bottom1, "bottom.conv1");
        Copy(_bottom2, "bottom.conv2");
        Copy(_head, "head");
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var depth = _up.Count;
        var skips = new Tensor[depth];
        var x = Layout == MemoryLayout.Contiguous ? input : MemoryLayouts.To(input, Layout);
        for (var k = 0; k < depth; k++)
        {
            var b = Block(_enc1[k], _enc2[k], x);
            if (!ReferenceEquals(x, input)) Free(x);
            skips[k] = b;
            x = Layers.MaxPoolDown.Pool2x2(b);
        }
        var y = Block(_bottom1, _bottom2, x);
        if (!ReferenceEquals(x, input)) Free(x);
        if (_dropout is not null)
        {
            var d = _dropout.call(y);
            if (!ReferenceEquals(d, y)) Free(y);
            y = d;
        }
        for (var k = depth - 1; k >= 0; k--)
        {
            var u = _up[k].call(y);
            Free(y);
            var s = skips[k];
            var h = u.shape[2];
            var w = u.shape[3];
            var oh = (s.shape[2] - h) / 2;
            var ow = (s.shape[3] - w) / 2;
            Tensor merged;
            using (var rows = s.narrow(2, oh, h))
            using (var crop = rows.narrow(3, ow, w))
                merged = cat([crop, u], 1);
            Free(s);
            Free(u);
            y = Block(_dec1[k], _dec2[k], merged);
            Free(merged);
        }
        var logits = _head.call(y);
        Free(y);
        if (Layout == MemoryLayout.Contiguous) return logits;
        var dense = logits.contiguous();
        Free(logits);
        return dense;
    }

    private Tensor Block(Conv2d c1, Conv2d c2, Tensor x)
    {
        var a = c1.call(x).relu_();
        var b = c2.call(a).relu_();
        Free(a);
        return b;
    }

    // Without early freeing the tensor stays in the caller's dispose scope until that scope ends.
    private void Free(Tensor t)
    {
        if (_freeEarly) t.Dispose();
    }
}
