using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Layers;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>
/// A CropCat network as a TorchSharp module: a tree of <see cref="Layer"/>s whose trainable
/// modules are registered explicitly under readable, stable names ("enc1.conv1.weight",
/// "dec3.up.weight", "head.weight"), so parameters(), state_dict(), train()/eval() and
/// checkpoints see every weight. Every forward checks the input shape first, so a size the
/// net cannot take fails with a <see cref="ShapeException"/> before any activation is allocated.
/// </summary>
public sealed class Network : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, Scope> _scopes = new();

    /// <summary>Wraps <paramref name="root"/> and registers every module in it.</summary>
    /// <param name="root">The layer tree.</param>
    /// <param name="inChannels">Channels of the input image.</param>
    /// <param name="name">Module name.</param>
    public Network(Layer root, int inChannels, string name = "CropCat") : base(name)
    {
        NativeRuntime.EnsureLoaded();
        Root = root;
        InChannels = inChannels;
        foreach (var layer in Flatten(root))
            foreach (var (scope, local, module) in layer.Modules)
            {
                if (local.Length == 0) register_module(scope, module);
                else ScopeFor(scope).Add(local, module);
            }
        Layout = MemoryLayouts.Default;
    }

    private MemoryLayout _layout = MemoryLayout.Contiguous;
    private MemoryLayout _active = MemoryLayout.Contiguous;

    /// <summary>
    /// The memory layout policy of the 4-D weights and of the activations inside a forward pass
    /// (<see cref="MemoryLayouts.Default"/> at construction: Auto). A fixed layout re-strides the weights
    /// now; Auto picks the faster layout per input shape, dtype, device and mode (training or inference) by
    /// timing both at the first forward of that case (<see cref="LayoutTuner"/>). Values, names, checkpoints
    /// and the NCHW output do not change, only speed.
    /// </summary>
    public MemoryLayout Layout
    {
        get => _layout;
        set
        {
            if (value != MemoryLayout.Auto) Activate(value);
            _layout = value;
        }
    }

    private Precision _precision = Precision.Float32;

    /// <summary>
    /// The number format of weights and activations (Float32 by default). BFloat16 is for inference: it casts
    /// the weights now (re-strided to the active layout), casts each input on the way in and returns fp32
    /// logits. Setting Float32 again casts back (what bf16 rounded away does not come back). The parameters
    /// are new tensors after a change, so create optimizers afterwards. Refused where the device has no bf16
    /// instructions.
    /// </summary>
    /// <exception cref="PrecisionNotSupportedException">The default device cannot run the precision.</exception>
    public Precision Precision
    {
        get => _precision;
        set
        {
            if (value == _precision) return;
            var device = parameters().FirstOrDefault()?.device ?? Devices.Default;
            Precisions.EnsureSupported(value, device);
            var (input, reference) = value == Precision.Float32 ? (null, null) : SelfCheckInput(device);
            // The exact fp32 weights, put back if the self-check refuses (a cast to bf16 and back would round them).
            var saved = input is null ? null : state_dict().ToDictionary(p => p.Key, p => p.Value.clone().DetachFromDisposeScope());
            try
            {
                this.to(Precisions.DtypeOf(value));
                MemoryLayouts.Restride(this, _active); // a dtype cast gives new, dense NCHW storage
                _precision = value;
                if (input is not null) SelfCheck(input, reference!, saved!);
            }
            finally
            {
                input?.Dispose();
                reference?.Dispose();
                if (saved is not null) foreach (var t in saved.Values) t.Dispose();
            }
        }
    }

    /// <summary>Relative error of the logits in the last precision self-check (max |bf16 - fp32| / max |fp32|); NaN before one.</summary>
    public double PrecisionCheckError { get; private set; } = double.NaN;

    /// <summary>Largest relative logit error <see cref="Precision"/> accepts in its self-check.</summary>
    public const double PrecisionCheckTolerance = 0.05;

    /// <summary>A random batch at the smallest square size the net takes, and the fp32 logits for it.</summary>
    private (Tensor, Tensor) SelfCheckInput(Device device)
    {
        var size = Enumerable.Range(1, 1024).First(n =>
        {
            try { Infer(n, n); return true; }
            catch (ShapeException) { return false; }
        });
        using var _ = no_grad();
        var wasTraining = training;
        eval();
        var rng = get_rng_state();
        manual_seed(12345);
        var x = rand([1, InChannels, size, size], device: device).DetachFromDisposeScope();
        set_rng_state(rng);
        rng.Dispose();
        var y = forward(x).DetachFromDisposeScope();
        if (wasTraining) train();
        return (x, y);
    }

    /// <summary>
    /// bf16 must compute the same function up to rounding, checked, not assumed: libtorch 2.10's oneDNN
    /// (3.7.1) gives bf16 convolutions with few channels (1->8, 4->8) a relative error of 0.4-0.6 on an AMD EPYC
    /// Zen 5 (correct from 16 channels up, and correct in Debian's PyTorch 1.13 on the same CPU). A net
    /// whose bf16 logits stray further than <see cref="PrecisionCheckTolerance"/> goes back to fp32 and the
    /// change is refused with the measured error.
    /// </summary>
    private void SelfCheck(Tensor x, Tensor reference, Dictionary<string, Tensor> fp32)
    {
        using var _ = no_grad();
        var wasTraining = training;
        eval();
        using var y = forward(x);
        if (wasTraining) train();
        using var gap = (y - reference).abs().max();
        using var scale = reference.abs().max();
        var error = gap.item<float>() / Math.Max(scale.item<float>(), 1e-12f);
        PrecisionCheckError = error;
        if (error <= PrecisionCheckTolerance) return;
        var asked = _precision;
        this.to(ScalarType.Float32);
        var state = state_dict();
        foreach (var (k, t) in fp32) state[k].copy_(t);
        MemoryLayouts.Restride(this, _active);
        _precision = Precision.Float32;
        var model = CpuInfo.Model;
        throw new PrecisionNotSupportedException(FormattableString.Invariant(
            $"{asked} is refused for this network on this machine: its self-check gave logits {error:F3} away from fp32 (relative to their largest magnitude; bf16 rounding alone stays below {PrecisionCheckTolerance}). libtorch's bf16 convolutions are wrong here for some shapes (seen on {model}: convolutions with few channels, 1->8 and 4->8); the network stays in Float32, its weights unchanged"));
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

    /// <summary>The layer tree.</summary>
    public Layer Root { get; }

    /// <summary>Channels the input image must have.</summary>
    public int InChannels { get; }

    /// <summary>Trainable parameters, from the hyperparameters (equals the sum over parameters()).</summary>
    public long ParameterCount => Root.ParameterCount;

    /// <summary>All layers of the tree, depth first.</summary>
    public static IEnumerable<Layer> Flatten(Layer root) =>
        new[] { root }.Concat(root.Children.SelectMany(Flatten));

    /// <summary>The output shape for an input of <paramref name="height"/> x <paramref name="width"/>.</summary>
    /// <exception cref="ShapeException">Some layer refuses; the message names it.</exception>
    public Shape Infer(int height, int width) => Root.Infer(new Shape(InChannels, height, width));

    /// <summary>Every layer's output shape and parameter count for the given input, in execution order.</summary>
    public IReadOnlyList<ShapeTrace> Trace(int height, int width)
    {
        var rows = new List<ShapeTrace>();
        Root.Infer(new Shape(InChannels, height, width), rows);
        return rows;
    }

    /// <summary>Computes class logits for a batch (N, C, H, W) after checking the shape; the result is NCHW-contiguous.</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4)
            throw new ArgumentException($"CropCat expects a 4-D batch (N, C, H, W), got shape [{string.Join(", ", x.shape)}]");
        Root.Infer(new Shape((int)x.shape[1], (int)x.shape[2], (int)x.shape[3]));
        if (_precision != Precision.Float32 && x.dtype != Precisions.DtypeOf(_precision))
        {
            using var cast = x.to_type(Precisions.DtypeOf(_precision));
            using var logits = Forward(cast);
            return logits.to_type(ScalarType.Float32);
        }
        return Forward(x);
    }

    private Tensor Forward(Tensor x)
    {
        var layout = _layout == MemoryLayout.Auto ? AutoLayout(x) : _layout;
        return ForwardIn(x, layout);
    }

    private Tensor ForwardIn(Tensor x, MemoryLayout layout)
    {
        if (layout != _active) Activate(layout);
        if (layout == MemoryLayout.Contiguous) return Root.Forward(x);
        // The input is re-strided once so every layer runs the weights' layout; the logits are
        // returned as plain NCHW because callers read them densely (argmax, data<T>(), PNG writers).
        using var input = MemoryLayouts.To(x, layout);
        using var y = Root.Forward(input);
        return y.contiguous();
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
        foreach (var r in Trace((int)shape[2], (int)shape[3])) structure.Append(r.Path).Append(' ').Append(r.Kind).Append(' ').Append(r.Output).Append(';');
        foreach (var (n, p) in named_parameters()) structure.Append(n).Append(string.Join("x", p.shape)).Append(';');
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(structure.ToString())))[..16].ToLowerInvariant();
        return $"net {hash}|input {string.Join("x", shape)}|{dtype}|{device}|{(training ? "train" : "infer")}";
    }

    private Scope ScopeFor(string dotted)
    {
        if (_scopes.TryGetValue(dotted, out var s)) return s;
        var dot = dotted.LastIndexOf('.');
        var scope = new Scope(dot < 0 ? dotted : dotted[(dot + 1)..]);
        if (dot < 0) register_module(dotted, scope);
        else ScopeFor(dotted[..dot]).Add(dotted[(dot + 1)..], scope);
        _scopes[dotted] = scope;
        return scope;
    }

    /// <summary>A named container that only groups parameters ("enc1", "dec3").</summary>
    private sealed class Scope : nn.Module
    {
        public Scope(string name) : base(name) { }
        public void Add(string name, nn.Module m) => register_module(name, m);
    }
}
