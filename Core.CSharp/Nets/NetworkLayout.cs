using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>The memory layout of a <see cref="Network"/>: a fixed one, or Auto, chosen per case by <see cref="LayoutTuner"/>.</summary>
public sealed partial class Network
{
    private MemoryLayout _layout = MemoryLayout.Contiguous;
    private MemoryLayout _active = MemoryLayout.Contiguous;

    /// <summary>
    /// The memory layout policy of the 4-D weights and of the activations inside a forward pass
    /// (<see cref="MemoryLayouts.Default"/> at construction: Auto). A fixed layout re-strides the weights
    /// now; Auto picks the faster layout per input shape, dtype, device and mode (training or inference) by
    /// timing both at the first forward of that case (<see cref="LayoutTuner"/>). Values, names, checkpoints
    /// and the NCHW output do not change, only speed. Nets of other than 2 spatial axes are always Contiguous.
    /// </summary>
    public MemoryLayout Layout
    {
        get => _layout;
        set
        {
            // Channels-last strides exist for 4-D tensors only here: other nets always run contiguous.
            if (Dims != 2) value = MemoryLayout.Contiguous;
            if (value != MemoryLayout.Auto) Activate(value);
            _layout = value;
        }
    }

    /// <summary>The layout the weights have now (under Auto: the one chosen for the last forward).</summary>
    public MemoryLayout ActiveLayout => _active;

    /// <summary>
    /// What Auto chose (or would reuse) for a batch of <paramref name="shape"/> (N, C, H, W), or null when that
    /// case has not run yet. Fixed layouts return null: nothing was chosen.
    /// </summary>
    public LayoutChoice? LayoutChoiceFor(long[] shape, bool training, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        _layout == MemoryLayout.Auto ? LayoutTuner.Known(LayoutKey(shape, dtype, device ?? Devices.Default, training)) : null;

    private void Activate(MemoryLayout layout)
    {
        MemoryLayouts.Restride(this, layout);
        _active = layout;
    }

    /// <summary>Training when the module trains and autograd records: then a case is timed as forward plus backward.</summary>
    private bool Recording => training && is_grad_enabled();

    private MemoryLayout AutoLayout(Tensor x)
    {
        var training = Recording;
        var key = LayoutKey(x.shape, x.dtype, x.device, training);
        var known = LayoutTuner.Known(key);
        if (known is not null) return known.Layout;
        // Timing must not change what the caller computes: gradients accumulate, batch norm updates its
        // running statistics and dropout draws from the generator, so all three are put back afterwards.
        var grads = parameters().Select(p => p.grad is null ? null : p.grad.clone().DetachFromDisposeScope()).ToList();
        var savedBuffers = buffers().Select(b => b.clone().DetachFromDisposeScope()).ToList();
        var rng = get_rng_state().DetachFromDisposeScope();
        try
        {
            return LayoutTuner.Choose(key, l => TimeOnce(x, l, training)).Layout;
        }
        finally
        {
            using (no_grad())
            {
                foreach (var (p, g) in parameters().Zip(grads))
                {
                    if (p.grad is null) continue;
                    if (g is null) p.grad.zero_(); // 0 + the next gradient is that gradient exactly
                    else p.grad.copy_(g);
                }
                foreach (var (b, saved) in buffers().Zip(savedBuffers)) b.copy_(saved);
            }
            set_rng_state(rng);
            foreach (var g in grads) g?.Dispose();
            foreach (var b in savedBuffers) b.Dispose();
            rng.Dispose();
        }
    }

    private double TimeOnce(Tensor x, MemoryLayout layout, bool training)
    {
        if (layout != _active) Activate(layout); // re-striding is not part of a pass
        using var scope = NewDisposeScope();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var y = ForwardIn(x, layout);
        if (training) y.sum().backward();
        else _ = y.sum().to_type(ScalarType.Float32).item<float>(); // waits for the pass (and reads bf16 too)
        if (x.device_type == DeviceType.CUDA) cuda.synchronize();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>The Auto key of a case: structure (every layer's path, kind and output shape, every parameter shape), input, dtype, device, mode.</summary>
    private string LayoutKey(long[] shape, ScalarType dtype, Device device, bool training)
    {
        var structure = new System.Text.StringBuilder();
        foreach (var r in Trace(shape[2..].Select(v => (int)v).ToArray())) structure.Append(r.Path).Append(' ').Append(r.Kind).Append(' ').Append(r.Output).Append(';');
        foreach (var (n, p) in named_parameters()) structure.Append(n).Append(string.Join("x", p.shape)).Append(';');
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(structure.ToString())))[..16].ToLowerInvariant();
        var precision = _trainingPrecision == Precision.Float32 ? $"{_precision}" : $"{_precision}+{_trainingPrecision} convolutions";
        return $"net {hash}|input {string.Join("x", shape)}|{dtype}|{precision}|{device}|{(training ? "train" : "infer")}";
    }
}
