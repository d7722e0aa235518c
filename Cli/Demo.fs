/// `cropcat demo`: the README's main job.
module CropCat.Cli.Demo

open System
open System.IO
open CropCat.Imaging
open CropCat.Nets
open CropCat.Runtime
open TorchSharp

/// Builds the paper's network, prints its summary, segments a random 572x572 tile and writes
/// the foreground probability map as a PNG under `outDir`.
let run (outDir: string) (seed: int) =
    NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore
    let net = UNet.Paper()
    net.eval ()
    printfn "%s" (Summary.Render(net, 572, 572))

    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    let x = torch.rand ([| 1L; 1L; 572L; 572L |], device = Devices.Default)
    let sw = Diagnostics.Stopwatch.StartNew()
    let logits = net.forward x
    let probs = torch.nn.functional.softmax (logits, 1L)
    let fg = probs.select(1, 1L).squeeze().cpu ()
    let h, w = int fg.shape[0], int fg.shape[1]
    let path = Path.Combine(outDir, "probability-572.png")
    TensorImages.WriteGrayPng(path, fg)
    printfn "Segmented a random 572x572 tile in %.2f s on %O: output %dx%d, probability map written to %s" sw.Elapsed.TotalSeconds Devices.Default h w path
    0
