using CropCat.Architecture;
// Trains a small paper-style U-Net on synthetic touching cells from C#, saves a checkpoint and scores
// held-out images. Run: dotnet run --project Examples/CSharpTrain -c Release [-- steps]
using System;
using System.Linq;
using CropCat.Data;
using CropCat.IO;
using CropCat.Nets;
using CropCat.Runtime;
using CropCat.Training;
using TorchSharp;

NativeRuntime.EnsureLoaded();
var steps = args.Length > 0 ? int.Parse(args[0]) : 60;

// Depth 2, unpadded: a 140 px tile predicts its centre 100 px.
var options = new UNetOptions { Widths = [8, 16, 32] };
torch.manual_seed(1);
using var net = UNet.Create(options);
var cells = new SyntheticCellsOptions { Height = 140, Width = 140 };
var train = Enumerable.Range(0, 16).Select(i => SyntheticCells.Generate(i, cells).Standardized()).ToList();
var test = Enumerable.Range(1000, 4).Select(i => SyntheticCells.Generate(i, cells).Standardized()).ToList();

var trainer = new Trainer(net, LabelSchema.Binary255, new TrainerOptions
{
    Epochs = 3,
    StepsPerEpoch = Math.Max(1, steps / 3),
    Optimizer = OptimizerKind.Adam,
    LearningRate = 2e-3,
    Seed = 1,
    CheckpointPath = "out/csharp-train/model.safetensors",
});
var result = trainer.Fit(train, validation: test);

var eval = trainer.Evaluate(test);
Console.WriteLine($"{result.Steps} steps in {result.Seconds:F1} s; held-out cell IoU {eval.Scores.IoU[1]:F3}, " +
                  $"Dice {eval.Scores.Dice[1]:F3}, pixel error {eval.Scores.PixelError:F3}, Rand error {eval.RandError:F3}");
var info = Checkpoint.ReadInfo("out/csharp-train/model.safetensors");
Console.WriteLine($"checkpoint: {info.Architecture.Kind} after epoch {info.Epoch}, step {info.Step}, labels {info.Labels}");
trainer.Dispose();
