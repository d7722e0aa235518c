/// The training loop's knobs: learning-rate schedules, gradient clipping, best-checkpoint selection and early
/// stopping (and their state across a resume), and the binary label schema.
module CropCat.Tests.TrainingLoopTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.IO
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open TorchSharp

let private tinyNet seed =
    NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore
    UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)

let private cells n =
    ResizeArray [
        for i in 0 .. n - 1 ->
            SyntheticCells.Generate(700 + i, SyntheticCellsOptions(Height = 36, Width = 36, MinRadius = 5.0, MaxRadius = 9.0))
    ]

/// Four epochs of two Adam steps, with the knobs these tests turn.
type private Loop =
    static member Options
        (?path: string, ?schedule: LearningRateSchedule, ?clip: float, ?patience: int, ?monitor: ValidationMetric, ?lr: float, ?epochs: int)
        =
        TrainerOptions(
            Epochs = defaultArg epochs 4,
            StepsPerEpoch = 2,
            Optimizer = OptimizerKind.Adam,
            LearningRate = defaultArg lr 1e-3,
            Seed = 2,
            CheckpointPath = Option.toObj path,
            Schedule = defaultArg schedule LearningRateSchedule.Constant,
            ClipGradientNorm = Option.toNullable clip,
            EarlyStoppingPatience = Option.toNullable patience,
            Monitor = defaultArg monitor ValidationMetric.Loss,
            Progress = null
        )

let private weights (net: Network) =
    TestUtil.parameterValues net
    |> List.collect (snd >> List.ofArray)
    |> Array.ofList

[<Tests>]
let schedules =
    testList "Training.loop.schedules" [
        test "poly, cosine with warm-up and step follow their formulas" {
            let poly = LearningRateSchedule.Parse "poly"
            Expect.floatClose Accuracy.high (poly.Factor(0L, 100L)) 1.0 "poly starts at the base rate"
            Expect.floatClose Accuracy.high (poly.Factor(50L, 100L)) (0.5 ** 0.9) "(1 - t)^0.9"
            let cos = LearningRateSchedule.Parse "cosine(warmup=10)"
            Expect.floatClose Accuracy.high (cos.Factor(4L, 110L)) 0.5 "linear warm-up: step 5 of 10"
            Expect.floatClose Accuracy.high (cos.Factor(60L, 110L)) 0.5 "half-way through the cosine"
            Expect.floatClose Accuracy.high (cos.Factor(110L, 110L)) 0.0 "ends at 0"
            let step = LearningRateSchedule.Parse "step(every=10,gamma=0.5)"
            Expect.floatClose Accuracy.high (step.Factor(25L, 100L)) 0.25 "two halvings by step 25"
        }

        testProperty "the text form reads back; every factor is in [0, 1] and never rises after warm-up"
        <| fun (kind: int) (p: PositiveInt) (t0: PositiveInt) ->
            let text =
                match abs kind % 4 with
                | 0 -> "constant"
                | 1 -> $"poly(power={float (p.Get % 30 + 1) / 10.0})"
                | 2 -> $"cosine(warmup={p.Get % 50})"
                | _ -> $"step(every={p.Get % 50 + 1},gamma=0.5)"

            let s = LearningRateSchedule.Parse text
            let total = int64 (t0.Get % 500 + 60)
            let fs = [ for k in 0L .. total -> s.Factor(k, total) ]
            let after = fs |> List.skip (int s.WarmupSteps)

            LearningRateSchedule.Parse(s.ToString()) = s
            && fs |> List.forall (fun f -> f >= 0.0 && f <= 1.0 + 1e-12)
            && List.pairwise after |> List.forall (fun (a, b) -> b <= a + 1e-12)

        test "unknown schedules and parameters are refused with what is known" {
            let m =
                TestUtil.messageOf<FormatException> (fun () -> LearningRateSchedule.Parse "linear" |> ignore)

            Expect.stringContains m "known: constant, poly, cosine, step" "lists the schedules"

            let m2 =
                TestUtil.messageOf<FormatException> (fun () -> LearningRateSchedule.Parse "poly(gamma=2)" |> ignore)

            Expect.stringContains m2 "poly has no parameter 'gamma'" "names the parameter"
        }

        test "the trainer follows the schedule: the epoch records show the decayed rate" {
            use net = tinyNet 1

            let o =
                Loop.Options(schedule = LearningRateSchedule.Parse "step(every=2,gamma=0.5)")

            use t = new Trainer(net, LabelSchema.Binary255, o)
            let r = t.Fit(cells 4, cells 1)
            let rates = r.History |> Seq.map _.LearningRate |> List.ofSeq
            // The rate of each epoch's last step: steps 1, 3, 5, 7 -> 1e-3 * 0.5^0, ^1, ^2, ^3.
            Expect.sequenceEqual (rates |> List.map (fun v -> Math.Round(v, 10))) [ 1e-3; 5e-4; 2.5e-4; 1.25e-4 ] "halved every 2 steps"
        }
    ]

