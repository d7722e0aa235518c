/// Pretrained-encoder training (TrainerOptions.FreezeEncoderEpochs, EncoderLearningRate): what a frozen encoder
/// keeps, what its own learning rate does to the updates and the optimizer's groups, and resuming across both.
module CropCat.Tests.EncoderTrainingTests

open System
open System.IO
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.IO
open CropCat.Nets
open CropCat.Training
open CropCat.Tests.TestUtil
open CropCat.Tests.EncoderSupport

/// Adam at 1e-2, two steps per epoch, with the encoder knobs these tests turn.
type private Run =
    static member Options
        (
            epochs: int,
            ?encoderLr: float,
            ?freeze: int,
            ?schedule: LearningRateSchedule,
            ?path: string,
            ?maxSteps: int64,
            ?epochDone: EpochRecord -> unit
        ) =
        TrainerOptions(
            Epochs = epochs,
            StepsPerEpoch = 2,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 1e-2,
            EncoderLearningRate = Option.toNullable encoderLr,
            FreezeEncoderEpochs = defaultArg freeze 0,
            Schedule = defaultArg schedule LearningRateSchedule.Constant,
            CheckpointPath = Option.toObj path,
            MaxSteps = defaultArg maxSteps 0L,
            EpochDone = (epochDone |> Option.map (fun f -> Action<EpochRecord> f) |> Option.toObj),
            Seed = 5,
            Prefetch = 0,
            Progress = null
        )

let private changed (before: Map<string, float32[]>) (after: Map<string, float32[]>) =
    before |> Map.filter (fun k v -> after[k] <> v) |> Map.keys |> List.ofSeq

