using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CropCat.Architecture;
using CropCat.Augment;
using CropCat.Data;
using CropCat.IO;
using CropCat.Nets;
using CropCat.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>Scores of a network on held-out samples.</summary>
/// <param name="Scores">Per-class IoU and Dice, pixel error, over all pixels of the predicted regions.</param>
/// <param name="RandError">Mean adapted Rand error (<see cref="Metrics.RandErrorOfClasses"/>, scikit-image's definition) over the samples with instance maps (NaN if none).</param>
/// <param name="Loss">Mean loss with the trainer's loss and weights.</param>
/// <param name="Predictions">The predicted class map of each sample (its output region, row-major).</param>
public sealed record Evaluation(SegmentationScores Scores, double RandError, double Loss, IReadOnlyList<int[]> Predictions)
{
    /// <summary>Per-class IoU, Dice, precision and recall (NaN where a class is absent from truth and prediction).</summary>
    public ClassScores? Classes { get; init; }
    /// <summary>
    /// Object-level mean average precision over IoU thresholds 0.5:0.95 (TGS and DSB 2018's metric), true objects
    /// from the instance maps and predicted objects as 4-connected components of the predicted foreground, one
    /// score per tile (the part inside its image), averaged; NaN when no sample has instances.
    /// </summary>
    public double MeanAP { get; init; } = double.NaN;
}

