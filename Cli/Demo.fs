/// `cropcat demo`: the README's main job. Trains a small paper-style U-Net on synthetic touching cells,
/// twice (with and without the paper's border weights), and writes metrics, curves and overlays.
module CropCat.Cli.Demo

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open CropCat.Data
open CropCat.Imaging
open CropCat.IO
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open TorchSharp
open CropCat.Architecture

/// Tile edge: a depth-3 unpadded net loses 88 px, so a 188 px tile predicts its centre 100 x 100.
let private tile = 188

/// The demo net: the paper's architecture (valid convs, 2x2 max-pool, transposed up, crop-and-cat),
/// depth 3 and 8x narrower, so it trains on two CPU cores in minutes.
let private netOptions = UNetOptions(Widths = [| 8; 16; 32; 64 |])

/// One training run (same initial weights and data for both runs) and its held-out scores.
type private Run = {
    Name: string
    Result: TrainResult
    Test: Evaluation
    Trainer: Trainer
}

let private train
    (name: string)
    (seed: int)
    (weights: WeightMapOptions)
    (budget: TimeSpan)
    (maxSteps: int64)
    (trainSet: Sample list)
    (valSet: Sample list)
    (testSet: Sample list)
    (logDir: string)
    =
    torch.manual_seed (int64 seed) |> ignore
    let net = UNet.Create netOptions
    // One TensorBoard run per training run, so TensorBoard draws the two side by side.
    use board = new TensorBoard.Writer(logDir, net, List.truncate 2 valSet)

    let options =
        TrainerOptions(
            Epochs = 10000,
            StepsPerEpoch = 50,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 2e-3,
            Loss = LossKind.WeightedCrossEntropy,
            WeightMap = weights,
            Seed = seed,
            TimeBudget = Nullable budget,
            MaxSteps = maxSteps,
            StepDone = board.StepDone,
            EpochDone = board.EpochDone
        )

    let trainer = new Trainer(net, LabelSchema.Binary255, options)
    board.Trainer <- Some trainer

    eprintfn
        "--- training %s (time budget %.0f s%s) ---"
        name
        budget.TotalSeconds
        (if maxSteps > 0L then $", at most {maxSteps} steps" else "")

    let result = trainer.Fit(ResizeArray trainSet, ResizeArray valSet)
    let test = trainer.Evaluate(ResizeArray testSet)

    {
        Name = name
        Result = result
        Test = test
        Trainer = trainer
    }

let private fg (a: float[]) = if a.Length > 1 then a[1] else nan

let private summary (r: Run) =
    let s = r.Test.Scores

    {|
        steps = r.Result.Steps
        // The time budget usually ends training inside an epoch: count whole epochs, mark the partial one.
        epochs = r.Result.History |> Seq.filter (fun h -> h.Complete) |> Seq.length
        seconds = Math.Round(r.Result.Seconds, 1)
        steps_per_second = Math.Round(float r.Result.Steps / r.Result.Seconds, 2)
        iou_foreground = fg s.IoU
        dice_foreground = fg s.Dice
        iou_per_class = s.IoU
        dice_per_class = s.Dice
        pixel_error = s.PixelError
        rand_error = r.Test.RandError
        mean_average_precision = r.Test.MeanAP
        precision_per_class =
            (match r.Test.Classes with
             | null -> [||]
             | c -> c.Precision)
        recall_per_class =
            (match r.Test.Classes with
             | null -> [||]
             | c -> c.Recall)
        test_loss = r.Test.Loss
        history =
            r.Result.History
            |> Seq.map (fun h -> {|
                epoch = h.Epoch
                complete = h.Complete
                step = h.Step
                train_loss = h.TrainLoss
                val_loss = h.ValidationLoss
                val_iou_foreground = fg h.ValidationIoU
                val_pixel_error = h.ValidationPixelError
            |})
            |> Array.ofSeq
    |}

