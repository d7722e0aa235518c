using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>
/// Prepares the batches of steps <c>from .. to-1</c> on a background thread, at most <c>depth</c> ahead, so
/// decoding, cropping, weight maps and augmentation overlap the previous step's forward and backward pass. The
/// batches are the ones a synchronous loop would make (each depends only on its step), so results do not depend
/// on timing. With depth 0 every batch is made on the caller's thread when it is taken.
/// </summary>
internal sealed class Prefetcher : IDisposable
{
    private readonly Func<int, Sample[]> _make;
    private readonly BlockingCollection<(int Step, Sample[]? Batch, Exception? Error)>? _queue;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Task? _worker;
    private readonly Stopwatch _waiting = new();

    public Prefetcher(Func<int, Sample[]> make, int from, int to, int depth)
    {
        _make = make;
        if (depth <= 0 || from >= to) return;
        _queue = new BlockingCollection<(int, Sample[]?, Exception?)>(depth);
        var token = _cancel.Token;
        _worker = Task.Factory.StartNew(() =>
        {
            try
            {
                for (var k = from; k < to && !token.IsCancellationRequested; k++)
                {
                    (int, Sample[]?, Exception?) item;
                    try { item = (k, make(k), null); }
                    catch (Exception e) { item = (k, null, e); }
                    _queue.Add(item, token);
                    if (item.Item3 is not null) break;
                }
            }
            catch (OperationCanceledException) { }
            finally { _queue.CompleteAdding(); }
        }, token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Time the training loop spent waiting for data (with depth 0: making it).</summary>
    public TimeSpan Waited => _waiting.Elapsed;

    /// <summary>The batch of step <paramref name="k"/>; steps must be taken in order. An error making it is rethrown here.</summary>
    public Sample[] Take(int k)
    {
        _waiting.Start();
        try
        {
            if (_queue is null) return _make(k);
            var (step, batch, error) = _queue.Take();
            if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
            if (step != k) throw new InvalidOperationException($"prefetch: step {step} arrived where {k} was expected");
            return batch!;
        }
        finally { _waiting.Stop(); }
    }

    public void Dispose()
    {
        _cancel.Cancel();
        try { _worker?.Wait(); } catch (AggregateException) { }
        _queue?.Dispose();
        _cancel.Dispose();
    }
}