/// <summary>
/// Trains a CropCat <see cref="Network"/> the paper's way: one tile per step (by default), pixel-weighted
/// softmax cross-entropy over the valid output region, SGD with momentum 0.99 (or Adam), elastic
/// augmentation. Every random choice derives from (seed, epoch) or (seed, step), so a run is reproducible
/// on the CPU and a run resumed from a checkpoint continues exactly as the uninterrupted run would.
/// Each step runs in its own dispose scope; the parameters and optimizer state live outside it, so
/// memory stays flat over any number of steps. Usable from C# and F#.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainerOptions _o;

    /// <summary>Creates a trainer and its optimiser over <paramref name="network"/>'s parameters.</summary>
    /// <param name="network">The net to train (it stays owned by the caller).</param>
    /// <param name="labels">The label schema, stored in checkpoints; its class count must match the net's output.</param>
    /// <param name="options">How to train.</param>
    public Trainer(Network network, LabelSchema labels, TrainerOptions options)
    {
        options.Validate();
        NativeRuntime.EnsureLoaded();
        if (network.Precision != Precision.Float32)
            throw new ArgumentException($"the network computes in {network.Precision}; training needs Float32 weights (for bf16 training use TrainerOptions.Precision, mixed precision on fp32 weights)");
        // Refused here, before any step, where the CPU lacks bf16 or a self-check fails.
        network.TrainingPrecision = options.Precision;
        Network = network;
        Labels = labels;
        _o = options;
        // A one-channel head is a binary sigmoid net: binary cross-entropy unless told otherwise (the softmax losses refuse it).
        Objective = options.Objective ?? (network.Spec.OutChannels == 1 ? new BinaryCrossEntropy() : Objective.FromKind(options.Loss));
        Objective.Validate();
        _encoder = new EncoderTraining(network);
        if (!_encoder.Any && (options.EncoderLearningRate is not null || options.FreezeEncoderEpochs > 0))
            throw new ArgumentException(
                $"TrainerOptions.{(options.EncoderLearningRate is not null ? "EncoderLearningRate" : "FreezeEncoderEpochs")}: the network has no pretrained encoder " +
                $"(no parameters named {ResNetUNets.EncoderPrefix}*); build it with a ResNet encoder (ResNetUNets.Describe, cropcat train --encoder)");
        Optimizer = _encoder.Optimizer(options);
        _baseRates = EncoderTraining.BaseRates(options);
    }

    private readonly EncoderTraining _encoder;
    private readonly double[] _baseRates;

    /// <summary>The network being trained.</summary>
    public Network Network { get; }
    /// <summary>Its description (stored in checkpoints), read from the network.</summary>
    public NetworkDescription Architecture => Network.Description;
    /// <summary>The label schema (stored in checkpoints).</summary>
    public LabelSchema Labels { get; }
    /// <summary>What training minimises (<see cref="TrainerOptions.Objective"/>, or the one <see cref="TrainerOptions.Loss"/> names).</summary>
    public Objective Objective { get; }
    /// <summary>The TorchSharp optimiser.</summary>
    public optim.Optimizer Optimizer { get; }
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; private set; }
    /// <summary>Completed optimisation steps.</summary>
    public long Step { get; private set; }

    /// <summary>Steps done in the current, unfinished epoch (0 at an epoch boundary).</summary>
    public int EpochStep { get; private set; }

    /// <summary>
    /// Loads weights, optimiser state, epoch and step (including a position inside an unfinished epoch) from a
    /// checkpoint written by a trainer. The next <see cref="Fit(ITrainingSet, IEnumerable{Sample}?)"/> continues exactly where that run stopped: it
    /// finishes the interrupted epoch in the same sample order, so the weights end as an uninterrupted run's.
    /// Refused, changing nothing, when the checkpoint was trained with another seed or batch size; another
    /// data set or number of steps per epoch is refused by <see cref="Fit(ITrainingSet, IEnumerable{Sample}?)"/>, which sees the data.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The checkpoint does not fit the net, the optimiser or these options.</exception>
    public CheckpointInfo Resume(string path)
    {
        var header = Checkpoint.ReadInfo(path);
        var problems = new List<string>();
        Compare(header, ResumeKeys.Seed, _o.Seed.ToString(CultureInfo.InvariantCulture), "seed", problems);
        Compare(header, ResumeKeys.BatchSize, _o.BatchSize.ToString(CultureInfo.InvariantCulture), "batch size", problems);
        // bf16 rounds every convolution: the other precision would not continue as the uninterrupted run.
        Compare(header, ResumeKeys.Precision, _o.Precision.ToString(), "precision", problems);
        // Another encoder rate or freezing would update other weights than the uninterrupted run did.
        Compare(header, ResumeKeys.EncoderLearningRate, EncoderRateText, "encoder learning rate", problems);
        Compare(header, ResumeKeys.FreezeEncoderEpochs, _o.FreezeEncoderEpochs.ToString(CultureInfo.InvariantCulture), "encoder frozen for epochs", problems);
        if (problems.Count > 0) throw ResumeMismatch(path, problems);
        // An encoder frozen for every step so far has no SGD momentum yet: its buffers are rightly absent.
        var unstepped = _encoder.Any && !EncoderTraining.SteppedBy(_o, header.Epoch, header.EpochStep) ? _encoder.Names : null;
        var info = Checkpoint.Load(path, Network, Optimizer, unstepped);
        Epoch = info.Epoch;
        Step = info.Step;
        EpochStep = info.EpochStep;
        // The best score and the epochs since it: early stopping and best-checkpoint selection go on where they were.
        if (info.Extra.TryGetValue(ResumeKeys.Best, out var best))
        {
            var parts = best.Split(' ');
            _best = (double.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
            _stale = int.Parse(parts[2], CultureInfo.InvariantCulture);
        }
        _resumed = (path, info);
        return info;
    }

    /// <summary>Writes a checkpoint of the current state (atomically).</summary>
    public void SaveCheckpoint(string path)
    {
        var extra = new Dictionary<string, string>
        {
            [ResumeKeys.Seed] = _o.Seed.ToString(CultureInfo.InvariantCulture),
            [ResumeKeys.BatchSize] = _o.BatchSize.ToString(CultureInfo.InvariantCulture),
            [ResumeKeys.Precision] = _o.Precision.ToString(),
            [ResumeKeys.EncoderLearningRate] = EncoderRateText,
            [ResumeKeys.FreezeEncoderEpochs] = _o.FreezeEncoderEpochs.ToString(CultureInfo.InvariantCulture),
            ["loss"] = Objective.ToString(),
            ["learning_rate"] = _o.LearningRate.ToString("R", CultureInfo.InvariantCulture),
        };
        if (_o.CheckpointMetadata is { } more)
            foreach (var (k, v) in more) extra.TryAdd(k, v);
        // What Fit saw last (or the resumed checkpoint said): what a resumed run must see again.
        var steps = _stepsPerEpoch ?? Carried(ResumeKeys.StepsPerEpoch);
        var data = _dataFingerprint ?? Carried(ResumeKeys.Data);
        if (steps is not null) extra[ResumeKeys.StepsPerEpoch] = steps;
        if (!double.IsNaN(_best.Value))
            extra[ResumeKeys.Best] = string.Create(CultureInfo.InvariantCulture, $"{_best.Value:R} {_best.Epoch} {_stale}");
        extra["monitor"] = _o.Monitor.ToString();
        if (_o.Pipeline is { } pipeline) extra["augment"] = pipeline.ToJson();
        if (data is not null) extra[ResumeKeys.Data] = data;
        Checkpoint.Save(path, Network, Optimizer, new CheckpointInfo(Architecture, Labels, Epoch, Step, "", extra) { EpochStep = EpochStep });
    }

    /// <summary>
    /// The order in which epoch <paramref name="epoch"/> (0-based) visits <paramref name="count"/> training
    /// samples under <paramref name="seed"/>: step k of the epoch takes samples k*B .. k*B+B-1 of it (modulo count).
    /// </summary>
    public static int[] SampleOrder(int seed, int epoch, int count) => Permutation(count, Mix(seed, epoch, 0x5eed));

    /// <summary>
    /// Trains from the current position up to <see cref="TrainerOptions.Epochs"/>, validating (when
    /// <paramref name="validation"/> is given) and checkpointing after every epoch and when a step limit or
    /// the time budget stops training mid-epoch (that checkpoint records the position inside the epoch).
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="CheckpointMismatchException">Resumed from a checkpoint that saw other data or another number of steps per epoch.</exception>
    public TrainResult Fit(IReadOnlyList<Sample> train, IReadOnlyList<Sample>? validation = null)
    {
        if (train.Count == 0) throw new ArgumentException("no training samples");
        return Fit(new FixedTiles(WithWeights(train)), validation is null ? null : WithWeights(validation));
    }

    /// <summary>
    /// Trains on tiles drawn from <paramref name="trainSet"/> (draw k of step s gets its own seed, so random crops
    /// are reproducible and a resumed run draws what the uninterrupted one would), prepared on a background thread
    /// <see cref="TrainerOptions.Prefetch"/> steps ahead. <paramref name="validation"/> is enumerated once per epoch,
    /// so it may be lazy (tiles decoded as they are scored). Otherwise as <see cref="Fit(IReadOnlyList{Sample}, IReadOnlyList{Sample}?)"/>.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="CheckpointMismatchException">Resumed from a checkpoint that saw other data or another number of steps per epoch.</exception>
    public TrainResult Fit(ITrainingSet trainSet, IEnumerable<Sample>? validation = null)
    {
        if (trainSet.Count == 0) throw new ArgumentException("no training samples");
        Allocator.KeepHeap();
        var valSet = validation;
        var steps = _o.StepsPerEpoch > 0 ? _o.StepsPerEpoch : Math.Max(1, trainSet.Count / _o.BatchSize);
        _stepsPerEpoch = steps.ToString(CultureInfo.InvariantCulture);
        _dataFingerprint = trainSet.Fingerprint;
        CheckResumedData();
        if (_o.EarlyStoppingPatience is not null && validation is null)
            throw new ArgumentException("early stopping watches a validation score: give validation data (or leave EarlyStoppingPatience unset)");
        _totalSteps = (long)_o.Epochs * steps;
        if (_o.MaxSteps > 0) _totalSteps = Math.Min(_totalSteps, _o.MaxSteps);
        var waited = TimeSpan.Zero;
        var early = false;
        var history = new List<EpochRecord>();
        var clock = Stopwatch.StartNew();
        _fitStartStep = Step;
        var stopped = false;
        var capped = _o.MaxSteps > 0 && Step >= _o.MaxSteps;
        while (Epoch < _o.Epochs && !stopped && !capped && !early)
        {
            var epochClock = Stopwatch.StartNew();
            var order = SampleOrder(_o.Seed, Epoch, trainSet.Count);
            double lossSum = 0;
            var done = 0;
            Network.train();
            var (firstK, firstStep) = (EpochStep, Step);
            // A step limit ends the epoch early: prefetch no further than the steps that will run.
            var lastK = _o.MaxSteps > 0 ? (int)Math.Min(steps, firstK + Math.Max(0, _o.MaxSteps - Step)) : steps;
            var prefetch = new Prefetcher(k => MakeBatch(trainSet, order, k, firstStep + (k - firstK)), firstK, lastK, _o.Prefetch);
            try
            {
                for (var k = EpochStep; k < steps; k++)
                {
                    var loss = TrainStep(prefetch.Take(k));
                    lossSum += loss;
                    _o.StepDone?.Invoke(Step, loss);
                    done++;
                    EpochStep = k + 1;
                    Progress(steps, k + 1, lossSum / done, clock.Elapsed.TotalSeconds);
                    if (_o.TimeBudget is { } budget && clock.Elapsed >= budget) stopped = true;
                    if (_o.MaxSteps > 0 && Step >= _o.MaxSteps) capped = true;
                    if (stopped || capped) break;
                }
            }
            finally
            {
                // Stopped early (time budget) or failed: the worker must not keep decoding while validation runs.
                waited += prefetch.Waited;
                prefetch.Dispose();
            }
            // A limit reached with an epoch's last step still completes that epoch.
            var complete = EpochStep == steps;
            if (complete)
            {
                Epoch++;
                EpochStep = 0;
            }
            var val = valSet is null ? null : Evaluate(valSet, keepPredictions: false);
            // A partial epoch is reported under the number of the epoch it belongs to, with the steps it did.
            var rec = new EpochRecord(complete ? Epoch : Epoch + 1, Step, done == 0 ? double.NaN : lossSum / done, val?.Loss ?? double.NaN,
                val?.Scores.IoU ?? [], val?.Scores.PixelError ?? double.NaN, epochClock.Elapsed.TotalSeconds)
            {
                Complete = complete,
                ValidationDice = val?.Scores.Dice ?? [],
                ValidationMeanAP = val?.MeanAP ?? double.NaN,
                LearningRate = CurrentLearningRate(),
            };
            history.Add(rec);
            EpochLine(rec, done);
            _o.EpochDone?.Invoke(rec);
            var improved = false;
            if (val is not null && complete)
            {
                var score = Score(val);
                improved = double.IsNaN(_best.Value) || score > _best.Value;
                if (improved)
                {
                    _best = (score, Epoch);
                    _stale = 0;
                }
                else _stale++;
                early = _o.EarlyStoppingPatience is { } patience && _stale >= patience;
            }
            if (_o.CheckpointPath is not null)
            {
                SaveCheckpoint(_o.CheckpointPath);
                // The best is a copy of the last when it improved: both written atomically, the best never half-written.
                if (improved && _o.KeepBest) SaveCheckpoint(BestPath(_o.CheckpointPath));
            }
            if (early) _o.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"early stop: validation {_o.Monitor} has not improved for {_stale} epoch(s); best {Reported(_best.Value):G5} at epoch {_best.Epoch}"));
        }
        // The caller gets its net back trainable, whatever epoch the run stopped in.
        _encoder.Release();
        var bestPath = _o.CheckpointPath is { } cp && _o.KeepBest && !double.IsNaN(_best.Value) ? BestPath(cp) : null;
        return new TrainResult(history, Step, clock.Elapsed.TotalSeconds, stopped, capped)
        {
            DataSeconds = waited.TotalSeconds,
            StoppedEarly = early,
            Best = (double.IsNaN(_best.Value) ? double.NaN : Reported(_best.Value), _best.Epoch),
            BestCheckpointPath = bestPath,
        };
    }

    /// <summary>Metadata keys that must agree for a resumed run to continue exactly.</summary>
    private static class ResumeKeys
    {
        public const string Seed = "seed";
        public const string BatchSize = "batch_size";
        public const string Precision = "precision";
        public const string EncoderLearningRate = "encoder_lr";
        public const string FreezeEncoderEpochs = "freeze_encoder_epochs";
        public const string StepsPerEpoch = "steps_per_epoch";
        public const string Data = "data";
        public const string Best = "best";
    }

    /// <summary>The encoder rate as checkpoints store it: "none" for one rate for all.</summary>
    private string EncoderRateText => _o.EncoderLearningRate is { } r ? r.ToString("R", CultureInfo.InvariantCulture) : "none";

    private (string Path, CheckpointInfo Info)? _resumed;
    private (double Value, int Epoch) _best = (double.NaN, 0);
    private int _stale;
    private long _totalSteps = 1;

    /// <summary>The best checkpoint's path beside <paramref name="checkpoint"/>: <c>model.safetensors</c> -> <c>model.best.safetensors</c>.</summary>
    public static string BestPath(string checkpoint) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(checkpoint) ?? "", System.IO.Path.GetFileNameWithoutExtension(checkpoint) + ".best" + System.IO.Path.GetExtension(checkpoint));

    /// <summary>The monitored score of an evaluation, oriented so that larger is better.</summary>
    private double Score(Evaluation e) => _o.Monitor switch
    {
        ValidationMetric.Loss => -e.Loss,
        ValidationMetric.MeanIoU => ForegroundMean(e.Scores.IoU),
        ValidationMetric.MeanDice => ForegroundMean(e.Scores.Dice),
        ValidationMetric.MeanAP => e.MeanAP,
        _ => throw new ArgumentOutOfRangeException(nameof(_o.Monitor), _o.Monitor, "unknown metric"),
    };

    private static double ForegroundMean(double[] perClass) =>
        perClass.Length <= 1 ? perClass.DefaultIfEmpty(double.NaN).First() : perClass.Skip(1).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average();

    /// <summary>The monitored value as reported (the loss itself, not its negation).</summary>
    private double Reported(double score) => _o.Monitor == ValidationMetric.Loss ? -score : score;
    private string? _stepsPerEpoch;
    private string? _dataFingerprint;

    private string? Carried(string key) =>
        _resumed is { } r && r.Info.Extra.TryGetValue(key, out var v) ? v : null;

    private void CheckResumedData()
    {
        if (_resumed is not { } r) return;
        var problems = new List<string>();
        Compare(r.Info, ResumeKeys.StepsPerEpoch, _stepsPerEpoch!, "steps per epoch", problems);
        Compare(r.Info, ResumeKeys.Data, _dataFingerprint!, "training data", problems);
        if (problems.Count > 0) throw ResumeMismatch(r.Path, problems);
    }

    /// <summary>Adds a problem when the checkpoint stored <paramref name="key"/> with another value (older checkpoints may lack it).</summary>
    private static void Compare(CheckpointInfo info, string key, string now, string what, List<string> problems)
    {
        if (info.Extra.TryGetValue(key, out var then) && then != now)
            problems.Add($"{what}: {Shorten(then)} in the checkpoint, {Shorten(now)} now");
    }

    private static string Shorten(string s) => s.Length > 48 ? s[..48] + "..." : s;

    private static CheckpointMismatchException ResumeMismatch(string path, List<string> problems) =>
        new($"cannot resume from {path}: it was trained with other settings ({string.Join("; ", problems)}). " +
            "A resumed run continues exactly only with the same seed, batch size, precision, encoder learning rate and freezing, steps per epoch and training data; start a new run to change them");

    /// <summary>
    /// One optimisation step on <paramref name="batch"/> outside <see cref="Fit(ITrainingSet, IEnumerable{Sample}?)"/> (weight maps are computed
    /// for samples without one); returns the loss. Counts towards <see cref="Step"/>.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss is NaN or infinite; the weights are left as they were.</exception>
    public double TrainOn(IReadOnlyList<Sample> batch)
    {
        Network.train();
        return TrainStep(Augmented(WithWeights(batch).ToArray(), Step));
    }

    /// <summary>
    /// The augmented batch of epoch step <paramref name="k"/> (global step <paramref name="step"/>): its draws,
    /// weight maps where missing, then augmentation. Pure CPU work on arrays, run on the prefetch thread.
    /// </summary>
    private Sample[] MakeBatch(ITrainingSet set, int[] order, int k, long step)
    {
        var batch = new Sample[_o.BatchSize];
        for (var b = 0; b < batch.Length; b++)
            batch[b] = set.Draw(order[(k * _o.BatchSize + b) % order.Length], Mix(_o.Seed, (int)step, 0xc409 + b));
        return Augmented(WithWeights(batch).ToArray(), step);
    }

    private Sample[] Augmented(Sample[] batch, long step) =>
        batch.Select((s, b) =>
        {
            var seed = (int)Mix(_o.Seed, (int)step, b);
            return _o.Pipeline is { } pipeline ? pipeline.Apply(s, seed) : Augmenter.Apply(s, seed, _o.Augment);
        }).ToArray();

    /// <summary>One optimisation step on an augmented <paramref name="batch"/>; returns the loss.</summary>
    private double TrainStep(Sample[] batch)
    {
        using var scope = NewDisposeScope();
        // Dropout draws from torch's generator: seed it per step so a resumed run draws the same masks.
        manual_seed(Mix(_o.Seed, (int)Step, 0xd20f));
        var (x, target, weights, valid) = ToTensors(batch);
        _encoder.Apply(EncoderTraining.FrozenAt(_o, Epoch));
        SetLearningRate(_o.Schedule.Factor(Step, _totalSteps));
        Optimizer.zero_grad();
        var logits = Network.forward(x);
        var loss = Objective.Compute(logits, target, weights, valid);
        var value = loss.item<float>();
        if (!float.IsFinite(value)) throw new TrainingDivergedException(Step + 1, Epoch + 1, value, _o.CheckpointPath);
        loss.backward();
        if (_o.ClipGradientNorm is { } maxNorm) ClipGradients(maxNorm);
        Optimizer.step();
        Step++;
        return value;
    }

    /// <summary>Each parameter group at its base rate (the encoder's own, when set) times the schedule's <paramref name="factor"/>.</summary>
    private void SetLearningRate(double factor)
    {
        var i = 0;
        foreach (var g in Optimizer.ParamGroups) g.LearningRate = _baseRates[i++] * factor;
    }

    private double CurrentLearningRate() => Optimizer.ParamGroups.Select(g => g.LearningRate).DefaultIfEmpty(double.NaN).First();

    /// <summary>Scales every gradient by max / norm when their global L2 norm exceeds <paramref name="maxNorm"/> (PyTorch's clip_grad_norm_).</summary>
    private void ClipGradients(double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = Network.parameters().Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return;
        // One reduction and one read of the total, not a device sync per parameter.
        var norm = stack(grads.Select(g => g.pow(2).sum()).ToArray()).sum().sqrt().item<float>();
        if (norm <= maxNorm) return;
        var factor = maxNorm / (norm + 1e-6);
        foreach (var g in grads) g.mul_(factor);
    }

    /// <summary>Predicts the class map of every sample's output region and scores it.</summary>
    public Evaluation Evaluate(IReadOnlyList<Sample> samples, bool keepPredictions = true) => Evaluate((IEnumerable<Sample>)samples, keepPredictions);

    /// <summary>
    /// Scores tiles enumerated once, one at a time (so a lazy enumeration holds one tile in memory). Pixels of
    /// class <see cref="TileWindow.Ignore"/> (outside their image) count in no score and no loss.
    /// </summary>
    public Evaluation Evaluate(IEnumerable<Sample> samples, bool keepPredictions = true)
    {
        var confusion = new ConfusionMatrix(Labels.ClassCount);
        var predictions = new List<int[]>();
        double lossSum = 0, randSum = 0;
        var randCount = 0;
        var wasTraining = Network.training;
        Network.eval();
        var count = 0;
        var map = new MeanAveragePrecision();
        foreach (var raw in samples)
        {
            var s = WithWeights([raw])[0];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, target, weights, valid) = ToTensors([s]);
            using var logits = Network.forward(x);
            using var l = Objective.Compute(logits, target, weights, valid);
            lossSum += l.item<float>();
            var pred = ClassMap(logits);
            var (oh, ow) = ((int)logits.shape[2], (int)logits.shape[3]);
            var truth = Crops.Center(s.Classes, s.Height, s.Width, oh, ow);
            confusion.Add(truth, pred);
            if (s.Instances is not null && Inside(truth, oh, ow) is { } box)
            {
                // Rand error over the part of the window inside the image (a rectangle by construction).
                var trueObjects = Box(Crops.Center(s.Instances, s.Height, s.Width, oh, ow), ow, box);
                var predicted = Box(pred, ow, box);
                randSum += Metrics.RandErrorOfClasses(trueObjects, predicted, box.H, box.W);
                randCount++;
                map.Add(trueObjects, ObjectScores.Instances(Array.ConvertAll(predicted, c => c > 0), box.H, box.W), box.H, box.W);
            }
            if (keepPredictions) predictions.Add(pred);
            count++;
        }
        if (wasTraining) Network.train();
        if (count == 0) throw new ArgumentException("no validation samples");
        return new Evaluation(confusion.Scores(), randCount == 0 ? double.NaN : randSum / randCount, lossSum / count, predictions)
        {
            Classes = confusion.ClassScores(),
            MeanAP = map.Images == 0 ? double.NaN : map.Value,
        };
    }

    /// <summary>The bounding box of the non-ignored pixels of an h x w class map (null when all are ignored).</summary>
    private static (int Y, int X, int H, int W)? Inside(int[] classes, int h, int w)
    {
        int y0 = h, y1 = -1, x0 = w, x1 = -1;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                if (classes[y * w + x] != TileWindow.Ignore)
                {
                    y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
                    x0 = Math.Min(x0, x); x1 = Math.Max(x1, x);
                }
        return y1 < 0 ? null : (y0, x0, y1 - y0 + 1, x1 - x0 + 1);
    }

    private static int[] Box(int[] a, int w, (int Y, int X, int H, int W) b)
    {
        if (b.X == 0 && b.Y == 0 && b.W == w && b.H * w == a.Length) return a;
        var r = new int[b.H * b.W];
        for (var y = 0; y < b.H; y++) Array.Copy(a, (b.Y + y) * w + b.X, r, y * b.W, b.W);
        return r;
    }

    /// <summary>The predicted class map (argmax over classes) of one image, for its output region.</summary>
    public int[] Predict(Sample s)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var wasTraining = Network.training;
        Network.eval();
        CheckChannels(s);
        using var x = tensor(s.Image, [1, s.Channels, s.Height, s.Width], device: Devices.Default);
        using var logits = Network.forward(x);
        if (wasTraining) Network.train();
        return ClassMap(logits);
    }

    private static int[] ClassMap(Tensor logits)
    {
        using var classes = CropCat.Inference.ClassProbabilities.ClassMapOfLogits(logits);
        using var am = classes.squeeze(0).to_type(ScalarType.Int32).cpu();
        return am.data<int>().ToArray();
    }

    private void CheckChannels(Sample s)
    {
        if (s.Channels != Network.InChannels)
            throw new ArgumentException($"sample {s.Name} has {s.Channels} image channel(s) but the network reads {Network.InChannels}");
    }

    /// <summary>
    /// Image (N,C,H,W), target (N,h,w) int64 and weights (N,h,w) for the net's output size h x w, and, when some
    /// pixels are <see cref="TileWindow.Ignore"/>d, a 0/1 valid mask (N,h,w): ignored pixels get target 0 and weight 0.
    /// </summary>
    private (Tensor X, Tensor Target, Tensor? Weights, Tensor? Valid) ToTensors(Sample[] batch)
    {
        foreach (var s in batch) CheckChannels(s);
        int h = batch[0].Height, w = batch[0].Width, channels = Network.InChannels;
        if (batch.Any(s => s.Height != h || s.Width != w))
            throw new ArgumentException($"a batch needs equal tile sizes, got {string.Join(", ", batch.Select(s => $"{s.Name} {s.Height}x{s.Width}"))}");
        var outShape = Network.Infer(h, w);
        int oh = outShape.Height, ow = outShape.Width;
        var img = new float[batch.Length * channels * h * w];
        var tgt = new long[batch.Length * oh * ow];
        var wts = _o.WeightMap is null ? null : new float[batch.Length * oh * ow];
        var valid = new float[batch.Length * oh * ow];
        var ignored = false;
        for (var b = 0; b < batch.Length; b++)
        {
            var s = batch[b];
            Array.Copy(s.Image, 0, img, b * channels * h * w, channels * h * w);
            var c = Crops.Center(s.Classes, h, w, oh, ow);
            var sw = wts is null ? null : Crops.Center(s.Weights!, h, w, oh, ow);
            for (var i = 0; i < c.Length; i++)
            {
                var j = b * oh * ow + i;
                if (c[i] == TileWindow.Ignore)
                {
                    ignored = true;
                    continue; // target 0, weight 0, valid 0
                }
                if ((uint)c[i] >= Labels.ClassCount)
                    throw new ArgumentException($"sample {s.Name}: class {c[i]} is outside the schema's {Labels.ClassCount} classes");
                tgt[j] = c[i];
                valid[j] = 1;
                if (wts is not null) wts[j] = sw![i];
            }
        }
        var dev = Devices.Default;
        long[] outShape3 = [batch.Length, oh, ow];
        var validT = ignored ? tensor(valid, outShape3, device: dev) : null;
        return (tensor(img, [batch.Length, channels, h, w], device: dev),
                tensor(tgt, outShape3, device: dev),
                wts is not null ? tensor(wts, outShape3, device: dev) : validT,
                validT);
    }

    /// <summary>Computes the weight map of every sample that lacks one (instances from connected components if unknown).</summary>
    private IReadOnlyList<Sample> WithWeights(IReadOnlyList<Sample> samples)
    {
        if (_o.WeightMap is null) return samples;
        return samples.Select(s => s.Weights is not null ? s : s.WithWeights(WeightMap.Compute(s.Classes,
            s.Instances ?? Components.OfClasses(s.Classes, s.Height, s.Width), s.Height, s.Width, _o.WeightMap))).ToList();
    }

    private static int[] Permutation(int n, long seed)
    {
        var p = Enumerable.Range(0, n).ToArray();
        new Random((int)(seed & 0x7fffffff)).Shuffle(p);
        return p;
    }

    /// <summary>A well-spread 63-bit seed from a few integers (splitmix64 finaliser).</summary>
    internal static long Mix(int a, int b, int c)
    {
        unchecked
        {
            var z = (ulong)(uint)a * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)b * 0xC2B2AE3D27D4EB4FUL ^ (ulong)(uint)c * 0x165667B19E3779F9UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return (long)((z ^ (z >> 31)) >> 1);
        }
    }

    private DateTime _lastDraw;
    private long _fitStartStep;

    /// <summary>
    /// A redrawn line only makes sense on a terminal: written to a redirected standard error (a log file, CI)
    /// every "\r" update would pile up into one endless line, so only the epoch lines are written there.
    /// </summary>
    private bool Redrawn => _o.Progress is not null && !(ReferenceEquals(_o.Progress, Console.Error) && Console.IsErrorRedirected);

    private void Progress(int steps, int k, double meanLoss, double seconds)
    {
        if (_o.Progress is null || !Redrawn) return;
        var now = DateTime.UtcNow;
        if (k != steps && (now - _lastDraw).TotalMilliseconds < 250) return;
        _lastDraw = now;
        _o.Progress.Write(string.Create(CultureInfo.InvariantCulture,
            $"\repoch {Epoch + 1}/{_o.Epochs}  step {k}/{steps} (total {Step})  loss {meanLoss:F4}  {(Step - _fitStartStep) / Math.Max(seconds, 1e-9):F2} steps/s   "));
        _o.Progress.Flush();
    }

    private void EpochLine(EpochRecord r, int done)
    {
        if (_o.Progress is null) return;
        var iou = r.ValidationIoU.Length == 0 ? "" : $"  val loss {r.ValidationLoss:F4}  val IoU [{string.Join(", ", r.ValidationIoU.Select(v => v.ToString("F3", CultureInfo.InvariantCulture)))}]  val pixel error {r.ValidationPixelError:F4}" +
            (double.IsNaN(r.ValidationMeanAP) ? "" : $"  val mAP {r.ValidationMeanAP:F3}");
        var partial = r.Complete ? "" : " (stopped inside the epoch)";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {r.Epoch}/{_o.Epochs}  {done} steps{partial}  train loss {r.TrainLoss:F4}{iou}  {r.Seconds:F1} s");
        _o.Progress.WriteLine(Redrawn ? "\r" + line + "                " : line);
    }

    /// <summary>Disposes the optimiser (the network stays with its owner, its encoder trainable again).</summary>
    public void Dispose()
    {
        _encoder.Release();
        Optimizer.Dispose();
    }
}
