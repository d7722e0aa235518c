using System;
using System.IO;
using CropCat.Augment;
using CropCat.Runtime;

namespace CropCat.Training;

/// <summary>Which optimiser updates the weights.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with momentum (the paper: momentum 0.99).</summary>
    Sgd,
    /// <summary>Adam (Kingma and Ba).</summary>
    Adam,
}

/// <summary>How a <see cref="Trainer"/> trains. Defaults follow the paper where it says something.</summary>
public sealed record TrainerOptions
{
    /// <summary>Epochs to train (a resumed run continues up to this number).</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Optimisation steps per epoch; 0 means one pass over the training set.</summary>
    public int StepsPerEpoch { get; init; }
    /// <summary>
    /// The number format convolutions compute in (<see cref="Nets.Network.TrainingPrecision"/>, which the trainer
    /// sets): Float32 (default), or BFloat16 for mixed precision on CPUs with AVX512_BF16 or AMX (fp32 master
    /// weights, optimizer state, batch norm and loss; bf16 convolutions forward and backward, each one checked).
    /// </summary>
    public Precision Precision { get; init; } = Precision.Float32;
    /// <summary>Tiles per step (the paper: one large tile). Samples of a batch must have equal sizes.</summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 0.01;
    /// <summary>
    /// The learning rate of the pretrained encoder's parameters (those named "encoder.*", a ResNet U-Net's trunk), while
    /// the decoder and head train at <see cref="LearningRate"/>: the optimizer then has two parameter groups (decoder and
    /// head first, the encoder second) and <see cref="Schedule"/> scales both alike. Null (default): one rate for all.
    /// A resumed run must use the same value.
    /// </summary>
    public double? EncoderLearningRate { get; init; }
    /// <summary>
    /// Epochs at the start of the run during which the pretrained encoder ("encoder.*") does not train: its parameters
    /// do not require gradients (so they get none, and SGD and Adam leave them, their momentum and weight decay alone)
    /// and its batch norms run in eval mode on their stored statistics, which are therefore not updated either. From
    /// epoch N + 1 on the encoder trains like the rest (batch norm in training mode). Counted in completed epochs, so a
    /// run resumed mid-epoch freezes exactly as the uninterrupted run. 0 (default): never frozen. A resumed run must use
    /// the same value.
    /// </summary>
    public int FreezeEncoderEpochs { get; init; }
    /// <summary>SGD momentum (the paper: 0.99, so that many past samples shape each update).</summary>
    public double Momentum { get; init; } = 0.99;
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; }
    /// <summary>The loss.</summary>
    public LossKind Loss { get; init; } = LossKind.WeightedCrossEntropy;
    /// <summary>Pixel weights for the cross-entropy; null weighs every pixel 1.</summary>
    public WeightMapOptions? WeightMap { get; init; } = new();
    /// <summary>
    /// Batches prepared ahead on a background thread (decode, crop, weight map, augmentation overlap the
    /// previous step); 0 prepares each batch when its step needs it. Results are the same either way. Default 2.
    /// </summary>
    public int Prefetch { get; init; } = 2;
    /// <summary>
    /// What training minimises, e.g. <c>Objective.Parse("bce+dice")</c>; when null, <see cref="Loss"/> (softmax nets)
    /// or binary cross-entropy (one-channel sigmoid nets). Stored in checkpoints as its text form.
    /// </summary>
    public Objective? Objective { get; init; }
    /// <summary>How the learning rate changes over the run's steps (all epochs, or <see cref="MaxSteps"/> when smaller). Default constant.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;
    /// <summary>Rescales the gradients when their global L2 norm exceeds this (null: no clipping).</summary>
    public double? ClipGradientNorm { get; init; }
    /// <summary>
    /// Stops when <see cref="Monitor"/> has not improved for this many validated epochs (null: never). Needs
    /// validation data.
    /// </summary>
    public int? EarlyStoppingPatience { get; init; }
    /// <summary>The validation score that picks the best checkpoint and drives early stopping. Default the validation loss.</summary>
    public ValidationMetric Monitor { get; init; } = ValidationMetric.Loss;
    /// <summary>
    /// Also keep the best checkpoint by <see cref="Monitor"/> beside the last one (<c>NAME.best.safetensors</c>, written
    /// atomically when the score improves). Default true.
    /// </summary>
    public bool KeepBest { get; init; } = true;
    /// <summary>Further metadata written into every checkpoint (e.g. how the images were resized, so prediction resizes alike).</summary>
    public System.Collections.Generic.IReadOnlyDictionary<string, string>? CheckpointMetadata { get; init; }
    /// <summary>Called after every optimisation step with the total step count and the step's loss (progress displays, logs, memory probes).</summary>
    public Action<long, double>? StepDone { get; init; }
    /// <summary>Called after every epoch (and a partial one a limit stopped) with its record, once validation and the epoch line are done (logs such as TensorBoard).</summary>
    public Action<EpochRecord>? EpochDone { get; init; }
    /// <summary>
    /// A composed augmentation pipeline for every training tile (see <see cref="AugmentPipeline"/>); when set it
    /// replaces <see cref="Augment"/>, and its JSON form is stored in checkpoints.
    /// </summary>
    public AugmentPipeline? Pipeline { get; init; }
    /// <summary>Augmentation of every training tile.</summary>
    public AugmentOptions Augment { get; init; } = new();
    /// <summary>Seed of everything random in training: the sample order, augmentation, dropout.</summary>
    public int Seed { get; init; }
    /// <summary>Where to write a checkpoint after every epoch (atomically); null for none.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Stop after this many optimisation steps in all (then validate and checkpoint, mid-epoch if need be); 0 for no limit.</summary>
    public long MaxSteps { get; init; }
    /// <summary>Stop after the step during which this much time has passed (then validate and checkpoint, mid-epoch if need be); null for no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }
    /// <summary>Where the redrawn progress line and the epoch lines go; null for silence. Default: standard error.</summary>
    public TextWriter? Progress { get; init; } = Console.Error;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"TrainerOptions.Epochs must be >= 1, got {Epochs}");
        if (StepsPerEpoch < 0) throw new ArgumentException($"TrainerOptions.StepsPerEpoch must be >= 0, got {StepsPerEpoch}");
        if (MaxSteps < 0) throw new ArgumentException($"TrainerOptions.MaxSteps must be >= 0, got {MaxSteps}");
        if (BatchSize < 1) throw new ArgumentException($"TrainerOptions.BatchSize must be >= 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"TrainerOptions.LearningRate must be > 0, got {LearningRate}");
        if (EncoderLearningRate is { } elr && !(elr > 0)) throw new ArgumentException($"TrainerOptions.EncoderLearningRate must be > 0, got {elr}");
        if (FreezeEncoderEpochs < 0) throw new ArgumentException($"TrainerOptions.FreezeEncoderEpochs must be >= 0, got {FreezeEncoderEpochs}");
        if (Momentum is < 0 or >= 1) throw new ArgumentException($"TrainerOptions.Momentum must be in [0, 1), got {Momentum}");
        if (Prefetch < 0) throw new ArgumentException($"TrainerOptions.Prefetch must be >= 0, got {Prefetch}");
        Schedule.Validate();
        if (ClipGradientNorm is { } c && !(c > 0)) throw new ArgumentException($"TrainerOptions.ClipGradientNorm must be > 0, got {c}");
        if (EarlyStoppingPatience is < 1) throw new ArgumentException($"TrainerOptions.EarlyStoppingPatience must be >= 1, got {EarlyStoppingPatience}");
    }
}

