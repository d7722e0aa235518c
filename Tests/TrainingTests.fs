/// Safetensors, checkpoints, losses and the training loop, on tiny nets and tiny images.
module CropCat.Tests.TrainingTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open CropCat.Augment
open CropCat.Data
open CropCat.IO
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open TorchSharp
open CropCat.Architecture

let private tempFile name =
    let d =
        Path.Combine(Path.GetTempPath(), "cropcat-tests-" + Guid.NewGuid().ToString("N"))

    Directory.CreateDirectory d |> ignore
    Path.Combine(d, name)

/// Depth 1, widths [2; 4]: a 36 px tile gives a 20 px output; a few hundred parameters.
let private tinyOptions = UNetOptions(Widths = [| 2; 4 |])
let private tinyTile = 36

let private tinyNet seed =
    NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore
    UNet.Create(tinyOptions, torch.CPU)

let private cells n =
    [
        for i in 0 .. n - 1 ->
            SyntheticCells.Generate(100 + i, SyntheticCellsOptions(Height = tinyTile, Width = tinyTile, MinRadius = 5.0, MaxRadius = 9.0))
    ]
    |> ResizeArray

let private options (opt: OptimizerKind) (epochs: int) (checkpoint: string) =
    TrainerOptions(
        Epochs = epochs,
        StepsPerEpoch = 2,
        Optimizer = opt,
        LearningRate = (if opt = OptimizerKind.Sgd then 0.01 else 1e-3),
        Loss = LossKind.WeightedCrossEntropyPlusDice,
        Seed = 3,
        CheckpointPath = checkpoint,
        Progress = null
    )

let private trainer (net: Network) o =
    new Trainer(net, LabelSchema.Binary255, o)

let private weights (net: Network) = TestUtil.parameterValues net

/// A stream that fails like a full disk once `limit` bytes have been written through it.
type private FullDisk(inner: Stream, limit: int64) =
    inherit Stream()
    let mutable written = 0L
    override _.CanRead = false
    override _.CanSeek = false
    override _.CanWrite = true
    override _.Length = written

    override _.Position
        with get () = written
        and set _ = raise (NotSupportedException())

    override _.Flush() = inner.Flush()
    override _.Read(_, _, _) = raise (NotSupportedException())
    override _.Seek(_, _) = raise (NotSupportedException())
    override _.SetLength _ = raise (NotSupportedException())

    override _.Write(buffer: byte[], offset: int, count: int) =
        if written + int64 count > limit then
            raise (IOException "No space left on device (injected)")

        inner.Write(buffer, offset, count)
        written <- written + int64 count

/// Batch norm and dropout on: running statistics and dropout masks must survive a resume too.
let private normOptions =
    UNetOptions(Widths = [| 2; 4 |], BatchNorm = true, BottomDropout = 0.5)

let private tinyNormNet seed =
    NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore
    UNet.Create(normOptions, torch.CPU)

let private normTrainer (net: Network) o =
    new Trainer(net, LabelSchema.Binary255, o)

/// Three epochs of three steps, with the knobs the resume tests turn.
type private Mid =
    static member Options(opt: OptimizerKind, ?maxSteps: int64, ?budget: TimeSpan, ?path: string, ?seed: int, ?batch: int, ?steps: int) =
        TrainerOptions(
            Epochs = 3,
            StepsPerEpoch = defaultArg steps 3,
            BatchSize = defaultArg batch 1,
            Optimizer = opt,
            LearningRate = (if opt = OptimizerKind.Sgd then 0.01 else 1e-3),
            Loss = LossKind.WeightedCrossEntropyPlusDice,
            Seed = defaultArg seed 3,
            MaxSteps = defaultArg maxSteps 0L,
            TimeBudget = Option.toNullable budget,
            CheckpointPath = Option.toObj path,
            Progress = null
        )