/// The saved model evaluated in bfloat16 as a user would run it (load, switch, evaluate): its scores and the
/// self-check error, or why bf16 was refused (no bf16 instructions, or libtorch's bf16 convolutions failing
/// the self-check, as they do for this 8-channel net on AMD Zen 5).
let private bf16Evaluation (checkpoint: string) (testSet: Sample list) =
    if not Precisions.CpuHasBFloat16 then
        Error "this CPU has no AVX512_BF16 or AMX-BF16 instructions"
    else
        use net = UNet.Create netOptions
        Checkpoint.Load(checkpoint, net) |> ignore

        use t =
            new Trainer(net, LabelSchema.Binary255, TrainerOptions(Loss = LossKind.WeightedCrossEntropy, Progress = null))

        try
            net.Precision <- Precision.BFloat16
            let e = t.Evaluate(ResizeArray testSet, false)
            Ok(e, net.PrecisionCheckError)
        with :? PrecisionNotSupportedException as e ->
            Error e.Message

let private curves (path: string) (runs: Run list) =
    Curves.write path (runs |> List.map (fun r -> r.Name, r.Result.History :> EpochRecord seq))

let private overlays (outDir: string) (testSet: Sample list) (runs: Run list) (count: int) =
    let out = netOptions |> fun o -> UNet.Create(o).Infer(tile, tile)
    let oh, ow = out.Height, out.Width
    let scale = 3

    testSet
    |> List.truncate count
    |> List.iteri (fun i s ->
        let image = Crops.Center(s.Image, s.Height, s.Width, oh, ow)

        let instances =
            match s.Instances with
            | null -> failwithf "demo sample %s has no instance labels (synthetic cells always do)" s.Name
            | a -> a

        let truth = Crops.Center(instances, s.Height, s.Width, oh, ow)

        let panel caption (p: Raster) = Overlay.Captioned(p, caption, 2)

        let preds =
            runs
            |> List.map (fun r ->
                let cells = Components.OfClasses(r.Test.Predictions[i], oh, ow)
                panel $"PREDICTED: {r.Name.ToUpperInvariant()}" (Overlay.Instances(image, cells, oh, ow, scale)))

        let panels =
            [
                panel "INPUT" (Overlay.Gray(image, oh, ow, scale))
                panel "GROUND TRUTH" (Overlay.Instances(image, truth, oh, ow, scale))
            ]
            @ preds

        let path = Path.Combine(outDir, $"overlay-{i + 1}.png")
        Overlay.SideBySide(ResizeArray panels, 10).Save path)

