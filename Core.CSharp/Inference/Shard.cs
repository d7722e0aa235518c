using System;
using System.Globalization;
using System.Text;

namespace CropCat.Inference;

/// <summary>
/// One of <see cref="Count"/> disjoint parts of a prediction job, for array jobs on a cluster (a Slurm array task,
/// a Kubernetes indexed Job's completion index): an input belongs to shard <c>hash(name) mod Count</c>, with the
/// name of its output without extension, so the split is stable (adding files does not move the others) and
/// inputs that would write the same output always land in the same shard. <see cref="Index"/> counts from 0, as
/// <c>JOB_COMPLETION_INDEX</c> does and <c>--array=0-(N-1)</c> makes <c>SLURM_ARRAY_TASK_ID</c> do.
/// </summary>
/// <param name="Index">This shard, 0 .. Count - 1.</param>
/// <param name="Count">The number of shards, at least 1.</param>
public sealed record Shard(int Index, int Count)
{
    /// <summary>Reads "K/N" (0 &lt;= K &lt; N).</summary>
    /// <exception cref="FormatException">Not two integers K/N with 0 &lt;= K &lt; N.</exception>
    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            || n < 1 || k >= n)
            throw new FormatException($"shard '{text}' is not K/N with 0 <= K < N (K counts from 0, e.g. 0/4 .. 3/4)");
        return new Shard(k, n);
    }

    /// <summary>Whether the input whose output is named <paramref name="outputStem"/> (no extension) belongs to this shard.</summary>
    public bool Contains(string outputStem) => (int)(Fnv1a(outputStem) % (ulong)Count) == Index;

    // FNV-1a over UTF-8: the same on every machine and .NET version (string.GetHashCode is randomised per process).
    private static ulong Fnv1a(string s)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
