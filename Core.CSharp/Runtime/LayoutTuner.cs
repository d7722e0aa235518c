using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using CropCat.Imaging;

namespace CropCat.Runtime;

/// <summary>What <see cref="LayoutTuner"/> chose for one case, with the median times it measured.</summary>
/// <param name="Layout">The faster layout.</param>
/// <param name="ContiguousMs">Median time of one pass in NCHW, milliseconds.</param>
/// <param name="ChannelsLastMs">Median time of one pass in channels-last, milliseconds.</param>
/// <param name="FromCache">True when the choice was read from the cache file rather than measured in this process.</param>
/// <param name="Steady">
/// False when the timed passes of a candidate varied by more than <see cref="LayoutTuner.MaxSpread"/> (the machine was
/// busy): such a choice holds for this process but is not written to the cache file, so a later process times again.
/// </param>
public sealed record LayoutChoice(MemoryLayout Layout, double ContiguousMs, double ChannelsLastMs, bool FromCache, bool Steady = true);

/// <summary>
/// Chooses the memory layout per case by timing, in the spirit of cuDNN's benchmark mode: no fixed
/// default wins everywhere (channels-last trained the paper net 3% faster than NCHW on an Intel Xeon,
/// 28% slower on an AMD EPYC Zen 5). A case is a key (network structure, input shape, dtype, device,
/// training or inference) on this machine (CPU model, cores, libtorch threads, TorchSharp version). The
/// first time a case is seen each candidate runs one warm-up pass and then <see cref="Repetitions"/>
/// timed passes, interleaved so that drift on a shared machine hits both alike; the lower median wins.
/// Choices are kept in memory and in a small JSON file (<see cref="CachePath"/>) that later processes
/// read and a user may delete at any time. A choice measured while the machine was busy (a candidate's passes
/// spread by more than <see cref="MaxSpread"/>) is not written to the file: a cached choice lasts, so it must
/// come from a steady measurement (one made beside a build once cached channels-last for the paper net's
/// training step on a Zen 4, 10% slower than NCHW there).
/// </summary>
public static class LayoutTuner
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, LayoutChoice> Memory = new();
    private static bool _fileRead;

    /// <summary>The layouts timed against each other.</summary>
    public static readonly IReadOnlyList<MemoryLayout> Candidates = [MemoryLayout.Contiguous, MemoryLayout.ChannelsLast];

    /// <summary>
    /// Where a choice that took noticeable time (over 2 s of timing) is reported in one line, so that a long first
    /// step is explained; null for silence. Default: standard error.
    /// </summary>
    public static System.IO.TextWriter? Log { get; set; } = Console.Error;

    /// <summary>Timed passes per candidate after the warm-up (default 3).</summary>
    public static int Repetitions { get; set; } = 3;

    /// <summary>
    /// The largest spread (slowest over fastest pass, minus 1) of a candidate's timed passes for which a choice is
    /// written to the cache file (default 0.15). Quiet runs of the paper net spread by 1-9% on the 2-vCPU machines
    /// seen; beside a build or another benchmark, 20-80%.
    /// </summary>
    public static double MaxSpread { get; set; } = 0.15;

    /// <summary>
    /// The cache file: CROPCAT_LAYOUT_CACHE when set (a path, or "off" for none), else
    /// $XDG_CACHE_HOME/cropcat/layouts.json, else ~/.cache/cropcat/layouts.json. Null: no file.
    /// </summary>
    public static string? CachePath
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("CROPCAT_LAYOUT_CACHE");
            if (!string.IsNullOrEmpty(env)) return env is "off" or "none" ? null : env;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            var root = !string.IsNullOrEmpty(xdg) ? xdg : string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache");
            return root is null ? null : Path.Combine(root, "cropcat", "layouts.json");
        }
    }

    /// <summary>
    /// This machine's part of every key: CPU model, logical cores, libtorch threads, TorchSharp version and the
    /// allocator setting (<see cref="Allocator.HeapKept"/>), which moves the layouts' times apart: the paper net's
    /// training step took 5.4 s (NCHW, heap kept) and 6.9 s (heap trimmed) on a Zen 4, and the trimmed process
    /// found channels-last faster where the kept one found NCHW faster.
    /// </summary>
    public static string MachineKey =>
        string.Create(CultureInfo.InvariantCulture,
            $"{CpuInfo.Model}|{Environment.ProcessorCount} cpus|{TorchSharp.torch.get_num_threads()} threads|TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}|heap {(Allocator.HeapKept ? "kept" : "trimmed")}");

    /// <summary>The choice for <paramref name="key"/> on this machine if one is known (in memory or in the cache file).</summary>
    public static LayoutChoice? Known(string key)
    {
        lock (Gate)
        {
            ReadFileOnce();
            return Memory.TryGetValue(Full(key), out var c) ? c : null;
        }
    }

    /// <summary>Every choice known to this process (this machine's), by key.</summary>
    public static IReadOnlyDictionary<string, LayoutChoice> Choices
    {
        get
        {
            lock (Gate)
            {
                ReadFileOnce();
                var prefix = MachineKey + "|";
                return Memory.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))
                    .ToDictionary(p => p.Key[prefix.Length..], p => p.Value);
            }
        }
    }

    /// <summary>
    /// The layout for <paramref name="key"/>: the known choice, or else the faster candidate by the lower median of
    /// <paramref name="timeOnce"/> (which runs one pass in the given layout and returns its seconds), remembered.
    /// </summary>
    public static LayoutChoice Choose(string key, Func<MemoryLayout, double> timeOnce)
    {
        var known = Known(key) ?? KnownAfterReread(key);
        if (known is not null) return known;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var l in Candidates) timeOnce(l); // warm-up: first-call allocation and oneDNN kernel creation
        var times = Candidates.ToDictionary(l => l, _ => new List<double>());
        for (var r = 0; r < Math.Max(1, Repetitions); r++)
            foreach (var l in r % 2 == 0 ? Candidates : Candidates.Reverse())
                times[l].Add(timeOnce(l));
        double Median(MemoryLayout l) => Median_(times[l]) * 1000;
        var best = Candidates.MinBy(Median);
        var spread = Candidates.Max(l => Spread(times[l]));
        var steady = spread <= MaxSpread;
        var choice = new LayoutChoice(best, Median(MemoryLayout.Contiguous), Median(MemoryLayout.ChannelsLast), false, steady);
        lock (Gate)
        {
            Memory[Full(key)] = choice;
            if (steady) WriteFile();
        }
        // Short cases stay silent either way: their passes vary by tens of percent anyway and timing them again costs nothing.
        if (clock.Elapsed.TotalSeconds > 2 && Log is { } log)
        {
            var kept = !steady
                ? string.Create(CultureInfo.InvariantCulture, $"; passes varied by {spread:P0}, so the machine was busy: this process only, not cached")
                : CachePath is { } p ? $", kept in {p}" : "";
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cropcat: memory layout for {key}: {best} (NCHW {choice.ContiguousMs:F0} ms, channels-last {choice.ChannelsLastMs:F0} ms a pass; timed in {clock.Elapsed.TotalSeconds:F0} s{kept})"));
        }
        return choice;
    }

    /// <summary>Slowest over fastest pass, minus 1 (0 for one pass).</summary>
    private static double Spread(List<double> xs) => xs.Count < 2 || xs.Min() <= 0 ? 0 : xs.Max() / xs.Min() - 1;

    /// <summary>
    /// Another process may have timed the case since this one read the file (the bench's engines run in several
    /// processes): read it again before timing, so a case is timed once per machine and no choice overwrites another.
    /// </summary>
    private static LayoutChoice? KnownAfterReread(string key)
    {
        lock (Gate)
        {
            foreach (var (k, c) in ReadFile(warn: false)) Memory.TryAdd(k, c);
            return Memory.TryGetValue(Full(key), out var c2) ? c2 : null;
        }
    }

    /// <summary>Forgets every in-memory choice and re-reads the cache file on next use (tests; a user deleting the file).</summary>
    public static void Reset()
    {
        lock (Gate)
        {
            Memory.Clear();
            _fileRead = false;
        }
    }

    private static string Full(string key) => MachineKey + "|" + key;

    private static double Median_(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private sealed record Entry(string Layout, double ContiguousMs, double ChannelsLastMs);

    private static void ReadFileOnce()
    {
        if (_fileRead) return;
        _fileRead = true;
        foreach (var (k, c) in ReadFile()) Memory.TryAdd(k, c);
    }

    /// <summary>The cache file's entries; an unreadable or corrupt file counts as empty (it is only a cache) and is rewritten.</summary>
    private static Dictionary<string, LayoutChoice> ReadFile(bool warn = true)
    {
        var path = CachePath;
        var result = new Dictionary<string, LayoutChoice>();
        if (path is null || !File.Exists(path)) return result;
        try
        {
            var entries = JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(path)) ?? [];
            foreach (var (k, e) in entries)
                if (Enum.TryParse<MemoryLayout>(e.Layout, out var l) && l != MemoryLayout.Auto)
                    result[k] = new LayoutChoice(l, e.ContiguousMs, e.ChannelsLastMs, true);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            if (warn) Console.Error.WriteLine($"cropcat: ignoring the layout cache {path}: {e.Message}");
        }
        return result;
    }

    private static void WriteFile()
    {
        var path = CachePath;
        if (path is null) return;
        try
        {
            // Merge with what other processes wrote meanwhile; this process's measurements win.
            var all = ReadFile(warn: false);
            foreach (var (k, c) in Memory.Where(p => !p.Value.FromCache && p.Value.Steady)) all[k] = c;
            var entries = all.ToDictionary(p => p.Key, p => new Entry(p.Value.Layout.ToString(), Math.Round(p.Value.ContiguousMs, 3), Math.Round(p.Value.ChannelsLastMs, 3)));
            AtomicFile.WriteText(path, JsonSerializer.Serialize(entries, new JsonSerializerOptions { WriteIndented = true }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home must not stop training: the choice still holds for this process.
            Console.Error.WriteLine($"cropcat: cannot write the layout cache {path}: {e.Message}");
        }
    }
}
