using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CropCat.Nets;
using CropCat.Shapes;

namespace CropCat.Inference;

/// <summary>
/// Predicts the activation peak of one forward pass over a batch of tiles from the description's per-layer
/// shape trace and the layers' lifetimes, with no trial run, and picks the largest valid tile that fits a
/// memory budget. The lifetime rule is the one the layers follow (perf-baseline.md: intermediates die at
/// last use): while a layer runs its input and output are alive; a skip connection's input (the encoder
/// feature) stays alive from the layer that produced it until its merge, where the feature, the body's
/// output and the concatenation are alive together. All float32.
/// </summary>
public static class TileMemory
{
    /// <summary>Bytes of one float32 element.</summary>
    public const int BytesPerElement = sizeof(float);

    /// <summary>
    /// Resident bytes per byte of tensors the layers hold, measured, not derived: libtorch's CPU convolution
    /// (oneDNN) reorders an NCHW input and output into blocked copies, and the allocator keeps slack. Measured
    /// 2.8-3.3x on the paper net (tiles 252, 572, 892; `cropcat bench-tiling --memory`, libtorch 2.10, Zen 4),
    /// so the prediction multiplies the tensor peak by 3.4 to stay above what was seen.
    /// </summary>
    public const double RuntimeFactor = 3.4;

    /// <summary>The fraction of available memory the default budget takes (<see cref="DefaultBudget"/>).</summary>
    public const double DefaultFraction = 0.5;

    /// <summary>
    /// The predicted resident peak of one forward pass of <paramref name="batch"/> tiles of edge <paramref name="tile"/>:
    /// <see cref="TensorPeakBytes"/> times <see cref="RuntimeFactor"/>.
    /// </summary>
    /// <exception cref="CropCat.Shapes.ShapeException"><paramref name="tile"/> is not a valid input of the net.</exception>
    public static long PeakBytes(Network net, int tile, int batch = 1) =>
        (long)Math.Ceiling(RuntimeFactor * TensorPeakBytes(net, tile, batch));

    /// <summary>
    /// The peak bytes of activation tensors alive at once in one forward pass of <paramref name="batch"/>
    /// tiles of edge <paramref name="tile"/> by the layers' lifetimes (input included, weights, the image
    /// and the runtime's own copies excluded).
    /// </summary>
    /// <exception cref="CropCat.Shapes.ShapeException"><paramref name="tile"/> is not a valid input of the net.</exception>
    public static long TensorPeakBytes(Network net, int tile, int batch = 1)
    {
        ArgumentNullException.ThrowIfNull(net);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "a batch has at least one tile");
        var extents = Enumerable.Repeat(tile, net.Dims).ToArray();
        var rows = net.Trace(extents);
        var input = (long)net.InChannels * extents.Aggregate(1L, (n, e) => n * e);
        var outputs = rows.Select(r => Elements(r.Output)).ToArray();
        long Before(int i) => i == 0 ? input : outputs[i - 1];
        // Each skip merge row: where its body starts (the row after the one that produced the skip's input).
        var skipFrom = new Dictionary<int, int>();
        for (var i = 0; i < rows.Count; i++)
        {
            var prefix = rows[i].Path + " / ";
            var start = -1;
            for (var j = 0; j < i; j++)
                if (rows[j].Path.StartsWith(prefix, StringComparison.Ordinal)) { start = j; break; }
            if (start >= 0) skipFrom[i] = start;
        }
        long peak = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            // Skip inputs produced before this row and merged after it (the layer's own input counted once).
            long held = 0;
            foreach (var (merge, start) in skipFrom)
                if (start < i && merge > i) held += Before(start);
            var live = skipFrom.TryGetValue(i, out var s)
                ? Before(s) + Before(i) + outputs[i]          // feature, body output, concatenation
                : Before(i) + outputs[i];                     // the layer's input and output
            peak = Math.Max(peak, held + live);
        }
        return peak * BytesPerElement * batch;
    }

    /// <summary>
    /// The largest valid tile (for batches of <paramref name="batch"/>) whose <see cref="PeakBytes"/> is at most
    /// <paramref name="budget"/> bytes and whose output is at least <paramref name="minOutput"/> px; null when even
    /// the smallest such tile does not fit. Tiles above <paramref name="maxTile"/> are not considered (an image
    /// needs no tile larger than itself plus its margins).
    /// </summary>
    public static TileChoice? LargestFitting(Network net, long budget, int batch = 1, int minOutput = 1, int maxTile = 1 << 16)
    {
        var sizes = TilePlan.SolutionOf(net);
        TileChoice? best = null;
        var next = sizes.AtLeast(1, minOutput);
        // The peak grows with the tile (a property test checks it), so the scan stops at the first that does not fit.
        while (next is { } n && n.Input <= maxTile && PeakBytes(net, n.Input, batch) <= budget)
        {
            best = new TileChoice(n.Input, net.Infer(net.Spec.Cube(n.Input)));
            next = sizes.AtLeast(n.Input + 1, minOutput);
        }
        return best;
    }

    /// <summary>
    /// <see cref="DefaultFraction"/> of the memory this process may still use: MemAvailable from /proc/meminfo,
    /// or the cgroup's limit minus its usage when that is lower; 4 GiB where neither can be read.
    /// </summary>
    public static long DefaultBudget() => (long)(DefaultFraction * (AvailableBytes() ?? 8L << 30));

    /// <summary>The bytes this process may still allocate (MemAvailable, or the cgroup v2/v1 headroom when lower); null when unknown.</summary>
    public static long? AvailableBytes()
    {
        long? available = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    available = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var headroom = CgroupHeadroom("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current")
            ?? CgroupHeadroom("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes");
        return (available, headroom) switch
        {
            ({ } a, { } h) => Math.Min(a, h),
            ({ } a, null) => a,
            (null, var h) => h,
        };
    }

    private static long? CgroupHeadroom(string limitPath, string usagePath)
    {
        try
        {
            var limit = File.ReadAllText(limitPath).Trim();
            if (limit == "max" || !long.TryParse(limit, out var l) || l >= long.MaxValue / 2) return null;
            return long.TryParse(File.ReadAllText(usagePath).Trim(), out var u) ? Math.Max(0, l - u) : l;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>A byte count for messages in the largest binary unit that keeps it at least 1 (B, KiB, MiB, GiB), so small budgets do not read as "0 MiB".</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }

    /// <summary>
    /// Parses a byte count: a number with an optional unit B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB,
    /// TB (powers of 1000), e.g. "2GiB", "1.5 GiB", "800MB", "1048576".
    /// </summary>
    /// <exception cref="FormatException">Not a positive number with a known unit; the message shows the text.</exception>
    public static long ParseBytes(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        var split = t.Length;
        while (split > 0 && char.IsLetter(t[split - 1])) split--;
        var unit = t[split..].ToLowerInvariant();
        long scale = unit switch
        {
            "" or "b" => 1,
            "kib" or "k" => 1L << 10,
            "mib" or "m" => 1L << 20,
            "gib" or "g" => 1L << 30,
            "tib" or "t" => 1L << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => throw new FormatException($"'{text}' has the unknown unit '{t[split..]}' (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)"),
        };
        if (!double.TryParse(t[..split].Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) || !(n > 0) || n * scale >= long.MaxValue)
            throw new FormatException($"'{text}' is not a positive amount of memory such as 2GiB or 800MB");
        return Math.Max(1, (long)(n * scale));
    }

    private static long Elements(Shape s) => s.Extents.Aggregate((long)s.Channels, (n, e) => n * e);
}