/// Every tensor of the net's state (parameters and buffers such as batch-norm statistics), in logical order.
let private stateOf (net: Network) =
    net.state_dict ()
    |> Seq.map (fun kv -> kv.Key, kv.Value.detach().cpu().contiguous().to_type(torch.ScalarType.Float64).data<float>().ToArray())
    |> List.ofSeq

[<Tests>]
let safetensors =
    testList "IO.Safetensors" [
        test "tensors of every dtype and the metadata round-trip" {
            NativeRuntime.EnsureLoaded()
            let path = tempFile "t.safetensors"

            let tensors =
                readOnlyDict [
                    "f32", torch.arange(6.0f).reshape (2L, 3L)
                    "f64", torch.tensor ([| 1.5; -2.25 |])
                    "i64", torch.tensor ([| 1L; -7L; 1L <<< 40 |])
                    "i32", torch.tensor ([| 3; -4 |])
                    "u8", torch.tensor ([| 0uy; 255uy |])
                    "bf16", torch.tensor([| 1.0f; -2.0f |]).to_type (torch.ScalarType.BFloat16)
                    "f16", torch.tensor([| 0.5f; 4.0f |]).to_type (torch.ScalarType.Float16)
                    "empty", torch.zeros ([| 0L; 3L |])
                ]

            Safetensors.Write(path, tensors, readOnlyDict [ "kind", "test"; "note", "ok" ])
            let struct (back, meta) = Safetensors.Read path
            Expect.equal (meta["kind"]) "test" "metadata"
            Expect.equal (Set.ofSeq back.Keys) (Set.ofSeq tensors.Keys) "names"

            for KeyValue(k, t) in tensors do
                Expect.equal back[k].dtype t.dtype $"{k} dtype"
                Expect.equal back[k].shape t.shape $"{k} shape"

                Expect.equal
                    ((back[k].to_type (torch.ScalarType.Float64)
                      - t.to_type (torch.ScalarType.Float64))
                        .abs()
                        .sum()
                        .item<float> ())
                    0.0
                    $"{k} values"
        }

        test "truncated and corrupt files give one error naming the file and the fault" {
            NativeRuntime.EnsureLoaded()
            let path = tempFile "t.safetensors"
            Safetensors.Write(path, readOnlyDict [ "w", torch.ones (10L) ], null)
            let bytes = File.ReadAllBytes path

            let msg (b: byte[]) =
                File.WriteAllBytes(path, b)

                try
                    Safetensors.Read path |> ignore
                    ""
                with :? SafetensorsException as e ->
                    e.Message

            Expect.stringContains (msg bytes[.. bytes.Length - 5]) "truncated" "truncated data"
            Expect.stringContains (msg bytes[..3]) "too short" "no header length"
            let badJson = Array.copy bytes
            badJson[8] <- byte '['
            Expect.stringContains (msg badJson) "not" "bad JSON"
            Expect.stringContains (msg bytes[.. bytes.Length - 5]) path "names the file"
        }
    ]

