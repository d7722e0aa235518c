using System;
using System.Diagnostics;
using System.Linq;

namespace CropCat.Inference;

/// <summary>The stages of one batch of overlap-tile inference, in the order they run.</summary>
public enum TileStage
{
    /// <summary>Cutting each tile's mirror window out of the image into the batch buffer.</summary>
    Assemble,

    /// <summary>Moving the batch to the engine's device (free on the CPU).</summary>
    Transfer,

    /// <summary>The engine's forward pass.</summary>
    Forward,

    /// <summary>Softmax (or sigmoid) over the classes.</summary>
    Probabilities,

    /// <summary>Bringing the batch's result back to the CPU as float32 (free when it is already there).</summary>
    CopyBack,

    /// <summary>Writing (exact) or blending (Gaussian) each tile's output into the result.</summary>
    Accumulate,
}

/// <summary>
/// Wall time spent per <see cref="TileStage"/> over one or more predictions (set
/// <see cref="TileOptions.Timings"/> to collect it). On the CPU every stage is synchronous, so the split is
/// the real one; on an asynchronous device (CUDA) the forward's time shows up in whichever stage waits for it.
/// </summary>
public sealed class TileStageTimes
{
    private static readonly int StageCount = Enum.GetValues<TileStage>().Length;
    private readonly long[] _ticks = new long[StageCount];

    /// <summary>Batches timed so far.</summary>
    public int Batches { get; private set; }

    /// <summary>The time spent in <paramref name="stage"/> so far.</summary>
    public TimeSpan this[TileStage stage] => Stopwatch.GetElapsedTime(0, _ticks[(int)stage]);

    /// <summary>The time of all stages together.</summary>
    public TimeSpan Total
    {
        get
        {
            long sum = 0;
            foreach (var t in _ticks) sum += t;
            return Stopwatch.GetElapsedTime(0, sum);
        }
    }

    /// <summary>Forgets everything timed so far.</summary>
    public void Clear()
    {
        Array.Clear(_ticks);
        Batches = 0;
    }

    /// <summary>Adds the time since <paramref name="since"/> (a <see cref="Stopwatch.GetTimestamp"/>) to <paramref name="stage"/>; returns now.</summary>
    internal long Lap(TileStage stage, long since)
    {
        var now = Stopwatch.GetTimestamp();
        _ticks[(int)stage] += now - since;
        return now;
    }

    internal void CountBatch() => Batches++;

    /// <summary>Each stage's share of the total, e.g. "assemble 0.4%, transfer 0.0%, forward 97.1%, ...".</summary>
    public override string ToString()
    {
        var total = Math.Max(1L, _ticks.Sum());
        return string.Join(", ", Enum.GetValues<TileStage>().Select(s => $"{s.ToString().ToLowerInvariant()} {100.0 * _ticks[(int)s] / total:F1}%"));
    }
}
