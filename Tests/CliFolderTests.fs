/// `cropcat train` / `cropcat predict` end to end through the code they run: FolderTraining, Stored
/// (checkpoint -> net) and FolderPredictor, on a tiny net and four 100 x 100 synthetic images.
/// Each test runs in a dispose scope, so it leaves no tensor for the finalizer: the memory tests that
/// count live tensors would otherwise see them vanish mid-measurement.
module CropCat.Tests.CliFolderTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Data
open CropCat.Dsl
open CropCat.Imaging
open CropCat.Inference
open CropCat.IO
open CropCat.Nets
open CropCat.Training
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Architecture


/// Depth 1, widths [4; 8]: 100 px is a valid input (84 px out).
let private tinyOptions = UNetOptions(Widths = [| 4; 8 |])

/// A dataset folder of `n` synthetic 100 x 100 cell images with 0/255 masks.
let private dataset n = syntheticFolder 500 n 100

let private fewSteps =
    TrainerOptions(Epochs = 1, MaxSteps = 3L, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, Seed = 1, Progress = null)

/// Trains `net` on `data` for a few steps as `cropcat train` does; returns the result.
let private train (data: string) (net: Network) =
    let out = tempDir ()
    FolderTraining.Run(net, FolderTrainingOptions(DataFolder = data, OutputFolder = out, ValidationFraction = 0.25), fewSteps)

let private trainTiny data =
    TestUtil.init ()
    torch.manual_seed 7L |> ignore
    use net = UNet.Create tinyOptions
    train data net

let private pixels (file: string) = (PngReader.Read file).Samples


