using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>The number format of a <see cref="Network"/>, with the self-check that keeps bf16 honest.</summary>
public sealed partial class Network
{
    private Precision _precision = Precision.Float32;

    /// <summary>
    /// The number format of weights and activations (Float32 by default). BFloat16 is for inference: it casts
    /// the weights now (re-strided to the active layout), each module casts its input to its own dtype, and the
    /// logits come back as fp32. Every convolution is checked alone first: one whose bf16 output strays more
    /// than <see cref="ConvolutionCheckTolerance"/> from fp32 (libtorch's bf16 kernels are wrong for some
    /// shapes on some CPUs) stays in fp32 (<see cref="Float32Modules"/>); then the whole net is checked
    /// (<see cref="PrecisionCheckError"/>). Setting Float32 again casts back (what bf16 rounded away does not
    /// come back). The parameters are new tensors after a change, so create optimizers afterwards. Refused
    /// where the device has no bf16 instructions.
    /// </summary>
    /// <exception cref="PrecisionNotSupportedException">The device cannot run the precision, or the net fails its self-check.</exception>
    public Precision Precision
    {
        get => _precision;
        set
        {
            if (value == _precision) return;
            if (_trainingPrecision != Precision.Float32)
                throw new InvalidOperationException($"this network trains in mixed precision ({_trainingPrecision} convolutions on fp32 weights): set TrainingPrecision to Float32 before casting its weights");
            var device = parameters().FirstOrDefault()?.device ?? Devices.Default;
            Precisions.EnsureSupported(value, device);
            var (input, reference) = value == Precision.Float32 ? (null, null) : SelfCheckInput(device);
            // The exact fp32 weights, put back if the self-check refuses (a cast to bf16 and back would round them).
            var saved = input is null ? null : state_dict().ToDictionary(p => p.Key, p => p.Value.clone().DetachFromDisposeScope());
            var probes = input is null ? [] : ConvolutionProbes(device);
            try
            {
                this.to(Precisions.DtypeOf(value));
                _precision = value;
                _float32Modules = value == Precision.Float32 ? [] : KeepWrongConvolutionsInFloat32(probes, saved!);
                MemoryLayouts.Restride(this, _active); // a dtype cast gives new, dense NCHW storage
                if (input is not null) SelfCheck(input, reference!, saved!);
            }
            finally
            {
                input?.Dispose();
                reference?.Dispose();
                if (saved is not null) foreach (var t in saved.Values) t.Dispose();
                foreach (var (_, _, x, y) in probes) { x.Dispose(); y.Dispose(); }
            }
        }
    }

    private IReadOnlyList<string> _float32Modules = [];

    /// <summary>
    /// The convolutions a BFloat16 net (<see cref="Precision"/>, or <see cref="TrainingPrecision"/> for training) keeps
    /// in fp32 because their bf16 output (or, for training, a gradient) failed its check (module names).
    /// </summary>
    public IReadOnlyList<string> Float32Modules => _float32Modules;

    /// <summary>
    /// Largest relative error a convolution's bf16 output (and, for training, its input and weight gradients) may
    /// have alone. bf16 keeps 8 significant bits (unit roundoff 2^-9 = 0.002): rounding both factors and the result
    /// bounds each term's error by about 0.006 of its own size, and errors relative to the largest magnitude measured
    /// 0.002-0.008; the wrong kernels seen so far are off by 0.4 and more, so 0.02 separates the two with margin.
    /// </summary>
    public const double ConvolutionCheckTolerance = 0.02;

    /// <summary>Every convolution with a random fp32 input (16x16, its input channels) and its fp32 output.</summary>
    private List<(string Name, nn.Module<Tensor, Tensor> Module, Tensor X, Tensor Y)> ConvolutionProbes(Device device)
    {
        using var _ = no_grad();
        var rng = get_rng_state();
        manual_seed(54321);
        var probes = new List<(string, nn.Module<Tensor, Tensor>, Tensor, Tensor)>();
        foreach (var (name, m) in named_modules())
        {
            long? cin = m switch
            {
                TorchSharp.Modules.Conv2d c => c.weight!.shape[1],
                TorchSharp.Modules.ConvTranspose2d t => t.weight!.shape[0],
                _ => null,
            };
            if (cin is null) continue;
            var conv = (nn.Module<Tensor, Tensor>)m;
            var x = randn([1, cin.Value, 16, 16], device: device).DetachFromDisposeScope();
            probes.Add((name, conv, x, conv.call(x).DetachFromDisposeScope()));
        }
        set_rng_state(rng);
        rng.Dispose();
        return probes;
    }

    /// <summary>Runs every probe in bf16; a convolution off by more than the tolerance goes back to fp32 with its exact weights.</summary>
    private List<string> KeepWrongConvolutionsInFloat32(List<(string Name, nn.Module<Tensor, Tensor> Module, Tensor X, Tensor Y)> probes, Dictionary<string, Tensor> fp32)
    {
        using var _ = no_grad();
        var kept = new List<string>();
        foreach (var (name, m, x, y) in probes)
        {
            using var xb = x.to_type(ScalarType.BFloat16);
            using var yb = m.call(xb);
            using var gap = (yb.to_type(ScalarType.Float32) - y).abs().max();
            using var scale = y.abs().max();
            if (gap.item<float>() / Math.Max(scale.item<float>(), 1e-12f) <= ConvolutionCheckTolerance) continue;
            m.to(ScalarType.Float32);
            foreach (var (local, p) in m.named_parameters())
                p.detach().copy_(fp32[$"{name}.{local}"]);
            kept.Add(name);
        }
        return kept;
    }

    /// <summary>Relative error of the logits in the last precision self-check (max |bf16 - fp32| / max |fp32|); NaN before one.</summary>
    public double PrecisionCheckError { get; private set; } = double.NaN;

    /// <summary>Largest relative logit error <see cref="Precision"/> accepts in its self-check (0.05; tests lower it to force a refusal).</summary>
    public static double PrecisionCheckTolerance { get; internal set; } = 0.05;

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
    /// Zen 5 (correct from 16 channels up, and correct in Debian's PyTorch 1.13 on the same CPU). Those
    /// convolutions are already kept in fp32 by their own check; a net whose bf16 logits still stray further
    /// than <see cref="PrecisionCheckTolerance"/> goes back to fp32 and the change is refused with the
    /// measured error.
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
        var kept = _float32Modules.Count;
        _float32Modules = [];
        var model = CpuInfo.Model;
        throw new PrecisionNotSupportedException(FormattableString.Invariant(
            $"{asked} is refused for this network on this machine: its self-check gave logits {error:F3} away from fp32 (relative to their largest magnitude; bf16 rounding alone stays below {PrecisionCheckTolerance}), with {kept} convolution(s) whose bf16 output was wrong already kept in fp32, on {model}; the network stays in Float32, its weights unchanged"));
    }
}
