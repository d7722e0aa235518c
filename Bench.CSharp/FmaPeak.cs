using System;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace CropCat.Bench;

/// <summary>The machine's physical fp32 FMA throughput, per instruction set, for a number of threads.</summary>
/// <param name="Threads">Threads run at once (one per core is the peak).</param>
/// <param name="Avx512">GFLOP/s with 512-bit FMAs; NaN when the CPU has no AVX-512F.</param>
/// <param name="Avx2">GFLOP/s with 256-bit FMAs; NaN when the CPU has no FMA3.</param>
public sealed record FmaPeakResult(int Threads, double Avx512, double Avx2)
{
    /// <summary>The higher of the two: the ceiling any fp32 kernel on this CPU can reach.</summary>
    public double Best => new[] { Avx512, Avx2 }.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
}

/// <summary>
/// Measures the fp32 FMA peak the way ../shared/tools/fma_peak.c does, in-process: twelve independent FMA
/// chains per thread (enough to hide the FMA latency on two pipes), one thread per core, best of three.
/// On AMD, libtorch's 2048x2048 GEMM takes MKL's AVX2 path while oneDNN's convolutions use AVX-512, so
/// the GEMM is no ceiling there (convolutions ran at 156-168% of it); this is.
/// </summary>
public static class FmaPeak
{
    /// <summary>Measures both instruction sets with <paramref name="threads"/> threads (about 0.5 s each).</summary>
    public static FmaPeakResult Measure(int threads, long iterationsPerThread = 40_000_000)
    {
        var t = Math.Max(1, threads);
        double Best(Func<long, float> kernel, int lanes) =>
            Enumerable.Range(0, 3).Max(_ => Run(kernel, t, iterationsPerThread, lanes));
        return new FmaPeakResult(t,
            Avx512F.IsSupported ? Best(Chains512, 16) : double.NaN,
            Fma.IsSupported ? Best(Chains256, 8) : double.NaN);
    }

    private static double Run(Func<long, float> kernel, int threads, long iterations, int lanes)
    {
        var sinks = new float[threads];
        using var start = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            sinks[i] = kernel(iterations);
        })).ToArray();
        foreach (var w in workers) w.Start();
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        foreach (var w in workers) w.Join();
        var seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sinks);
        // 12 chains x lanes x 2 flops (multiply and add) per iteration.
        return threads * (double)(iterations / 12 * 12) * lanes * 2 / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chains512(long iterations)
    {
        var b = Vector512.Create(0.999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(0f), a1 = Vector512.Create(1f), a2 = Vector512.Create(2f), a3 = Vector512.Create(3f),
            a4 = Vector512.Create(4f), a5 = Vector512.Create(5f), a6 = Vector512.Create(6f), a7 = Vector512.Create(7f),
            a8 = Vector512.Create(8f), a9 = Vector512.Create(9f), a10 = Vector512.Create(10f), a11 = Vector512.Create(11f);
        for (long k = 0; k < iterations / 12; k++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, b, c); a1 = Avx512F.FusedMultiplyAdd(a1, b, c);
            a2 = Avx512F.FusedMultiplyAdd(a2, b, c); a3 = Avx512F.FusedMultiplyAdd(a3, b, c);
            a4 = Avx512F.FusedMultiplyAdd(a4, b, c); a5 = Avx512F.FusedMultiplyAdd(a5, b, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, b, c); a7 = Avx512F.FusedMultiplyAdd(a7, b, c);
            a8 = Avx512F.FusedMultiplyAdd(a8, b, c); a9 = Avx512F.FusedMultiplyAdd(a9, b, c);
            a10 = Avx512F.FusedMultiplyAdd(a10, b, c); a11 = Avx512F.FusedMultiplyAdd(a11, b, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chains256(long iterations)
    {
        var b = Vector256.Create(0.999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(0f), a1 = Vector256.Create(1f), a2 = Vector256.Create(2f), a3 = Vector256.Create(3f),
            a4 = Vector256.Create(4f), a5 = Vector256.Create(5f), a6 = Vector256.Create(6f), a7 = Vector256.Create(7f),
            a8 = Vector256.Create(8f), a9 = Vector256.Create(9f), a10 = Vector256.Create(10f), a11 = Vector256.Create(11f);
        for (long k = 0; k < iterations / 12; k++)
        {
            a0 = Fma.MultiplyAdd(a0, b, c); a1 = Fma.MultiplyAdd(a1, b, c);
            a2 = Fma.MultiplyAdd(a2, b, c); a3 = Fma.MultiplyAdd(a3, b, c);
            a4 = Fma.MultiplyAdd(a4, b, c); a5 = Fma.MultiplyAdd(a5, b, c);
            a6 = Fma.MultiplyAdd(a6, b, c); a7 = Fma.MultiplyAdd(a7, b, c);
            a8 = Fma.MultiplyAdd(a8, b, c); a9 = Fma.MultiplyAdd(a9, b, c);
            a10 = Fma.MultiplyAdd(a10, b, c); a11 = Fma.MultiplyAdd(a11, b, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