/// <summary>A validation score that selects checkpoints and stops training early.</summary>
public enum ValidationMetric
{
    /// <summary>The validation loss (lower is better).</summary>
    Loss,
    /// <summary>Mean IoU over the foreground classes 1..K-1 (higher is better).</summary>
    MeanIoU,
    /// <summary>Mean Dice over the foreground classes 1..K-1 (higher is better).</summary>
    MeanDice,
    /// <summary>Object-level mean average precision over IoU 0.5:0.95, TGS and DSB 2018's metric (higher is better).</summary>
    MeanAP,
}

/// <summary>One finished epoch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Step">Optimisation steps done after this epoch.</param>
/// <param name="TrainLoss">Mean training loss of the epoch.</param>
/// <param name="ValidationLoss">Mean validation loss (NaN without validation data).</param>
/// <param name="ValidationIoU">Per-class IoU on the validation data (empty without).</param>
/// <param name="ValidationPixelError">Pixel error on the validation data (NaN without).</param>
/// <param name="Seconds">Wall time of the epoch including validation.</param>
public sealed record EpochRecord(int Epoch, long Step, double TrainLoss, double ValidationLoss, double[] ValidationIoU, double ValidationPixelError, double Seconds)
{
    /// <summary>False for the part of an epoch done before a step limit or the time budget stopped training.</summary>
    public bool Complete { get; init; } = true;
    /// <summary>Per-class Dice on the validation data (empty without).</summary>
    public double[] ValidationDice { get; init; } = [];
    /// <summary>Object-level mean average precision on the validation data (NaN without instances).</summary>
    public double ValidationMeanAP { get; init; } = double.NaN;
    /// <summary>The learning rate at the epoch's last step.</summary>
    public double LearningRate { get; init; } = double.NaN;
}

/// <summary>What <see cref="Trainer.Fit(ITrainingSet, System.Collections.Generic.IEnumerable{CropCat.Data.Sample}?)"/> did.</summary>
/// <param name="History">Every epoch of this call.</param>
/// <param name="Steps">Total steps after the call.</param>
/// <param name="Seconds">Wall time of the call.</param>
/// <param name="StoppedByTimeBudget">True when the time budget ended training early.</param>
/// <param name="StoppedByMaxSteps">True when <see cref="TrainerOptions.MaxSteps"/> ended training early.</param>
public sealed record TrainResult(System.Collections.Generic.IReadOnlyList<EpochRecord> History, long Steps, double Seconds, bool StoppedByTimeBudget, bool StoppedByMaxSteps)
{
    /// <summary>Seconds the loop waited for training batches (with prefetch off: spent making them).</summary>
    public double DataSeconds { get; init; }
    /// <summary>True when early stopping ended the run.</summary>
    public bool StoppedEarly { get; init; }
    /// <summary>The best validation score by the monitored metric so far (NaN without validation), and its epoch (0 if none).</summary>
    public (double Value, int Epoch) Best { get; init; } = (double.NaN, 0);
    /// <summary>The best checkpoint's path, when one was written.</summary>
    public string? BestCheckpointPath { get; init; }
}

/// <summary>Training stopped because the loss became NaN or infinite; the last good checkpoint is untouched.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the error.</summary>
    public TrainingDivergedException(long step, int epoch, double loss, string? checkpoint)
        : base($"training diverged: the loss is {loss.ToString(System.Globalization.CultureInfo.InvariantCulture)} at step {step} (epoch {epoch}); weights were not updated with it. " +
               (checkpoint is null ? "No checkpoint was being written." : $"The last good checkpoint {checkpoint} is untouched.") +
               " Try a smaller learning rate.")
    {
        Step = step;
        Epoch = epoch;
        Loss = loss;
    }

    /// <summary>The step whose loss was not finite.</summary>
    public long Step { get; }
    /// <summary>The epoch of that step.</summary>
    public int Epoch { get; }
    /// <summary>The loss value.</summary>
    public double Loss { get; }
}