[<Tests>]
let checkpoints =
    testList "Training.Checkpoint" [
        test "a checkpoint restores weights, schema and architecture" {
            let path = tempFile "c.safetensors"
            let a = tinyNet 1
            use t = trainer a (options OptimizerKind.Sgd 1 null)
            t.TrainOn(cells 1) |> ignore
            t.SaveCheckpoint path
            let info = Checkpoint.ReadInfo path
            Expect.equal info.Architecture.Kind NetworkDescription.SpecKind "kind"
            Expect.equal (info.Architecture.ToSpec()) a.Spec "the description, as JSON"
            Expect.equal (info.Labels.ToString()) "{0->0, 255->1}" "schema"
            Expect.equal info.Step 1L "step"
            let b = tinyNet 2
            Checkpoint.Load(path, b) |> ignore
            Expect.equal (weights b) (weights a) "weights"
        }

        test "a checkpoint write that fails midway leaves the previous checkpoint intact and no temporary file" {
            let path = tempFile "atomic.safetensors"
            let net = tinyNet 1
            use t = trainer net (options OptimizerKind.Sgd 1 null)
            t.TrainOn(cells 1) |> ignore
            t.SaveCheckpoint path
            let good = File.ReadAllBytes path
            t.TrainOn(cells 1) |> ignore // new weights: a complete write would change the file
            CropCat.Imaging.AtomicFile.FaultInjection <- Func<Stream, Stream>(fun s -> new FullDisk(s, 4096L))

            try
                let e = Expect.throwsC (fun () -> t.SaveCheckpoint path) id
                Expect.stringContains e.Message "No space left" "the disk error surfaces"
            finally
                CropCat.Imaging.AtomicFile.FaultInjection <- null

            Expect.equal (File.ReadAllBytes path) good "previous checkpoint intact"
            Expect.equal (Directory.GetFiles(Path.GetDirectoryName path)) [| path |] "no temporary file left"
            t.SaveCheckpoint path
            Expect.notEqual (File.ReadAllBytes path) good "without the fault the write goes through"
        }

        test "loading into another net lists missing, unexpected and mis-shaped keys" {
            let path = tempFile "c.safetensors"
            let a = tinyNet 1

            Checkpoint.Save(
                path,
                a,
                null,
                CheckpointInfo(NetworkDescription.FromUNet tinyOptions, LabelSchema.Binary255, 0, 0L, "", readOnlyDict [])
            )

            let other = UNet.Create(UNetOptions(Widths = [| 3; 4; 8 |]), torch.CPU)

            let msg =
                try
                    Checkpoint.Load(path, other) |> ignore
                    ""
                with :? CheckpointMismatchException as e ->
                    e.Message

            Expect.stringContains msg "missing: " "missing keys"
            Expect.stringContains msg "dec2.up.weight" "a missing key by name"
            Expect.stringContains msg "mis-shaped: " "shape mismatch"
            Expect.stringContains msg "enc1.conv1.weight" "a mis-shaped key by name"
        }
    ]

[<Tests>]
let losses =
    testList "Training.Losses" [
        test "weighted cross-entropy with unit weights is PyTorch's cross-entropy; weights scale it" {
            NativeRuntime.EnsureLoaded()
            torch.manual_seed 5L |> ignore
            let logits = torch.randn (2L, 3L, 4L, 5L)
            let target = torch.randint (3L, [| 2L; 4L; 5L |])

            let ours =
                Losses.WeightedCrossEntropy(logits, target, torch.ones (2L, 4L, 5L)).item<float32> ()

            let theirs = torch.nn.functional.cross_entropy(logits, target).item<float32> ()
            Expect.floatClose Accuracy.medium (float ours) (float theirs) "same value"

            let doubled =
                Losses.WeightedCrossEntropy(logits, target, torch.full (2L, 4L, 5L, 2.0f)).item<float32> ()

            Expect.floatClose Accuracy.medium (float doubled) (2.0 * float ours) "weights scale"
        }

        test "soft Dice is near 0 for a confident correct prediction and near 1 for a wrong one" {
            NativeRuntime.EnsureLoaded()
            let target = torch.tensor([| 0L; 1L; 1L; 0L |]).reshape (1L, 2L, 2L)

            let oneHot =
                torch.nn.functional.one_hot(target, 2L).permute(0L, 3L, 1L, 2L).to_type (torch.ScalarType.Float32)

            let right = Losses.SoftDice(oneHot * 50.0f, target, 1e-6).item<float32> ()
            let wrong = Losses.SoftDice((1.0f - oneHot) * 50.0f, target, 1e-6).item<float32> ()
            Expect.isLessThan right 1e-3f "right"
            Expect.isGreaterThan wrong 0.99f "wrong"
        }

        test "a target that is not cropped to the output is refused with a hint" {
            NativeRuntime.EnsureLoaded()

            let msg =
                try
                    Losses.WeightedCrossEntropy(torch.zeros (1L, 2L, 4L, 4L), torch.zeros ([| 1L; 6L; 6L |], torch.ScalarType.Int64))
                    |> ignore

                    ""
                with :? ArgumentException as e ->
                    e.Message

            Expect.stringContains msg "crop" "hint"
        }

        test "labels are cropped with the core's centre-crop rule (odd margins drop the far pixel)" {
            let a = Array.init 20 id // 4 x 5
            Expect.equal (Crops.Center(a, 4, 5, 2, 2)) [| 6; 7; 11; 12 |] "offset (1, 1)"
        }
    ]

