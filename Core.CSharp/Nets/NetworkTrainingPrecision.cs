using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Layers;
using CropCat.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>Mixed-precision training of a <see cref="Network"/>: fp32 master weights, bf16 convolutions, each one checked.</summary>
public sealed partial class Network
{
    private Precision _trainingPrecision = Precision.Float32;

    /// <summary>
    /// The number format convolutions compute in while the weights stay fp32 (mixed-precision training; Float32 by
    /// default). BFloat16: every convolution casts its fp32 weight and bias to bf16 on each call (autograd carries
    /// the gradient back through the cast, so gradients, optimizer state and updates are fp32) and its input where it
    /// is not bf16 already; its output stays bf16 for the next convolution, ReLU and pooling, and batch norm, the
    /// logits and so the loss are fp32. Each convolution is first checked alone, forward and backward
    /// (<see cref="ConvolutionGradientCheckErrors"/>): one whose bf16 output, input gradient or weight gradient strays
    /// more than <see cref="TrainingConvolutionCheckTolerance"/> from fp32 computes in fp32 (<see cref="Float32Modules"/>);
    /// then the whole net's logits are checked (<see cref="PrecisionCheckError"/>, <see cref="PrecisionCheckTolerance"/>).
    /// The parameters are not touched, so an optimizer made before stays valid and a checkpoint holds fp32 weights.
    /// Needs <see cref="Precision"/> Float32 (a net with bf16 weights has no fp32 master copy to train).
    /// </summary>
    /// <exception cref="PrecisionNotSupportedException">The device has no bf16 instructions, or the net fails its self-check (it stays Float32).</exception>
    /// <exception cref="InvalidOperationException">The weights themselves are bf16 (<see cref="Precision"/>).</exception>
    public Precision TrainingPrecision
    {
        get => _trainingPrecision;
        set
        {
            if (value == _trainingPrecision) return;
            if (value == Precision.Float32)
            {
                foreach (var (_, c) in Convolutions()) CastConvolution.Plain(c);
                _trainingPrecision = value;
                _float32Modules = [];
                return;
            }
            if (_precision != Precision.Float32)
                throw new InvalidOperationException($"mixed-precision training needs fp32 master weights, but this network's weights are {_precision}: set Precision to Float32 first");
            var device = parameters().FirstOrDefault()?.device ?? Devices.Default;
            Precisions.EnsureSupported(value, device);
            // The fp32 reference logits, before any convolution computes in bf16.
            var (input, reference) = SelfCheckInput(device);
            try
            {
                var kept = ComputeCheckedConvolutionsIn(Precisions.DtypeOf(value), device);
                var error = LogitError(input, reference);
                PrecisionCheckError = error;
                if (error > PrecisionCheckTolerance)
                    throw new PrecisionNotSupportedException(FormattableString.Invariant(
                        $"mixed-precision {value} training is refused for this network on this machine: its self-check gave logits {error:F3} away from fp32 (relative to their largest magnitude; bf16 rounding alone stays below {PrecisionCheckTolerance}), with {kept.Count} convolution(s) whose bf16 forward or backward was wrong already kept in fp32, on {CpuInfo.Model}; the network stays in Float32"));
                _trainingPrecision = value;
                _float32Modules = kept;
            }
            catch
            {
                foreach (var (_, c) in Convolutions()) CastConvolution.Plain(c);
                throw;
            }
            finally
            {
                input.Dispose();
                reference.Dispose();
            }
        }
    }

    /// <summary>Checks every convolution (<see cref="GradientCheck"/>) and makes those that pass compute in <paramref name="dtype"/>; returns the others' names.</summary>
    private List<string> ComputeCheckedConvolutionsIn(ScalarType dtype, Device device)
    {
        var errors = new Dictionary<string, double>();
        var kept = new List<string>();
        // The probes draw from a fixed seed and leave the caller's random stream where it was.
        var rng = get_rng_state();
        try
        {
            manual_seed(54321);
            foreach (var (name, c) in Convolutions())
            {
                var error = GradientCheck(c, dtype, device);
                errors[name] = error;
                if (error <= TrainingConvolutionCheckTolerance) CastConvolution.Compute(c, dtype);
                else kept.Add(name);
            }
        }
        finally
        {
            set_rng_state(rng);
            rng.Dispose();
        }
        ConvolutionGradientCheckErrors = errors;
        return kept;
    }