[<Tests>]
let tests =
    testSequenced
    <| testList "Encoder.training" [
        test "a frozen encoder keeps its weights and batch-norm statistics for N epochs, then trains; the decoder trains throughout" {
            use net = tinyNet 3 1 2 null
            let encoder0 = valuesOf net "encoder."
            let decoder0 = valuesOf net "decoder."
            let afterFirst = ref (Map.empty, Map.empty)

            let o =
                Run.Options(
                    2,
                    freeze = 1,
                    epochDone =
                        (fun r ->
                            if r.Epoch = 1 then
                                afterFirst.Value <- (valuesOf net "encoder.", valuesOf net "decoder."))
                )

            use trainer = new Trainer(net, LabelSchema.Binary255, o)
            trainer.Fit(cells 40 4 64) |> ignore
            let encoder1, decoder1 = afterFirst.Value
            Expect.isNonEmpty (Map.toList encoder0 |> List.filter (fun (k, _) -> k.Contains "running_mean")) "the encoder has batch norms"
            Expect.equal (changed encoder0 encoder1) [] "epoch 1 (frozen): no encoder weight or running statistic moved"
            Expect.isNonEmpty (changed decoder0 decoder1) "epoch 1: the decoder trained"

            Expect.exists
                (changed decoder0 decoder1)
                (fun k -> k.Contains "running_mean")
                "the decoder's batch norms updated their statistics"

            let encoder2 = valuesOf net "encoder."
            let moved = changed encoder1 encoder2
            Expect.contains moved "encoder.conv1.weight" "epoch 2: the stem trains"
            Expect.contains moved "encoder.layer4.0.conv2.weight" "epoch 2: the deepest stage trains"
            Expect.contains moved "encoder.bn1.running_mean" "epoch 2: the encoder's batch norm is in training mode again"

            Expect.isTrue (net.parameters () |> Seq.forall (fun p -> p.requires_grad)) "after Fit every parameter requires gradients again"
        }

        test "an encoder learning rate gives two parameter groups that the schedule scales alike" {
            use net = tinyNet 4 1 2 null

            let o =
                Run.Options(1, encoderLr = 1e-4, schedule = LearningRateSchedule.Parse "poly")

            use trainer = new Trainer(net, LabelSchema.Binary255, o)

            let groups =
                trainer.Optimizer.ParamGroups
                |> Seq.map (fun g -> g :?> TorchSharp.Modules.ParamGroup)
                |> List.ofSeq

            Expect.equal groups.Length 2 "decoder/head and encoder"

            let encoderCount =
                net.named_parameters ()
                |> Seq.filter (fun struct (n, _) -> n.StartsWith "encoder.")
                |> Seq.length

            Expect.equal (Seq.length groups[1].Parameters) encoderCount "the second group holds exactly the encoder's parameters"
            Expect.equal (Seq.length groups[0].Parameters + encoderCount) (Seq.length (net.parameters ())) "the first group holds the rest"
            trainer.Fit(cells 50 2 64) |> ignore
            // Poly over the run's 2 steps: the second (last) step ran at (1 - 1/2)^0.9 of each base rate.
            let f = (1.0 - 0.5) ** 0.9
            Expect.floatClose Accuracy.high groups[0].LearningRate (1e-2 * f) "decoder and head: the main rate, scheduled"
            Expect.floatClose Accuracy.high groups[1].LearningRate (1e-4 * f) "encoder: its own rate, scheduled alike"
        }

        test "with SGD the encoder's update is its rate's share of the same gradient step; the decoder's is unchanged" {
            let step (encoderLr: float option) =
                use net = tinyNet 6 1 2 null

                let o =
                    TrainerOptions(
                        Epochs = 1,
                        Optimizer = OptimizerKind.Sgd,
                        Momentum = 0.0,
                        LearningRate = 0.1,
                        EncoderLearningRate = Option.toNullable encoderLr,
                        Seed = 1,
                        Progress = null
                    )

                let before = valuesOf net ""

                do
                    use trainer = new Trainer(net, LabelSchema.Binary255, o)
                    trainer.TrainOn(cells 60 1 64) |> ignore

                let after = valuesOf net ""
                before |> Map.map (fun k v -> Array.map2 (-) after[k] v)

            let one = step None
            let split = step (Some 0.01)

            let norm (a: float32[]) =
                a |> Array.sumBy (fun x -> float x * float x) |> sqrt

            for KeyValue(k, d) in one do
                if
                    k.StartsWith "encoder."
                    && (k.EndsWith "conv1.weight" || k.EndsWith "conv2.weight")
                then
                    let ratio = norm split[k] / norm d
                    Expect.floatClose { absolute = 1e-4; relative = 1e-3 } ratio 0.1 $"{k}: 0.01 / 0.1 of the step"
                elif k.StartsWith "decoder." || k.StartsWith "segmentation_head." then
                    Expect.equal split[k] d $"{k}: the decoder and head take the main rate's step exactly"
        }

        test "an encoder rate equal to the main rate trains bit for bit as one group" {
            let run (encoderLr: float option) =
                use net = tinyNet 7 1 2 null

                let o =
                    match encoderLr with
                    | Some r -> Run.Options(1, encoderLr = r)
                    | None -> Run.Options 1

                use trainer = new Trainer(net, LabelSchema.Binary255, o)

                trainer.Fit(cells 70 2 64) |> ignore
                valuesOf net ""

            let a = run None
            let b = run None
            let c = run (Some 1e-2)

            let diff (x: Map<string, float32[]>) (y: Map<string, float32[]>) =
                x |> Map.toList |> List.filter (fun (k, v) -> y[k] <> v) |> List.map fst

            Expect.equal (diff a b) [] "one group twice"
            Expect.equal (diff a c) [] "the same weights"
        }

        test "a run resumed inside and after the frozen epochs ends with the uninterrupted run's weights (SGD momentum, encoder rate)" {
            let o (path: string) (maxSteps: int64) =
                TrainerOptions(
                    Epochs = 2,
                    StepsPerEpoch = 2,
                    Optimizer = OptimizerKind.Sgd,
                    Momentum = 0.9,
                    LearningRate = 1e-2,
                    EncoderLearningRate = Nullable 1e-3,
                    FreezeEncoderEpochs = 1,
                    Seed = 9,
                    MaxSteps = maxSteps,
                    CheckpointPath = path,
                    Prefetch = 0,
                    Progress = null
                )

            let data = cells 80 3 64

            let uninterrupted =
                use net = tinyNet 8 1 2 null

                use t =
                    new Trainer(net, LabelSchema.Binary255, o (Path.Combine(tempDir (), "a.safetensors")) 0L)

                t.Fit data |> ignore
                valuesOf net ""

            for stopAt in [ 1L; 2L; 3L ] do
                let path = Path.Combine(tempDir (), "b.safetensors")

                do
                    use net = tinyNet 8 1 2 null
                    use t = new Trainer(net, LabelSchema.Binary255, o path stopAt)
                    t.Fit data |> ignore

                use net = tinyNet 99 1 2 null
                use t = new Trainer(net, LabelSchema.Binary255, o path 0L)
                t.Resume path |> ignore
                t.Fit data |> ignore
                Expect.equal (valuesOf net "") uninterrupted $"stopped after step {stopAt}, resumed: the same weights"
        }

        test "resuming with another encoder rate or freezing is refused, naming it" {
            let path = Path.Combine(tempDir (), "c.safetensors")

            let o (lr: float) (freeze: int) =
                Run.Options(1, encoderLr = lr, freeze = freeze, path = path, maxSteps = 1L)

            do
                use net = tinyNet 10 1 2 null
                use t = new Trainer(net, LabelSchema.Binary255, o 1e-3 1)
                t.Fit(cells 90 2 64) |> ignore

            for other, what in
                [
                    o 1e-4 1, "encoder learning rate: 0.001 in the checkpoint, 0.0001 now"
                    o 1e-3 0, "encoder frozen for epochs: 1 in the checkpoint, 0 now"
                ] do
                use net = tinyNet 10 1 2 null
                use t = new Trainer(net, LabelSchema.Binary255, other)
                let msg = messageOf<CheckpointMismatchException> (fun () -> t.Resume path |> ignore)
                Expect.stringContains msg what "names the difference"
        }

        test "encoder options on a net without an encoder are refused" {
            use net = UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)

            for o, what in
                [
                    Run.Options(1, encoderLr = 1e-3), "EncoderLearningRate"
                    Run.Options(1, freeze = 2), "FreezeEncoderEpochs"
                ] do
                let msg =
                    messageOf<ArgumentException> (fun () -> new Trainer(net, LabelSchema.Binary255, o) |> ignore)

                Expect.stringContains msg what "names the option"
                Expect.stringContains msg "no pretrained encoder" "says why"
        }
    ]