[<Tests>]
let training =
    testSequencedGroup "training"
    <| testList "Training.Trainer" [
        test "two runs with the same seed give the same weights" {
            let run () =
                let net = tinyNet 7
                use t = trainer net (options OptimizerKind.Adam 2 null)
                t.Fit(cells 3) |> ignore
                weights net

            Expect.equal (run ()) (run ()) "reproducible"
        }

        for opt in [ OptimizerKind.Sgd; OptimizerKind.Adam ] do
            test $"a run resumed from a checkpoint ends where the uninterrupted run ends ({opt})" {
                let data = cells 3
                let whole = tinyNet 7
                use t1 = trainer whole (options opt 4 null)
                t1.Fit(data) |> ignore

                let path = tempFile "resume.safetensors"
                let first = tinyNet 7
                use t2 = trainer first (options opt 2 path)
                t2.Fit(data) |> ignore

                let resumed = tinyNet 99 // other initial weights: everything must come from the checkpoint
                use t3 = trainer resumed (options opt 4 path)
                let info = t3.Resume path
                Expect.equal (info.Epoch, info.Step) (2, 4L) "counters"
                t3.Fit(data) |> ignore
                Expect.equal t3.Step 8L "steps"
                let a, b = weights whole, weights resumed

                for ((n, x), (_, y)) in List.zip a b do
                    Expect.sequenceEqual y x $"{n} after resume"
            }

            // Batch norm (running statistics are state) and dropout (masks are random) on, 3 epochs of 3 steps.
            test $"a run stopped mid-epoch by a step limit resumes exactly, batch norm and dropout on ({opt})" {
                let data = cells 4
                let o = Mid.Options opt
                let whole = tinyNormNet 5
                use t1 = normTrainer whole o
                let full = t1.Fit(data)
                Expect.equal full.Steps 9L "uninterrupted steps"

                let path = tempFile "mid.safetensors"
                let first = tinyNormNet 5
                use t2 = normTrainer first (Mid.Options(opt, maxSteps = 4L, path = path))
                let part = t2.Fit(data)
                Expect.isTrue part.StoppedByMaxSteps "stopped by the limit"
                let info = Checkpoint.ReadInfo path
                Expect.equal (info.Epoch, info.EpochStep, info.Step) (1, 1, 4L) "stopped after step 1 of epoch 2"
                Expect.isFalse (Seq.last part.History).Complete "the last record is a partial epoch"

                let resumed = tinyNormNet 99
                use t3 = normTrainer resumed (Mid.Options(opt, path = path))
                t3.Resume path |> ignore
                let rest = t3.Fit(data)
                Expect.equal rest.Steps 9L "same total steps as the uninterrupted run"
                Expect.equal (t3.Epoch, t3.EpochStep) (3, 0) "three whole epochs"
                Expect.equal (stateOf resumed) (stateOf whole) "weights and batch-norm statistics equal the uninterrupted run's"
            }

            test $"a run stopped by its time budget after every step resumes exactly ({opt})" {
                // A zero budget stops after each first step: nine resumes, each in a fresh net.
                let data = cells 4
                let o = Mid.Options opt
                let whole = tinyNormNet 5
                use t1 = normTrainer whole o
                t1.Fit(data) |> ignore

                let path = tempFile "budget.safetensors"
                let mutable last = tinyNormNet 5
                let mutable resumes = 0

                use t0 = normTrainer last (Mid.Options(opt, budget = TimeSpan.Zero, path = path))
                Expect.isTrue (t0.Fit(data)).StoppedByTimeBudget "stopped by the budget"

                // Bounded: a resume that loses its place never reaches step 9.
                while (Checkpoint.ReadInfo path).Step < 9L && resumes < 12 do
                    last <- tinyNormNet (100 + resumes)
                    use t = normTrainer last (Mid.Options(opt, budget = TimeSpan.Zero, path = path))
                    t.Resume path |> ignore
                    t.Fit(data) |> ignore
                    resumes <- resumes + 1

                Expect.equal resumes 8 "one step per run"
                Expect.equal (stateOf last) (stateOf whole) "weights equal the uninterrupted run's"
            }

        test "a resume with another seed, batch size, steps per epoch or data is refused with what differs" {
            let data = cells 4
            let sgd = OptimizerKind.Sgd
            let path = tempFile "mismatch.safetensors"
            use t = normTrainer (tinyNormNet 5) (Mid.Options(sgd, maxSteps = 2L, path = path))
            t.Fit(data) |> ignore

            let refused (o2: TrainerOptions) (data2: ResizeArray<Sample>) =
                use t2 = normTrainer (tinyNormNet 5) o2

                TestUtil.messageOf<CheckpointMismatchException> (fun () ->
                    t2.Resume path |> ignore
                    t2.Fit(data2) |> ignore)

            let seedMsg = refused (Mid.Options(sgd, seed = 4)) data
            Expect.stringContains seedMsg "seed: 3 in the checkpoint, 4 now" "seed"
            Expect.stringContains seedMsg path "names the file"
            let batchMsg = refused (Mid.Options(sgd, batch = 2)) data
            Expect.stringContains batchMsg "batch size: 1 in the checkpoint, 2 now" "batch size"
            let stepsMsg = refused (Mid.Options(sgd, steps = 4)) data
            Expect.stringContains stepsMsg "steps per epoch: 3 in the checkpoint, 4 now" "steps per epoch"
            let dataMsg = refused (Mid.Options sgd) (cells 5)
            Expect.stringContains dataMsg "training data: 4 samples" "data"
            let other = cells 4

            other[2] <-
                SyntheticCells.Generate(999, SyntheticCellsOptions(Height = tinyTile, Width = tinyTile, MinRadius = 5.0, MaxRadius = 9.0))

            let sameCountMsg = refused (Mid.Options sgd) other
            Expect.stringContains sameCountMsg "training data" "same count, other content"
        }

        test "an SGD checkpoint after steps with momentum but without momentum buffers is refused" {
            let path = tempFile "nomomentum.safetensors"
            let net = tinyNet 1
            use t = trainer net (options OptimizerKind.Sgd 1 null)
            t.TrainOn(cells 1) |> ignore
            t.SaveCheckpoint path
            // The same file with every momentum buffer dropped, as a checkpoint writer that forgot them would leave it.
            let struct (tensors, meta) = Safetensors.Read path

            let kept =
                tensors
                |> Seq.filter (fun kv -> not (kv.Key.EndsWith ".momentum_buffer"))
                |> Seq.map (fun kv -> kv.Key, kv.Value)
                |> readOnlyDict

            Expect.isLessThan kept.Count tensors.Count "buffers were stored"
            Safetensors.Write(path, kept, meta)
            use t2 = trainer (tinyNet 2) (options OptimizerKind.Sgd 1 null)

            let msg =
                TestUtil.messageOf<CheckpointMismatchException> (fun () -> t2.Resume path |> ignore)

            Expect.stringContains msg "momentum_buffer" "names the missing state"
            // Without momentum there is no buffer to miss.
            use t3 =
                trainer (tinyNet 2) (TrainerOptions(Optimizer = OptimizerKind.Sgd, Momentum = 0.0, Seed = 3, Progress = null))

            t3.Resume path |> ignore
        }

        for poison in [ "NaN"; "Infinity" ] do
            test $"a {poison} loss after good steps and a checkpoint stops with the step and the value and keeps that checkpoint" {
                // Four good samples; one of them is poisoned where epoch 2's second step reads it, never in epoch 1.
                let o (max: int64) path =
                    TrainerOptions(
                        Epochs = 3,
                        StepsPerEpoch = 2,
                        Optimizer = OptimizerKind.Sgd,
                        Seed = 3,
                        MaxSteps = max,
                        CheckpointPath = path,
                        Progress = null,
                        Augment = AugmentOptions(Elastic = false)
                    )

                let e0, e1 = Trainer.SampleOrder(3, 0, 4), Trainer.SampleOrder(3, 1, 4)
                let p = e1[1]
                Expect.isFalse (Array.contains p e0[..1]) "the poisoned sample is not read in epoch 1 (seed choice)"
                let data = cells 4
                let s = data[p]

                data[p] <-
                    if poison = "NaN" then
                        Sample(s.Name, s.Height, s.Width, Array.create s.Image.Length nanf, s.Classes, s.Instances)
                    else
                        Sample(s.Name, s.Height, s.Width, s.Image, s.Classes, s.Instances, Array.create (s.Height * s.Width) infinityf)

                // References: the same run stopped by a step limit before the poisoned step.
                let reference steps =
                    let path = tempFile "ref.safetensors"
                    let net = tinyNet 7
                    use t = trainer net (o steps path)
                    t.Fit(data) |> ignore
                    File.ReadAllBytes path, weights net

                let afterEpoch1, _ = reference 2L
                let _, afterStep3 = reference 3L

                let path = tempFile "diverged.safetensors"
                let net = tinyNet 7
                use t = trainer net (o 0L path)
                let e = Expect.throwsC (fun () -> t.Fit(data) |> ignore) id
                Expect.stringContains e.Message "step 4 (epoch 2)" "names the step"
                Expect.stringContains e.Message $"the loss is {poison}" "names the value"
                Expect.stringContains e.Message path "names the kept checkpoint"
                Expect.equal (File.ReadAllBytes path) afterEpoch1 "the checkpoint written after epoch 1 is untouched"
                Expect.equal (weights net) afterStep3 "weights not updated with the diverged step"
                Expect.isEmpty (Directory.GetFiles(Path.GetDirectoryName path, "*.tmp")) "no temporary file left"
            }

        test "memory holds steady: the live tensor count is unchanged over 200 steps with full augmentation" {
            let net = tinyNet 3
            // The default augmentation: elastic deformation, flips, quarter turns, gray-value jitter.
            use t =
                trainer net (TrainerOptions(Optimizer = OptimizerKind.Sgd, Seed = 1, Progress = null))

            Expect.isTrue t.Network.training "training mode"
            let data = cells 2

            for _ in 1..20 do
                t.TrainOn(ResizeArray [ data[0] ]) |> ignore

            // Finalize what earlier tests left to the GC first, or it vanishes from the count mid-measurement.
            TestUtil.settle ()
            let live = torch.Tensor.TotalCount

            for i in 1..200 do
                t.TrainOn(ResizeArray [ data[i % 2] ]) |> ignore

            Expect.equal torch.Tensor.TotalCount live "live tensors after 200 more steps"
        }

        test "training lowers the loss on held-out cells" {
            let net = tinyNet 11
            let data = cells 4

            let o =
                TrainerOptions(
                    Epochs = 6,
                    StepsPerEpoch = 10,
                    Optimizer = OptimizerKind.Adam,
                    LearningRate = 1e-2,
                    Seed = 2,
                    Progress = null
                )

            use t = trainer net o
            let before = t.Evaluate(data, false).Loss
            t.Fit(data) |> ignore
            let after = t.Evaluate(data, false).Loss
            Expect.isLessThan after before "loss drops"
        }
    ]
