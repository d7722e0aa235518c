/// Colour images: RGB samples through augmentation, dataset folders, training and prediction.
module CropCat.Tests.ChannelsTests

open System
open System.IO
open Expecto
open CropCat.Augment
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


let private cellOptions =
    SyntheticCellsOptions(Height = 100, Width = 100, MinRadius = 6.0, MaxRadius = 12.0)

/// A dataset folder of `n` stained (RGB) synthetic cell images with 0/255 masks.
let private rgbDataset n =
    let d = tempDir ()

    let samples =
        Seq.init n (fun i -> SyntheticCells.Stained(SyntheticCells.Generate(700 + i, cellOptions)))

    FolderDataset.Save(d, samples, LabelSchema.Binary255)
    d


[<Tests>]
let tests =
    testList "Channels" [
        test "a sample checks its image length against channels x height x width" {
            let m =
                messageOf<ArgumentException> (fun () ->
                    Sample("rgb", 2, 3, Array.zeroCreate 6, Array.zeroCreate 6, channels = 3)
                    |> ignore)

            Expect.stringContains m "expected 18 (3 channel(s) of 2x3)" "says what it expected"
        }

        test "augmentation moves every channel with the same field and jitter" {
            let gray =
                SyntheticCells.Generate(3, SyntheticCellsOptions(Height = 40, Width = 52))

            let n = gray.Height * gray.Width

            let rgb =
                Sample(
                    gray.Name,
                    gray.Height,
                    gray.Width,
                    Array.concat [ gray.Image; gray.Image; gray.Image ],
                    gray.Classes,
                    gray.Instances,
                    channels = 3
                )

            for seed in [ 1; 2; 3 ] do
                let a = Augmenter.Apply(gray, seed, AugmentOptions())
                let b = Augmenter.Apply(rgb, seed, AugmentOptions())
                Expect.equal b.Channels 3 "still RGB"
                Expect.equal (b.Height, b.Width) (a.Height, a.Width) "same geometry"
                Expect.equal b.Classes a.Classes "same labels"

                for c in 0..2 do
                    Expect.equal b.Image[c * a.Image.Length .. (c + 1) * a.Image.Length - 1] a.Image $"channel {c}, seed {seed}"

            Expect.equal rgb.Image.Length (3 * n) "planar"
        }

        test "an RGB dataset folder reads back as three planes; a 1-channel read gives luma; gray is refused for 3 channels" {
            let d = rgbDataset 1
            let stained = SyntheticCells.Stained(SyntheticCells.Generate(700, cellOptions))

            let back =
                FolderDataset.Load(d, LabelSchema.Binary255, channels = 3) |> Seq.exactlyOne

            Expect.equal back.Channels 3 "three channels"

            let gap =
                Array.map2 (fun (a: float32) b -> abs (a - b)) back.Image stained.Image
                |> Array.max

            Expect.isLessThan gap 1e-4f "16-bit round trip"
            Expect.equal back.Classes stained.Classes "labels"
            let luma = FolderDataset.Load(d, LabelSchema.Binary255) |> Seq.exactlyOne
            Expect.equal luma.Channels 1 "gray by default"
            let n = 100 * 100
            let i = 4321

            let expected =
                0.299f * back.Image[i]
                + 0.587f * back.Image[n + i]
                + 0.114f * back.Image[2 * n + i]

            Expect.floatClose Accuracy.medium (float luma.Image[i]) (float expected) "luma of R, G, B"

            let grayFolder = tempDir ()
            FolderDataset.Save(grayFolder, [ SyntheticCells.Generate(1, cellOptions) ], LabelSchema.Binary255)

            let m =
                messageOf<DatasetException> (fun () -> FolderDataset.Load(grayFolder, LabelSchema.Binary255, channels = 3) |> ignore)

            Expect.stringContains m "0000.png is gray but the network reads 3 channels" "names the file and the problem"
        }

        testCase "an RGB folder trains a 3-channel net and predicts masks; a gray image is skipped by name"
        <| fun () ->
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            torch.manual_seed 5L |> ignore
            let data = rgbDataset 3
            let options = UNetOptions(Widths = [| 4; 8 |], InChannels = 3)
            use net = UNet.Create options

            let training =
                TrainerOptions(Epochs = 1, MaxSteps = 3L, Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, Seed = 1, Progress = null)

            let result =
                FolderTraining.Run(
                    net,
                    FolderTrainingOptions(DataFolder = data, OutputFolder = tempDir (), ValidationFraction = 0.34),
                    training
                )

            Expect.equal (result.TrainImages, result.ValidationImages) (2, 1) "one of three held out"
            let loaded, info = (Checkpoint.LoadNetwork result.CheckpointPath).ToTuple()
            use loaded = loaded
            Expect.equal loaded.InChannels 3 "the checkpoint rebuilds a 3-channel net"

            let input = tempDir ()

            for f in Directory.GetFiles(Path.Combine(data, "images")) do
                File.Copy(f, Path.Combine(input, Path.GetFileName f |> string))

            let grayFile = Path.Combine(input, "gray.png")
            PngEncoder.WriteGray16(grayFile, Array.zeroCreate (100 * 100), 100, 100)
            let out = tempDir ()
            let log = new StringWriter()

            let report =
                FolderPredictor(loaded, info.Labels, TileOptions(TileSize = 60), false, log).Run(input, out)

            Expect.equal report.Written.Count 3 "the RGB images are segmented"
            Expect.equal (report.Skipped |> Seq.map _.File |> List.ofSeq) [ grayFile ] "the gray image is skipped"
            Expect.stringContains (log.ToString()) "gray.png" "and named"

            for f in Directory.GetFiles(Path.Combine(data, "images")) do
                let mask = PngReader.Read(Path.Combine(out, Path.GetFileName f |> string))
                Expect.equal (mask.Width, mask.Height, mask.Channels) (100, 100, 1) "mask of the image's size"

        test "the trainer refuses a sample whose channels differ from the net's" {
            TestUtil.init ()
            use _ = torch.NewDisposeScope()
            let options = UNetOptions(Widths = [| 2; 4 |], InChannels = 3)
            use net = UNet.Create options

            use trainer =
                new Trainer(net, LabelSchema.Binary255, TrainerOptions(Progress = null))

            let gray =
                SyntheticCells.Generate(1, SyntheticCellsOptions(Height = 36, Width = 36))

            let m =
                messageOf<ArgumentException> (fun () -> trainer.TrainOn(ResizeArray [ gray ]) |> ignore)

            Expect.stringContains m "has 1 image channel(s) but the network reads 3" "says which sample and why"
        }
    ]
