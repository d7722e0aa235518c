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
    new Trainer(net, NetworkDescription.FromUNet tinyOptions, LabelSchema.Binary255, o)

let private weights (net: Network) = TestUtil.parameterValues net

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
            Expect.equal info.Architecture.Kind "UNet" "kind"
            Expect.equal (info.Architecture.ToUNetOptions().Widths) [| 2; 4 |] "options as JSON"
            Expect.equal (info.Labels.ToString()) "{0->0, 255->1}" "schema"
            Expect.equal info.Step 1L "step"
            let b = tinyNet 2
            Checkpoint.Load(path, b) |> ignore
            Expect.equal (weights b) (weights a) "weights"
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

        test "a NaN loss stops with the step and the value, and leaves the last checkpoint untouched" {
            let path = tempFile "nan.safetensors"
            let net = tinyNet 7
            let good = cells 2
            use t = trainer net (options OptimizerKind.Sgd 1 path)
            t.Fit(good) |> ignore
            let before = File.ReadAllBytes path
            let w = weights net
            let s = good[0]

            let poisoned =
                Sample("poisoned", s.Height, s.Width, Array.create s.Image.Length nanf, s.Classes, s.Instances)

            use t2 = trainer net (options OptimizerKind.Sgd 2 path)
            t2.Resume path |> ignore
            let e = Expect.throwsC (fun () -> t2.Fit(ResizeArray [ poisoned ]) |> ignore) id
            Expect.stringContains e.Message "step 3" "names the step"
            Expect.stringContains e.Message "NaN" "names the value"
            Expect.equal (File.ReadAllBytes path) before "checkpoint untouched"
            Expect.equal (weights net) w "weights not updated with the NaN step"
        }

        test "memory holds steady: no native tensors leak over 200 steps" {
            let net = tinyNet 3

            use t =
                trainer
                    net
                    (TrainerOptions(Optimizer = OptimizerKind.Sgd, Seed = 1, Progress = null, Augment = AugmentOptions(Elastic = false)))

            let data = cells 2

            for _ in 1..20 do
                t.TrainOn(ResizeArray [ data[0] ]) |> ignore

            // Finalize what earlier tests left to the GC first, or it vanishes from the count mid-measurement.
            GC.Collect()
            GC.WaitForPendingFinalizers()
            GC.Collect()
            let live = torch.Tensor.TotalCount

            for i in 1..200 do
                t.TrainOn(ResizeArray [ data[i % 2] ]) |> ignore

            // A leak only adds tensors; the count may drop if the GC finalizes a handle left by another test.
            Expect.isLessThanOrEqual torch.Tensor.TotalCount live "live tensors after 200 more steps"
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
