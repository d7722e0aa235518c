using System;
using System.Collections.Generic;

namespace CropCat.Training;

/// <summary>
/// The areas of the objects of two instance maps and the pixel count of every overlapping (true, predicted)
/// pair, gathered in three passes over the pixels (largest ids, renumbering, counting) rather than one
/// pass per pair. Ids are renumbered 1..n in raster order of their first counted pixel; 0 is background;
/// truth pixels below 0 are ignored (padding): neither the truth nor the prediction there is counted.
/// </summary>
internal sealed class InstanceOverlap
{
    /// <summary>Largest true x predicted table kept dense; above it (thousands of objects on each side) the pairs go to a dictionary. Tests lower it to run the sparse path.</summary>
    internal static long DenseLimit = 1 << 20;

    private InstanceOverlap(long[] trueArea, long[] predictedArea, List<(int Truth, int Predicted, long Intersection)> pairs)
    {
        TrueArea = trueArea;
        PredictedArea = predictedArea;
        Pairs = pairs;
    }

    /// <summary>Number of true objects (ids other than 0 with at least one counted pixel).</summary>
    public int TrueObjects => TrueArea.Length - 1;

    /// <summary>Number of predicted objects.</summary>
    public int PredictedObjects => PredictedArea.Length - 1;

    /// <summary>Pixels of true object i (index 1..n; index 0 unused).</summary>
    public long[] TrueArea { get; }

    /// <summary>Pixels of predicted object j (index 1..n; index 0 unused).</summary>
    public long[] PredictedArea { get; }

    /// <summary>Every pair of objects that share at least one pixel, with the number they share.</summary>
    public List<(int Truth, int Predicted, long Intersection)> Pairs { get; }

    public static InstanceOverlap Count(int[] truth, int[] predicted)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"truth has {truth.Length} pixels, prediction {predicted.Length}");
        var n = truth.Length;
        int maxTrue = 0, maxPred = 0;
        for (var k = 0; k < n; k++)
        {
            if (predicted[k] < 0) throw new ArgumentException($"predicted instance ids must be >= 0, pixel {k} is {predicted[k]}");
            if (truth[k] < 0) continue;
            maxTrue = Math.Max(maxTrue, truth[k]);
            maxPred = Math.Max(maxPred, predicted[k]);
        }
        // Pass 2 renumbers the ids; pass 3 counts areas and pairs. Looking the ids up again costs less than
        // keeping two renumbered copies of the maps (8 MB for a megapixel image).
        var tMap = new IdMap(maxTrue, n);
        var pMap = new IdMap(maxPred, n);
        for (var k = 0; k < n; k++)
        {
            if (truth[k] < 0) continue;
            tMap.Index(truth[k]);
            pMap.Index(predicted[k]);
        }
        int nt = tMap.Count, np = pMap.Count;
        var tArea = new long[nt + 1];
        var pArea = new long[np + 1];
        var pairs = new List<(int, int, long)>();
        // Row t of the dense table holds the counts of true object t against predicted 0..np (column and row 0,
        // background, are counted but not read).
        var dense = (long)nt * np <= DenseLimit ? new long[(nt + 1) * (np + 1)] : null;
        var sparse = dense is null ? new Dictionary<long, long>() : null;
        for (var k = 0; k < n; k++)
        {
            if (truth[k] < 0) continue;
            int t = tMap.Index(truth[k]), p = pMap.Index(predicted[k]);
            tArea[t]++;
            pArea[p]++;
            if (dense is not null) dense[t * (np + 1) + p]++;
            else if (t > 0 && p > 0)
            {
                var key = ((long)t << 32) | (uint)p;
                sparse![key] = sparse.GetValueOrDefault(key) + 1;
            }
        }
        if (dense is not null)
        {
            for (var t = 1; t <= nt; t++)
                for (var p = 1; p <= np; p++)
                    if (dense[t * (np + 1) + p] > 0) pairs.Add((t, p, dense[t * (np + 1) + p]));
        }
        else
        {
            foreach (var (key, v) in sparse!) pairs.Add(((int)(key >> 32), (int)(key & 0xFFFFFFFF), v));
        }
        return new InstanceOverlap(tArea, pArea, pairs);
    }

    /// <summary>Original id to compact index 1..Count (0 stays 0): an array where the ids are small enough, a dictionary otherwise (e.g. hashed ids).</summary>
    private sealed class IdMap(int maxId, int pixels)
    {
        private readonly int[]? _array = maxId <= 2L * pixels + 65536 ? new int[maxId + 1] : null;
        private readonly Dictionary<int, int> _dict = new();

        /// <summary>Ids seen so far.</summary>
        public int Count { get; private set; }

        public int Index(int id)
        {
            if (id == 0) return 0;
            if (_array is not null)
            {
                var i = _array[id];
                if (i == 0) _array[id] = i = ++Count;
                return i;
            }
            if (!_dict.TryGetValue(id, out var j))
            {
                j = ++Count;
                _dict[id] = j;
            }
            return j;
        }
    }
}
