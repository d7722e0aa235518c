// Training from an F# script: a small paper-style U-Net on synthetic touching cells, weighted loss,
// a checkpoint, held-out scores. Pack first (dotnet fsi build.fsx -t Pack writes the local feed out/feed, which nuget.config here names), then:
//   dotnet fsi Examples/scripts/train.fsx
#r "nuget: CropCat.Core, 0.1.0"
#r "nuget: libtorch-cpu-linux-x64, 2.10.0"

open System
open CropCat.Data
open CropCat.IO
open CropCat.Nets
open CropCat.Training
open TorchSharp
open CropCat.Architecture

CropCat.Runtime.NativeRuntime.EnsureLoaded()

// Depth 2, unpadded, crop-and-cat: a 140 px tile predicts its centre 100 px.
let options = UNetOptions(Widths = [| 8; 16; 32 |])
torch.manual_seed 1L |> ignore
let net = UNet.Create options
let cells = SyntheticCellsOptions(Height = 140, Width = 140)

let sample seed =
    SyntheticCells.Generate(seed, cells).Standardized()

let train = ResizeArray [ for i in 0..15 -> sample i ]
let test = ResizeArray [ for i in 1000..1003 -> sample i ]

let trainerOptions =
    TrainerOptions(
        Epochs = 3,
        StepsPerEpoch = 20,
        Optimizer = OptimizerKind.Adam,
        LearningRate = 2e-3,
        WeightMap = WeightMapOptions(W0 = 10.0, Sigma = 5.0),
        Seed = 1,
        CheckpointPath = "out/fsx-train/model.safetensors"
    )

let trainer = new Trainer(net, LabelSchema.Binary255, trainerOptions)

let result = trainer.Fit(train, test)
let eval = trainer.Evaluate test

printfn
    "%d steps in %.1f s; held-out cell IoU %.3f, Dice %.3f, pixel error %.3f, Rand error %.3f"
    result.Steps
    result.Seconds
    eval.Scores.IoU[1]
    eval.Scores.Dice[1]
    eval.Scores.PixelError
    eval.RandError

for e in result.History do
    printfn "epoch %d: train loss %.4f, validation IoU %.3f" e.Epoch e.TrainLoss e.ValidationIoU[1]

trainer.Dispose()
