using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Bench;

/// <summary>
/// One fp32 GEMM at a time on fixed operands, to interleave with the cases of a benchmark: a machine
/// whose speed drifts (shared cores, clock changes) is then compared with itself at the same moment.
/// </summary>
public sealed class MatmulProbe : IDisposable
{
    private readonly Tensor _a, _b;
    private readonly int _n;

    /// <summary>Allocates two <paramref name="n"/> x <paramref name="n"/> operands and runs one untimed warm-up.</summary>
    public MatmulProbe(int n = 2048)
    {
        _n = n;
        using var g = new Generator(7);
        _a = randn(new long[] { n, n }, generator: g);
        _b = randn(new long[] { n, n }, generator: g);
        _a.mm(_b).Dispose();
    }

    /// <summary>Runs one GEMM and returns its rate in GFLOP/s (2 n^3 FLOP).</summary>
    public double Gflops()
    {
        var sw = Stopwatch.StartNew();
        _a.mm(_b).Dispose();
        return 2.0 * _n * _n * _n / sw.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>Frees the operands.</summary>
    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }
}

/// <summary>What the machine can do and what a process holds: the fp32 matmul ceiling and peak memory.</summary>
public static class Machine
{
    /// <summary>
    /// The fp32 matmul ceiling through libtorch: a <paramref name="n"/> x <paramref name="n"/> GEMM
    /// (2 n^3 FLOP), one untimed warm-up, then the median GFLOP/s of <paramref name="reps"/> runs.
    /// Returns (median, best).
    /// </summary>
    public static (double Median, double Best) MatmulGflops(int n = 2048, int reps = 7)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(7);
        var a = randn(new long[] { n, n }, generator: g);
        var b = randn(new long[] { n, n }, generator: g);
        a.mm(b).Dispose(); // warm-up: thread pool start, first touch of the output block
        var rates = new List<double>();
        for (var i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            a.mm(b).Dispose();
            rates.Add(2.0 * n * n * n / sw.Elapsed.TotalSeconds / 1e9);
        }
        return (Stats.Median(rates), rates.Max());
    }

    /// <summary>Peak resident memory of this process (VmHWM) in MiB; NaN where /proc is missing.</summary>
    public static double PeakRssMiB() => ReadStatusKiB("VmHWM:") / 1024.0;

    /// <summary>Current resident memory of this process (VmRSS) in MiB; NaN where /proc is missing.</summary>
    public static double RssMiB() => ReadStatusKiB("VmRSS:") / 1024.0;

    /// <summary>
    /// The CPU in one line, for every reported number: model name, family and model (the model name alone says
    /// "AMD EPYC" on several generations), logical CPUs, and the vector extensions that change libtorch's kernels.
    /// </summary>
    public static string Describe()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return $"unknown CPU, {Environment.ProcessorCount} CPUs";
        var lines = File.ReadLines(cpuinfo).TakeWhile(l => l.Length > 0).ToList();
        string Field(string key) =>
            lines.FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var flags = Field("flags").Split(' ').ToHashSet();
        var isa = flags.Contains("avx512f") ? "AVX-512" : flags.Contains("avx2") ? "AVX2" : "no AVX2";
        if (flags.Contains("avx512_bf16")) isa += " + AVX512_BF16";
        if (flags.Contains("amx_tile")) isa += " + AMX";
        return $"{Field("model name")} (family {Field("cpu family")} model {Field("model")}), {Environment.ProcessorCount} CPUs, {isa}";
    }

    private static double ReadStatusKiB(string key)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return double.NaN;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        if (line is null) return double.NaN;
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Floating-point work of a network, counted from its shape trace (one multiply-add = 2 FLOP).</summary>
public static class Flops
{
    /// <summary>
    /// FLOP of one forward pass at batch 1: 3x3 conv 2*9*Cin*Cout*H*W per output pixel set, 2x2
    /// stride-2 transposed conv 2*Cin*Cout*H*W (one tap per output pixel), 1x1 head 2*Cin*Cout*H*W;
    /// pooling, ReLU, crop and concatenation are not counted. The input channels of each layer are the
    /// output channels of the row before it in the trace (the trace is in execution order). The ResNet encoder's and
    /// smp decoder's rows (kinds "Conv7x7/2+BN+ReLU", "Conv3x3/2+BN", "Conv1x1/2+BN", "Conv3x3+BN+ReLU", a projection
    /// reads the block's input, a decoder conv the concatenation) count 2 FLOP per weight per output pixel, the weights
    /// being the row's parameters less the batch norm's two per channel (their convolutions have no bias); smp's
    /// "Head3x3" likewise, less its bias. Batch norm, residual additions and the nearest up-sampling are not counted.
    /// </summary>
    public static double Forward(IReadOnlyList<ShapeTrace> trace, int inChannels)
    {
        double total = 0;
        var cin = inChannels;
        foreach (var r in trace)
        {
            var o = r.Output;
            double pixels = (double)o.Height * o.Width;
            total += r.Kind switch
            {
                "Conv3x3+ReLU" => 2.0 * 9 * cin * o.Channels * pixels,
                "UpConv2x2" or "Head1x1" => 2.0 * cin * o.Channels * pixels,
                "Bilinear2x+1x1" => 2.0 * cin * o.Channels * pixels,
                "Head3x3" => 2.0 * (r.Parameters - o.Channels) * pixels,
                var k when k.StartsWith("Conv", StringComparison.Ordinal) && k.Contains("+BN", StringComparison.Ordinal) => 2.0 * (r.Parameters - 2L * o.Channels) * pixels,
                _ => 0,
            };
            cin = o.Channels;
        }
        return total;
    }

    /// <summary>
    /// FLOP of one training step: the forward, plus the backward's two products per layer (gradient of
    /// the input and of the weights), each as large as the forward's, less the input gradient of the
    /// first convolution, which autograd skips because the image needs no gradient.
    /// </summary>
    public static double TrainStep(IReadOnlyList<ShapeTrace> trace, int inChannels)
    {
        var fwd = Forward(trace, inChannels);
        var first = trace.Count > 0 ? Forward(new[] { trace[0] }, inChannels) : 0;
        return 3 * fwd - first;
    }
}

/// <summary>Order statistics of repeated timings.</summary>
public static class Stats
{
    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>Spread as (max - min) / median, the relative range of the repetitions.</summary>
    public static double RelativeRange(IReadOnlyList<double> xs) =>
        xs.Count == 0 ? double.NaN : (xs.Max() - xs.Min()) / Median(xs);
}
