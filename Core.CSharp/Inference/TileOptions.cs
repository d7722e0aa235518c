using System;

namespace CropCat.Inference;

/// <summary>How the tiles' predictions are put together.</summary>
public enum TileMode
{
    /// <summary><see cref="Exact"/> for nets that lose a border (unpadded), <see cref="Gaussian"/> for nets that keep their size (padded).</summary>
    Auto,

    /// <summary>
    /// The paper's overlap-tile strategy: each tile contributes its valid centre, tiles start at multiples of the
    /// down-sampling factor, and the result equals one forward pass over the whole mirror-padded image.
    /// For padded nets this gives non-overlapping tiles with visible seams.
    /// </summary>
    Exact,

    /// <summary>
    /// Overlapping tiles averaged with a Gaussian importance map (as MONAI's sliding-window inference and
    /// nnU-Net do): the weight falls off towards each tile's border, where a zero-padded net sees false context.
    /// Close to, but not equal to, the whole-image prediction.
    /// </summary>
    Gaussian,
}

/// <summary>What the predictor accumulates per class.</summary>
public enum TileOutput
{
    /// <summary>Softmax over the classes, per pixel.</summary>
    Probabilities,

    /// <summary>The network's raw class scores.</summary>
    Logits,
}

/// <summary>Settings of <see cref="OverlapTile"/>. The defaults are the paper's 572 px tile, one tile per forward, exact stitching where possible.</summary>
public sealed record TileOptions
{
    /// <summary>
    /// The requested input tile edge; the predictor takes the smallest valid input at least this large
    /// (and shrinks it to the image when the whole mirror-padded image fits in one smaller tile).
    /// </summary>
    public int TileSize { get; init; } = 572;

    /// <summary>Tiles per forward pass; more is faster on a GPU, and memory grows with it.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Exact stitching, Gaussian blending, or chosen from the net (<see cref="TileMode.Auto"/>).</summary>
    public TileMode Mode { get; init; } = TileMode.Auto;

    /// <summary>Gaussian mode: fraction of a tile's output shared with its neighbour (0.5: half a tile).</summary>
    public double Overlap { get; init; } = 0.5;

    /// <summary>Gaussian mode: sigma of the importance map as a fraction of the tile's output edge (1/8, as MONAI and nnU-Net).</summary>
    public double SigmaScale { get; init; } = 0.125;

    /// <summary>Probabilities (softmax, or sigmoid for a one-channel head) or logits.</summary>
    public TileOutput Output { get; init; } = TileOutput.Probabilities;

    /// <summary>Called after every forward pass with (tiles done, tiles in all); null for none.</summary>
    public Action<int, int>? Progress { get; init; }

    /// <summary>
    /// When set, the tile is the largest valid one whose predicted activation peak for a batch of
    /// <see cref="BatchSize"/> fits this many bytes (<see cref="TileMemory.LargestFitting"/>), and
    /// <see cref="TileSize"/> is ignored; <see cref="TileMemory.DefaultBudget"/> gives a default from the
    /// machine's available memory. Null: <see cref="TileSize"/> decides.
    /// </summary>
    public long? MemoryBudget { get; init; }

    /// <summary>When set, <see cref="OverlapTile.Predict"/> adds the wall time of each stage of every batch to it (a profile); null for none.</summary>
    public TileStageTimes? Timings { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (TileSize < 1) throw new ArgumentException($"TileOptions.TileSize must be >= 1, got {TileSize}");
        if (BatchSize < 1) throw new ArgumentException($"TileOptions.BatchSize must be >= 1, got {BatchSize}");
        if (Overlap is < 0 or >= 1) throw new ArgumentException($"TileOptions.Overlap must be in [0, 1), got {Overlap}");
        if (MemoryBudget is < 1) throw new ArgumentException($"TileOptions.MemoryBudget must be >= 1 byte, got {MemoryBudget}");
        if (!(SigmaScale > 0)) throw new ArgumentException($"TileOptions.SigmaScale must be > 0, got {SigmaScale}");
    }
}