[<Tests>]
let loop =
    testList "Training.loop" [
        test "gradient clipping bounds each step: a tiny norm leaves the SGD weights almost where they were" {
            let run (clip: float option) =
                use net = tinyNet 3
                let before = weights net

                let o =
                    TrainerOptions(
                        Epochs = 1,
                        StepsPerEpoch = 2,
                        Optimizer = OptimizerKind.Sgd,
                        LearningRate = 0.1,
                        Momentum = 0.0,
                        Seed = 2,
                        Progress = null,
                        ClipGradientNorm = Option.toNullable clip
                    )

                use t = new Trainer(net, LabelSchema.Binary255, o)
                t.Fit(cells 2) |> ignore

                Array.map2 (fun (a: float32) b -> float (abs (a - b))) before (weights net)
                |> Array.sum

            let free, clipped = run None, run (Some 1e-4)
            // Two SGD steps of lr 0.1 with gradients clipped to norm 1e-4 move the weights by at most 2e-5 in L2, so
            // far less in L1 than the free steps do.
            Expect.isLessThan clipped (free / 100.0) "clipped steps move the weights much less"
            Expect.isGreaterThan clipped 0.0 "but they still move them"
        }

        test "the best checkpoint follows the monitored score; early stopping ends the run and says when" {
            let dir = TestUtil.tempDir ()
            let path = Path.Combine(dir, "model.safetensors")
            use net = tinyNet 4
            // A learning rate this large makes the validation loss worsen after the first epochs, so patience runs out.
            use t =
                new Trainer(net, LabelSchema.Binary255, Loop.Options(path = path, patience = 1, lr = 0.5, epochs = 20))

            let r = t.Fit(cells 3, cells 1)
            let losses = r.History |> Seq.map _.ValidationLoss |> List.ofSeq
            let bestEpoch = (losses |> List.indexed |> List.minBy snd |> fst) + 1
            Expect.isTrue r.StoppedEarly "stopped early"
            Expect.isLessThan r.History.Count 20 "before the last epoch"
            let struct (bestValue, bestAt) = r.Best
            Expect.equal bestAt bestEpoch "the best epoch is the one with the lowest validation loss"
            Expect.floatClose Accuracy.medium bestValue (List.min losses) "its value"
            Expect.equal r.BestCheckpointPath (Path.Combine(dir, "model.best.safetensors")) "named beside the last"
            let best = Checkpoint.ReadInfo r.BestCheckpointPath
            Expect.equal best.Epoch bestEpoch "the best checkpoint holds that epoch"
            Expect.equal (Checkpoint.ReadInfo path).Epoch r.History.Count "the last checkpoint holds the last epoch"
        }

        test "a resumed run keeps its best score and patience" {
            let dir = TestUtil.tempDir ()
            let path = Path.Combine(dir, "model.safetensors")

            let first =
                use net = tinyNet 5

                use t =
                    new Trainer(net, LabelSchema.Binary255, Loop.Options(path = path, epochs = 2, monitor = ValidationMetric.MeanIoU))

                t.Fit(cells 3, cells 1)

            use net = tinyNet 6

            use t =
                new Trainer(net, LabelSchema.Binary255, Loop.Options(path = path, epochs = 3, monitor = ValidationMetric.MeanIoU))

            t.Resume path |> ignore
            let r = t.Fit(cells 3, cells 1)

            let iou =
                Seq.append first.History r.History
                |> Seq.map (fun e -> e.ValidationIoU[1])
                |> List.ofSeq

            let struct (bestValue, _) = r.Best
            Expect.floatClose Accuracy.high bestValue (List.max iou) "the best over all three epochs, the first two from before the resume"
        }

        test "validation scores objects: mAP equals the scoring module's on the evaluated tiles, and it can pick the best" {
            use net = tinyNet 8

            use t =
                new Trainer(net, LabelSchema.Binary255, Loop.Options(epochs = 2, monitor = ValidationMetric.MeanAP))

            let r = t.Fit(cells 3, cells 2)
            let e = t.Evaluate(cells 2)
            let expected = MeanAveragePrecision()

            for s, pred in Seq.zip (cells 2) e.Predictions do
                // The tiny net's output is the centre 20 x 20 of each 36 x 36 tile.
                let truth = Crops.Center(s.Instances, 36, 36, 20, 20)

                expected.Add(truth, ObjectScores.Instances(Array.map (fun c -> c > 0) pred, 20, 20), 20, 20)
                |> ignore

            Expect.floatClose Accuracy.high e.MeanAP expected.Value "the trainer's mAP"
            Expect.isTrue (e.MeanAP >= 0.0 && e.MeanAP <= 1.0) "in [0, 1]"
            let struct (_, at) = r.Best
            Expect.isGreaterThan at 0 "the best epoch is chosen by mAP"
            Expect.isFalse (Double.IsNaN r.History[0].ValidationMeanAP) "recorded per epoch"
        }

        test "train --quiet writes no progress and no epoch lines, and still trains" {
            let data = TestUtil.syntheticFolder 80 3 60
            let out = TestUtil.tempDir ()

            let code, stdout, err =
                CliTests.cropcat [
                    "train"
                    "--data"
                    data
                    "--widths"
                    "4,8"
                    "--epochs"
                    "2"
                    "--quiet"
                    "--threads"
                    "1"
                    "--out"
                    out
                ]

            Expect.equal code 0 err
            Expect.isFalse (err.Contains "epoch") $"no epoch lines: {err}"
            Expect.isFalse (err.Contains "cropcat train: net") "no banner"
            Expect.stringContains stdout "trained on" "the closing summary stays"
        }

        test "early stopping without validation data is refused" {
            use net = tinyNet 7
            use t = new Trainer(net, LabelSchema.Binary255, Loop.Options(patience = 2))
            let m = TestUtil.messageOf<ArgumentException> (fun () -> t.Fit(cells 2) |> ignore)
            Expect.stringContains m "early stopping watches a validation score" "says why"
        }

        test "the foreground schema maps every non-zero value to class 1 and reads back from JSON" {
            let s = LabelSchema.Foreground
            Expect.equal (s.Apply([| 0; 1; 255; 65535 |], 4, "m.png")) [| 0; 1; 1; 1 |] "0/1, 0/255 and 0/65535 masks alike"
            Expect.equal (s.ToJson()) """{"0":0,"*":1}""" "JSON with *"
            let back = LabelSchema.FromJson(s.ToJson())
            Expect.equal (back.Otherwise, back.ClassCount, back.ValueOf 1) (Nullable 1, 2, 255) "read back; class 1 is written as 255"
        }
    ]