/// Trains the demo net on synthetic cells with and without border weights within `minutes` of wall
/// time and writes metrics.json, curves.png, overlay-N.png, model.safetensors and TensorBoard logs (tensorboard/weighted,
/// tensorboard/unweighted) under `outDir`.
let run (outDir: string) (seed: int) (minutes: float) (threads: int) =
    let clock = Stopwatch.StartNew()
    NativeRuntime.EnsureLoaded()
    Allocator.KeepHeap() |> ignore
    // One thread by default: OpenMP workers spin-wait at every barrier, so on a loaded 2-core machine two
    // threads of this small net ran 10-18x slower per step than one (measured 0.9-1.9 s vs 0.08-0.12 s).
    torch.set_num_threads (max 1 threads)
    Directory.CreateDirectory outDir |> ignore
    torch.manual_seed (int64 seed) |> ignore
    printfn "%s" (Summary.Render(UNet.Create netOptions, tile, tile))

    // Synthetic stand-ins for the ISBI cell data, which cannot be downloaded here: disjoint seed ranges.
    let cells first n = [
        for i in 0 .. n - 1 -> SyntheticCells.Generate(seed * 100000 + first + i).Standardized()
    ]

    let trainSet = cells 0 48
    let valSet = cells 50000 6
    let testSet = cells 70000 16

    printfn
        "Data: %d training, %d validation, %d held-out test images of %dx%d synthetic touching cells"
        trainSet.Length
        valSet.Length
        testSet.Length
        tile
        tile

    // The weighted run gets half the time left after data and start-up (minus a reserve for evaluation and
    // pictures); the unweighted run then does the same number of steps, so the two differ only in the weights.
    // Its time cap (25 % more) only guards the total when the machine gets busier half-way.
    let reserve = 25.0

    let perRun =
        TimeSpan.FromSeconds(max 10.0 ((minutes * 60.0 - clock.Elapsed.TotalSeconds - reserve) / 2.0))

    let board name =
        Path.Combine(outDir, "tensorboard", name)

    let weighted =
        train "weighted" seed (WeightMapOptions()) perRun 0L trainSet valSet testSet (board "weighted")

    let unweighted =
        train
            "unweighted"
            seed
            (WeightMapOptions(BorderTerm = false))
            (perRun * 1.25)
            weighted.Result.Steps
            trainSet
            valSet
            testSet
            (board "unweighted")

    let runs = [ weighted; unweighted ]

    weighted.Trainer.SaveCheckpoint(Path.Combine(outDir, "model.safetensors"))
    curves (Path.Combine(outDir, "curves.png")) runs
    overlays outDir testSet runs 4
    let bf16 = bf16Evaluation (Path.Combine(outDir, "model.safetensors")) testSet

    match bf16 with
    | Ok(e, check) -> printfn "bf16 inference of the saved model: cell IoU %.3f (self-check: logits %.4f from fp32)" (fg e.Scores.IoU) check
    | Error why -> printfn "bf16 inference of the saved model: refused: %s" why

    let metrics = {|
        seed = seed
        // The saved (weighted) model evaluated in bfloat16, or null with the reason in bf16_refused.
        bf16 =
            match bf16 with
            | Ok(e, check) ->
                box {|
                    iou_foreground = fg e.Scores.IoU
                    dice_foreground = fg e.Scores.Dice
                    pixel_error = e.Scores.PixelError
                    rand_error = e.RandError
                    self_check_logit_error = check
                |}
            | Error _ -> null
        bf16_refused =
            match bf16 with
            | Ok _ -> null
            | Error why -> why
        device = string Devices.Default
        threads = torch.get_num_threads ()
        network = {|
            widths = netOptions.Widths
            padding = "valid"
            merge = "crop-and-cat"
            parameters = UNet.Create(netOptions).ParameterCount
        |}
        tile = {|
            input = tile
            output = UNet.Create(netOptions).Infer(tile, tile).Height
        |}
        data = {|
            kind = "synthetic touching cells (stand-in for ISBI cell data)"
            train = trainSet.Length
            validation = valSet.Length
            test = testSet.Length
        |}
        training = {|
            optimizer = "adam"
            learning_rate = 2e-3
            loss = "pixel-weighted softmax cross-entropy"
            w0 = 10.0
            sigma = 5.0
            augmentation = "elastic 3x3 grid sigma 10 px, flips, 90-degree rotations, gray-value jitter"
        |}
        notes = {|
            weighted = "w(x) = w_c(x) + 10 exp(-(d1 + d2)^2 / (2 * 5^2)) on background pixels (the paper's weight map)"
            unweighted = "w(x) = w_c(x) only (class balance, no border term); same initial weights, data, seeds and step count"
            scores =
                "held-out: 16 synthetic images, 100x100 output region each; IoU/Dice of the cell class; Rand error = 1 - foreground-restricted Rand F-score (ISBI 2012), predicted cells = 4-connected components of the predicted cell class; mean_average_precision = object-level mAP over IoU 0.5:0.95 (TGS / DSB 2018), per image, averaged"
            losses = "the two runs' training losses are not comparable: border terms raise the weighted run's loss"
        |}
        weighted = summary weighted
        unweighted = summary unweighted
        total_seconds = Math.Round(clock.Elapsed.TotalSeconds, 1)
    |}

    let json =
        JsonSerializer.Serialize(
            metrics,
            JsonSerializerOptions(WriteIndented = true, NumberHandling = Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals)
        )

    AtomicFile.WriteText(Path.Combine(outDir, "metrics.json"), json)

    for r in runs do
        let s = r.Test.Scores

        printfn
            "%-10s  %5d steps in %5.1f s  held-out IoU %.4f  Dice %.4f  pixel error %.4f  Rand error %.4f  mAP %.3f"
            r.Name
            r.Result.Steps
            r.Result.Seconds
            (fg s.IoU)
            (fg s.Dice)
            s.PixelError
            r.Test.RandError
            r.Test.MeanAP

        r.Trainer.Dispose()

    printfn
        "Wrote %s (metrics.json, curves.png, overlay-1..4.png, model.safetensors, tensorboard/) in %.0f s"
        outDir
        clock.Elapsed.TotalSeconds

    0
