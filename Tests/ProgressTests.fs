/// Progress that fits where stderr goes: the live Spectre bars checked on Spectre's TestConsole (an
/// interactive, ANSI console in memory), the redirected path and --verbose / --quiet on the real CLI.
module CropCat.Tests.ProgressTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Spectre.Console
open Spectre.Console.Testing
open CropCat.Architecture
open CropCat.Cli
open CropCat.Data
open CropCat.Inference
open CropCat.IO
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open TorchSharp

/// An interactive console that emits ANSI sequences, as a terminal gets them.
let private terminal () =
    let c = new TestConsole()
    c.Interactive() |> ignore
    c.EmitAnsiSequences <- true
    c.Profile.Width <- 160
    c

let private written (write: TextWriter -> unit) =
    let lines = ResizeArray()
    use w = new Progress.LineWriter(lines.Add)
    write w
    List.ofSeq lines

let private cells n =
    ResizeArray [
        for i in 0 .. n - 1 ->
            SyntheticCells.Generate(800 + i, SyntheticCellsOptions(Height = 36, Width = 36, MinRadius = 5.0, MaxRadius = 9.0))
    ]

let private hasAnsi (s: string) = s.Contains '\u001b'

[<Tests>]
let tests =
    testList "Progress" [
        testProperty "LineWriter: redrawn \\r statuses vanish, finished lines come out as written"
        <| fun (lines: NonEmptyString list) (statuses: NonEmptyString list) ->
            let clean (s: NonEmptyString) =
                s.Get.Replace('\r', ' ').Replace('\n', ' ').Trim()
                |> fun t -> if t = "" then "x" else t

            let expected = lines |> List.map clean

            let got =
                written (fun w ->
                    expected
                    |> List.iteri (fun i l ->
                        // A status redrawn before the line, as the trainer and the tiler write them.
                        for s in statuses |> List.truncate (i % 3 + 1) do
                            w.Write("\r" + clean s + "   ")

                        w.Write("\r" + l + "      \n")))

            got = expected

        test "the training bar on a terminal: steps of the total, loss, rate, the epoch lines above it, ANSI redraws" {
            NativeRuntime.EnsureLoaded()
            torch.manual_seed 4L |> ignore
            use net = UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)
            let console = terminal ()
            let bar = Progress.TrainBar(console, 3, 2, 0L)

            let options =
                TrainerOptions(
                    Epochs = 3,
                    StepsPerEpoch = 2,
                    Optimizer = OptimizerKind.Adam,
                    LearningRate = 1e-3,
                    Seed = 1,
                    Progress = bar.Lines,
                    StepDone = bar.StepDone,
                    EpochDone = bar.EpochDone
                )

            use trainer = new Trainer(net, LabelSchema.Binary255, options)
            let result = bar.Run(fun () -> trainer.Fit(cells 3, cells 1))
            let out = console.Output
            Expect.equal result.Steps 6L "trained"
            Expect.stringContains out "train step 6/6" "steps of the run's total"
            Expect.stringContains out "steps/s" "the rate"
            Expect.stringContains out "100%" "ends full"
            Expect.stringContains out "epoch 3/3  2 steps  train loss" "the trainer's epoch lines print above the bar"
            Expect.isTrue (hasAnsi out) "a live display, redrawn with escape sequences"
            Expect.isFalse (out.Contains "\repoch") "the trainer's own \\r status line is not shown beside the bar"
        }

        test "the training bar learns the total from the first epoch when neither steps per epoch nor max steps is given" {
            NativeRuntime.EnsureLoaded()
            torch.manual_seed 5L |> ignore
            use net = UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)
            let console = terminal ()
            let bar = Progress.TrainBar(console, 2, 0, 0L)

            let options =
                TrainerOptions(Epochs = 2, Seed = 1, Progress = bar.Lines, StepDone = bar.StepDone, EpochDone = bar.EpochDone)

            use trainer = new Trainer(net, LabelSchema.Binary255, options)
            bar.Run(fun () -> trainer.Fit(cells 3)) |> ignore
            Expect.stringContains console.Output "train step 6/6" "3 samples, batch 1: 3 steps an epoch, 2 epochs"
        }

        test "the prediction bars on a terminal: images done of all, tiles of the current image" {
            let data = TestUtil.syntheticFolder 720 2 100
            let model = CliTests.trainTiny data
            let net, info = Checkpoint.LoadNetwork model |> _.ToTuple()
            use net = net
            let console = terminal ()
            let bar = Progress.PredictBar(console)

            let options =
                FolderPredictorOptions(Tiles = TileOptions(TileSize = 44), Log = bar.Lines, Progress = bar.Progress)

            let report =
                bar.Run(fun () -> FolderPredictor(net, info.Labels, options).Run(Path.Combine(data, "images"), TestUtil.tempDir ()))

            let out = console.Output
            Expect.equal report.Written.Count 2 "both masks"
            Expect.stringContains out "images 2/2" "images done of all"
            Expect.stringContains out "0001.png: tile" "the current image's tiles"
            Expect.isTrue (hasAnsi out) "a live display"
        }

        test "redirected stderr: train and predict write plain lines (no \\r, no ANSI); --verbose adds its lines, --quiet none" {
            if not Console.IsErrorRedirected then
                skiptest "stderr is a terminal here: the CLI draws the live bar, tested above on a TestConsole"

            let data = TestUtil.syntheticFolder 730 3 100

            let trainArgs out = [
                "train"
                "--data"
                data
                "--out"
                out
                "--widths"
                "4,8"
                "--epochs"
                "2"
                "--threads"
                "1"
            ]

            let code, _, err =
                CliTests.cropcat (trainArgs (TestUtil.tempDir ()) @ [ "--verbose" ])

            Expect.equal code 0 err
            Expect.isFalse (err.Contains '\r') "no carriage returns"
            Expect.isFalse (hasAnsi err) "no escape sequences"

            for line in
                [
                    "cropcat train: epoch 2: "
                    "cropcat train: time: "
                    "cropcat train: tile plan: "
                    "training-image decodes"
                ] do
                Expect.stringContains err line "a --verbose line"

            let _, _, plain = CliTests.cropcat (trainArgs (TestUtil.tempDir ()))
            Expect.isFalse (plain.Contains "tile plan:") "not without --verbose"
            let model = CliTests.trainTiny data

            let predict extra =
                CliTests.cropcat (
                    [
                        "predict"
                        "--model"
                        model
                        "--input"
                        Path.Combine(data, "images")
                        "--output"
                        TestUtil.tempDir ()
                        "--tile"
                        "44"
                    ]
                    @ extra
                )

            let code, _, err = predict [ "--verbose" ]
            Expect.equal code 0 err
            Expect.isFalse (err.Contains '\r') $"no carriage returns in predict's tile progress: {err}"
            Expect.isFalse (hasAnsi err) "no escape sequences"
            Expect.stringContains err "tile 16/16" "the finished tile count, once, as a plain line"
            Expect.stringContains err "0001.png: 16 tile(s) of 44 px" "--verbose: the tile plan"
            Expect.stringContains err "precision Float32" "--verbose: the precision"
            let code, _, quiet = predict [ "--quiet" ]
            Expect.equal code 0 quiet
            Expect.equal quiet "" "--quiet: nothing on stderr"
        }
    ]