[<Tests>]
let endToEnd =
    testList "Cli.folders" [
        testCase "train writes a checkpoint; predict writes a 0/255 mask of the right size per image and skips a corrupt PNG by name"
        <| fun () ->
            use _ = torch.NewDisposeScope()
            let data = dataset 4
            let result = trainTiny data
            Expect.isTrue (File.Exists result.CheckpointPath) "checkpoint written"
            Expect.equal (result.TrainImages, result.ValidationImages) (3, 1) "one of four images held out"
            let sizes = (UNet.Create tinyOptions).Sizes.Value
            let struct (covering, _) = sizes.InputFor(100).Value
            Expect.equal result.Tile covering "the tile is the smallest whose output covers a 100 px image"
            Expect.isGreaterThanOrEqual result.OutputSize 100 "its output covers the image"

            Expect.isLessThan
                (sizes.OutputOf(result.Tile - sizes.Period)
                 |> Option.ofNullable
                 |> Option.defaultValue 0)
                100
                "a smaller valid tile would not cover it"

            let input = tempDir ()

            for f in Directory.GetFiles(Path.Combine(data, "images")) do
                File.Copy(f, Path.Combine(input, Path.GetFileName f |> string))

            let broken = Path.Combine(input, "broken.png")
            File.WriteAllText(broken, "not a png")
            let net, info = (Checkpoint.LoadNetwork result.CheckpointPath).ToTuple()
            use net = net
            Expect.equal (info.Labels.ToJson()) (LabelSchema.Binary255.ToJson()) "label schema stored"
            let out = tempDir ()
            let log = new StringWriter()

            let report =
                FolderPredictor(net, info.Labels, TileOptions(TileSize = 60), true, log).Run(input, out)

            Expect.equal report.Written.Count 4 "the four good images are segmented"
            Expect.equal (report.Skipped |> Seq.map _.File |> List.ofSeq) [ broken ] "the corrupt file is skipped"
            Expect.stringContains (log.ToString()) "broken.png" "the corrupt file is reported by name"
            Expect.equal report.ExitCode PredictionReport.SkippedExitCode "a skip gives the non-zero exit code"

            for f in Directory.GetFiles(Path.Combine(data, "images")) do
                let name = Path.GetFileName f |> string
                let mask = PngReader.Read(Path.Combine(out, name))
                Expect.equal (mask.Width, mask.Height, mask.Channels) (100, 100, 1) $"{name}: mask size"
                Expect.isTrue (mask.Samples |> Array.forall (fun v -> v = 0us || v = 255us)) $"{name}: values in the schema"
                let prob = PngReader.Read(Path.Combine(out, "probabilities", name))
                Expect.equal (prob.Width, prob.Height, prob.BitDepth) (100, 100, 16) $"{name}: probability map"

            Expect.isFalse (File.Exists(Path.Combine(out, "broken.png"))) "no output for the skipped file"

        testCase "predict's tiled masks and probabilities equal one whole-image forward"
        <| fun () ->
            use _ = torch.NewDisposeScope()
            let data = dataset 2
            let result = trainTiny data
            let net, info = (Checkpoint.LoadNetwork result.CheckpointPath).ToTuple()
            use net = net
            let out = tempDir ()
            let file = Path.Combine(data, "images", "0000.png")
            let predictor = FolderPredictor(net, info.Labels, TileOptions(TileSize = 44), true)
            Expect.isGreaterThan (predictor.Tiles |> fun t -> TilePlan.For(net, 100, 100, t).Count) 1 "several tiles"
            predictor.PredictFile(file, out) |> ignore
            use x = FolderPredictor.InputTensor(PngReader.Read file, 1, file)
            use whole = WholeImage.Predict(net, x)
            use foreground = whole[1]
            let p1 = foreground.data<float32>().ToArray()
            let tiled = pixels (Path.Combine(out, "probabilities", "0000.png"))
            let mask = pixels (Path.Combine(out, "0000.png"))

            for i in 0 .. p1.Length - 1 do
                let expected = float p1[i] * 65535.0
                Expect.isLessThanOrEqual (abs (float tiled[i] - expected)) 1.0 $"probability at pixel {i}"

                if abs (p1[i] - 0.5f) > 1e-4f then
                    Expect.equal mask[i] (if p1[i] > 0.5f then 255us else 0us) $"class at pixel {i}"

        testCase "a DSL description is stored under CropCat.Dsl and rebuilt with the same weights"
        <| fun () ->
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            let data = dataset 2

            let text =
                """{ "inChannels": 1, "layers": [ { "block": 4 },
                     { "skip": "cropcat", "body": [ { "down": "strict" }, { "block": 8 }, { "up": 4 } ] },
                     { "block": 4 }, { "head": 2 } ] }"""

            let description = NetworkDescription.Of(Json.parse text)
            use net = description.Build()
            let result = train data net
            let loaded, info = (Checkpoint.LoadNetwork result.CheckpointPath).ToTuple()
            use loaded = loaded
            Expect.equal info.Architecture.Kind NetworkDescription.SpecKind "kind"
            use x = torch.randn (1L, 1L, 44L, 44L)
            net.eval ()
            loaded.eval ()
            use a = net.forward x
            use b = loaded.forward x
            Expect.isTrue (a.allclose b) "same outputs"

        testCase "a net whose smallest input exceeds the images trains on mirror-padded tiles covering each image"
        <| fun () ->
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            let data = dataset 1
            let o = UNetOptions(Widths = [| 2; 2; 2; 2; 2 |])
            use net = UNet.Create o
            let result = train data net
            Expect.equal (result.Training.Steps, result.TrainTiles) (1L, 1) "one epoch of the one window that covers the image"
            Expect.isGreaterThanOrEqual result.OutputSize 100 "each tile's output covers the 100 px image"
            Expect.isTrue (Double.IsFinite result.Training.History[0].TrainLoss) "a finite loss"

        testCase "a tile limit below the net's smallest input is refused with both sizes"
        <| fun () ->
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            let data = dataset 1
            use net = UNet.Create(UNetOptions(Widths = [| 2; 2; 2; 2; 2 |]))

            let m =
                messageOf<FolderTrainingException> (fun () ->
                    FolderTraining.Run(
                        net,
                        FolderTrainingOptions(DataFolder = data, OutputFolder = tempDir (), MaxTileSize = 100),
                        fewSteps
                    )
                    |> ignore)

            Expect.stringContains m "at least 188x188" "says the smallest input"
            Expect.stringContains m "limited to 100" "says the limit"

        testCase "a gray image for a 3-channel net is refused by name"
        <| fun () ->
            TestUtil.init ()
            let image = PngImage(4, 4, 1, 8, Array.zeroCreate 16)

            let m =
                messageOf<InputImageException> (fun () -> FolderPredictor.InputTensor(image, 3, "cells.png") |> ignore)

            Expect.stringContains m "cells.png: the image has 1 channel(s) (gray) but the network reads 3" "names file and channels"

        testCase "a missing or truncated checkpoint is a clear error"
        <| fun () ->
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            let d = tempDir ()

            Expect.throwsT<FileNotFoundException>
                (fun () ->
                    (Checkpoint.LoadNetwork(Path.Combine(d, "none.safetensors"))).ToTuple()
                    |> ignore)
                "missing"

            let bad = Path.Combine(d, "bad.safetensors")
            File.WriteAllBytes(bad, [| 1uy; 2uy; 3uy |])
            Expect.throwsT<SafetensorsException> (fun () -> (Checkpoint.LoadNetwork bad).ToTuple() |> ignore) "truncated"

    ]