    /// <summary>max |logits(input) - reference| / max |reference| in eval mode.</summary>
    private double LogitError(Tensor input, Tensor reference)
    {
        using var _ = no_grad();
        var wasTraining = training;
        eval();
        using var y = forward(input);
        if (wasTraining) train();
        using var gap = (y - reference).abs().max();
        using var scale = reference.abs().max();
        return gap.item<float>() / Math.Max(scale.item<float>(), 1e-12f);
    }

    /// <summary>
    /// Per convolution (module name), the largest relative error of its bf16 output, input gradient and weight
    /// gradient in the last <see cref="TrainingPrecision"/> check (empty before one).
    /// </summary>
    public IReadOnlyDictionary<string, double> ConvolutionGradientCheckErrors { get; private set; } = new Dictionary<string, double>();

    /// <summary>
    /// Largest relative error a convolution's bf16 output, input gradient or weight gradient may have in the
    /// <see cref="TrainingPrecision"/> check: <see cref="ConvolutionCheckTolerance"/> (0.02; the gradients are sums
    /// of bf16 products accumulated in fp32 like the output, and measured 0.003-0.006 on AMD Zen 4). Tests lower it
    /// to force the fp32 fallback.
    /// </summary>
    public static double TrainingConvolutionCheckTolerance { get; internal set; } = ConvolutionCheckTolerance;

    private IEnumerable<(string Name, Convolution Conv)> Convolutions() =>
        named_modules().Select(m => (m.name, m.module as Convolution)).Where(m => m.Item2 is not null).Select(m => (m.Item1, m.Item2!));

    /// <summary>
    /// <paramref name="c"/>'s largest relative error in <paramref name="dtype"/> against fp32, over its output and the
    /// gradients of a random loss sum(y * g) with respect to its input and weight (and bias), on a random input with
    /// 16 pixels per axis (8 in 3-D); each error is max |low - fp32| / max |fp32|. Runs on detached copies of the weights.
    /// </summary>
    private static double GradientCheck(Convolution c, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var dims = (int)c.weight!.dim() - 2;
        var extent = dims == 3 ? 8L : 16L;
        var shape = new long[dims + 2];
        Array.Fill(shape, extent);
        (shape[0], shape[1]) = (1, c.in_channels);
        var x = randn(shape, device: device);
        var w = c.weight!.detach().clone();
        var b = c.bias?.detach().clone();
        Tensor? g = null;
        (Tensor Y, Tensor Gx, Tensor Gw, Tensor? Gb) Run(ScalarType compute)
        {
            var xl = x.clone().requires_grad_();
            var wl = w.clone().requires_grad_();
            var bl = b?.clone().requires_grad_();
            var y = CastConvolution.Apply(c, xl, wl, bl, compute).to_type(ScalarType.Float32);
            g ??= randn_like(y);
            (y * g).sum().backward();
            return (y.detach(), xl.grad!, wl.grad!, bl?.grad);
        }
        var exact = Run(ScalarType.Float32);
        var low = Run(dtype);
        static double Rel(Tensor a, Tensor reference)
        {
            var gap = (a - reference).abs().max().item<float>();
            return gap / Math.Max(reference.abs().max().item<float>(), 1e-12f);
        }
        var error = Math.Max(Rel(low.Y, exact.Y), Math.Max(Rel(low.Gx, exact.Gx), Rel(low.Gw, exact.Gw)));
        return exact.Gb is null ? error : Math.Max(error, Rel(low.Gb!, exact.Gb));
    }
}
