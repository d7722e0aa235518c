// bf16 mixed-precision training vs fp32 on the demo's configuration (Cli/Demo.fs: synthetic touching cells,
// the paper-style net of widths 8,16,32,64 at 188 px tiles, Adam 2e-3, weighted cross-entropy with border
// weights, seed 0), both runs from the same initial weights, seed and steps. Prints the held-out IoU of the cell
// class of both and the relative error of the two trained models' logits on the held-out images.
// Run after a Release build, from the repository root:
//   dotnet fsi bench/bf16_train_accuracy.fsx STEPS
#r "../Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../Cli/bin/Release/net10.0/CropCat.Core.dll"

open System
open System.Diagnostics
open TorchSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training

let steps = match fsi.CommandLineArgs with [| _; s |] -> int64 s | _ -> 300L
let seed = 0
NativeRuntime.EnsureLoaded()
Devices.Default <- torch.CPU
let cells first n = [ for i in 0 .. n - 1 -> SyntheticCells.Generate(seed * 100000 + first + i).Standardized() ]
let trainSet, valSet, testSet = cells 0 48, cells 50000 6, cells 70000 16

let run (precision: Precision) =
    torch.manual_seed (int64 seed) |> ignore
    let net = UNet.Create(UNetOptions(Widths = [| 8; 16; 32; 64 |]))
    // One layout for both runs, so the only difference is the precision.
    net.Layout <- MemoryLayout.Contiguous
    let options =
        TrainerOptions(Epochs = 10000, StepsPerEpoch = 50, Optimizer = OptimizerKind.Adam, LearningRate = 2e-3,
                       Loss = LossKind.WeightedCrossEntropy, WeightMap = WeightMapOptions(), Seed = seed,
                       MaxSteps = steps, Precision = precision)
    let trainer = new Trainer(net, LabelSchema.Binary255, options)
    let clock = Stopwatch.StartNew()
    let result = trainer.Fit(ResizeArray trainSet, ResizeArray valSet)
    let seconds = clock.Elapsed.TotalSeconds
    // Held-out scores in the precision it trained in, and in fp32 (what a reloaded checkpoint computes).
    let test = trainer.Evaluate(ResizeArray testSet, false)
    net.TrainingPrecision <- Precision.Float32
    let test32 = trainer.Evaluate(ResizeArray testSet, false)
    printfn "%A: %d steps in %.1f s, last train loss %.4f; held-out IoU(cell) %.4f in its precision, %.4f in fp32; kept fp32: %A"
        precision result.Steps seconds (result.History |> Seq.last).TrainLoss test.Scores.IoU[1] test32.Scores.IoU[1] (List.ofSeq net.Float32Modules)
    net, test32.Scores.IoU[1], test.Scores.IoU[1]

printfn "CPU %s; load average %s" CpuInfo.Model (IO.File.ReadAllText "/proc/loadavg" |> fun s -> s.Trim())
let net32, iou32, _ = run Precision.Float32
let net16, iou16fp32, iou16 = run Precision.BFloat16
// Both trained models in fp32 on the same held-out images: how far bf16 training moved the function.
let logitGap =
    use _ = torch.no_grad ()
    net32.eval () |> ignore
    net16.eval () |> ignore
    testSet |> List.map (fun s ->
        use scope = torch.NewDisposeScope()
        let x = torch.tensor(s.Image).reshape(1L, 1L, int64 s.Height, int64 s.Width)
        let a, b = net32.forward x, net16.forward x
        float ((a - b).abs().max().item<float32> ()) / float (a.abs().max().item<float32> ()))
printfn "IoU fp32 %.4f, bf16-trained %.4f (evaluated in bf16 %.4f): gap %.4f" iou32 iou16fp32 iou16 (abs (iou32 - iou16fp32))
printfn "logits of the two trained models, max |bf16-trained - fp32-trained| / max |fp32-trained| per held-out image: mean %.4f, max %.4f" (List.average logitGap) (List.max logitGap)
printfn "load average %s" (IO.File.ReadAllText "/proc/loadavg" |> fun s -> s.Trim())
