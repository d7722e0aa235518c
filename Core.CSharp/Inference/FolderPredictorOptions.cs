using System;
using System.IO;
using CropCat.Imaging;

namespace CropCat.Inference;

/// <summary>Settings of <see cref="FolderPredictor"/>, the options of <c>cropcat predict</c>.</summary>
public sealed record FolderPredictorOptions
{
    /// <summary>Tiling settings (progress is set per image).</summary>
    public TileOptions Tiles { get; init; } = new();

    /// <summary>Also write the probability maps.</summary>
    public bool Probabilities { get; init; }

    /// <summary>Where skipped inputs and progress go (standard error in the CLI); null for silence.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>
    /// Called when an image's tiling starts (its plan known), after each batch of its tiles, and when an input is
    /// finished or passed over (progress bars, verbose logs); null for none.
    /// </summary>
    public Action<PredictionProgress>? Progress { get; init; }

    /// <summary>The pixel budget for reading inputs; the default (2^28 pixels) when null.</summary>
    public ImageLimits? Limits { get; init; }

    /// <summary>Resize each image before prediction (probabilities are resized back before the argmax); null for none.</summary>
    public InputResize? Resize { get; init; }

    /// <summary>Also write a run-length submission CSV here (atomically, once all inputs are done); null for none.</summary>
    public string? Submission { get; init; }

    /// <summary>The competition format of <see cref="Submission"/>.</summary>
    public SubmissionFormat SubmissionFormat { get; init; } = SubmissionFormat.Carvana;

    /// <summary>Test-time augmentation: probabilities averaged over flips (4 in 2-D, 8 in 3-D) or the 8 symmetries of the square. Default none.</summary>
    public TtaMode Tta { get; init; } = TtaMode.None;

    /// <summary>Only this shard of the inputs (see <see cref="Inference.Shard"/>); null predicts them all.</summary>
    public Shard? Shard { get; init; }

    /// <summary>
    /// Skip inputs whose output already exists (outputs are written atomically, so an existing one is complete): a
    /// rerun after a crash or a pre-empted cluster job continues where it stopped. Their submission rows are made
    /// from the existing masks.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>
    /// What computes the tiles (e.g. ONNX Runtime on the exported graph); null for the network itself. The tiles
    /// are still planned from the network's description; the caller owns (and disposes) the engine.
    /// </summary>
    public ITileEngine? Engine { get; init; }

    /// <summary>
    /// When a TIFF is predicted region by region (<see cref="StreamingPredictor"/>: read and written in bands, the mask
    /// as <c>OUTPUT/NAME_mask.tif</c>) instead of in memory. Default <see cref="StreamMode.Auto"/>.
    /// </summary>
    public StreamMode Stream { get; init; } = StreamMode.Auto;

    private readonly double _threshold = 0.5;

    /// <summary>
    /// The foreground probability from which a binary (one-channel sigmoid) net's pixel is foreground; softmax nets
    /// take the argmax and ignore it. In (0, 1); default 0.5.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in (0, 1).</exception>
    public double Threshold
    {
        get => _threshold;
        init => _threshold = value is > 0 and < 1 ? value : throw new ArgumentOutOfRangeException(nameof(Threshold), value, "the threshold must be in (0, 1)");
    }
}

/// <summary>When <see cref="FolderPredictor"/> streams a TIFF instead of reading it whole.</summary>
public enum StreamMode
{
    /// <summary>A single-page TIFF whose header declares more pixels than the pixel budget (<see cref="FolderPredictorOptions.Limits"/>) is streamed; everything else is read whole.</summary>
    Auto,

    /// <summary>Every TIFF input is streamed (another format is reported and skipped).</summary>
    Always,

    /// <summary>Nothing is streamed: an image over the budget is refused, as before streaming existed.</summary>
    Never,
}

/// <summary>Where a <see cref="FolderPredictor"/> run stands.</summary>
/// <param name="ImagesDone">Inputs finished or passed over (skipped, already done) so far.</param>
/// <param name="Images">Inputs of this run (this shard's).</param>
/// <param name="Name">The input being segmented (its file name), or the one just finished.</param>
/// <param name="TilesDone">Tiles of this input predicted so far (per test-time-augmentation copy).</param>
/// <param name="Plan">This input's tile plan (null once it is finished or when it was passed over).</param>
public readonly record struct PredictionProgress(int ImagesDone, int Images, string Name, int TilesDone, TilePlan? Plan);
