using System;
using System.Collections.Generic;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>
/// A least-recently-used cache of prepared samples, bounded in bytes (image planes, classes, instances and
/// weights), so a dataset larger than memory trains in bounded memory while a small one is decoded once.
/// Safe to use from several threads.
/// </summary>
public sealed class SampleCache
{
    private readonly Func<int, Sample> _load;
    private readonly Dictionary<int, LinkedListNode<(int Key, Sample Value, long Bytes)>> _map = new();
    private readonly LinkedList<(int Key, Sample Value, long Bytes)> _order = new();
    private readonly object _gate = new();

    /// <summary>A cache of at most <paramref name="maxBytes"/> over <paramref name="load"/> (0 keeps nothing).</summary>
    public SampleCache(Func<int, Sample> load, long maxBytes)
    {
        if (maxBytes < 0) throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "the cache size must be >= 0");
        _load = load;
        MaxBytes = maxBytes;
    }

    /// <summary>The byte bound.</summary>
    public long MaxBytes { get; }
    /// <summary>Bytes held now.</summary>
    public long Bytes { get; private set; }
    /// <summary>Loads so far (misses).</summary>
    public long Loads { get; private set; }
    /// <summary>Hits so far.</summary>
    public long Hits { get; private set; }

    /// <summary>The memory a sample's arrays take.</summary>
    public static long SizeOf(Sample s) =>
        4L * s.Image.Length + 4L * s.Classes.Length + 4L * (s.Instances?.Length ?? 0) + 4L * (s.Weights?.Length ?? 0);

    /// <summary>The sample of <paramref name="key"/>, loaded on a miss (outside the lock, so one slow decode does not block hits).</summary>
    public Sample Get(int key)
    {
        lock (_gate)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                Hits++;
                return node.Value.Value;
            }
        }
        var s = _load(key);
        var bytes = SizeOf(s);
        lock (_gate)
        {
            Loads++;
            if (bytes > MaxBytes || _map.ContainsKey(key)) return s;
            while (Bytes + bytes > MaxBytes && _order.Last is { } last)
            {
                _order.RemoveLast();
                _map.Remove(last.Value.Key);
                Bytes -= last.Value.Bytes;
            }
            _map[key] = _order.AddFirst((key, s, bytes));
            Bytes += bytes;
        }
        return s;
    }
}
