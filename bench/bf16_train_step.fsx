// Training step time, fp32 vs bf16 mixed precision (fp32 master weights, bf16 convolutions), interleaved in one
// process: the paper net at 572 (output 388) and the width-16 net at 572. NCHW layout for both (no Auto timing,
// which on a loaded machine costs minutes per case). `cropcat bench --experiment bf16 --cases ...-train` runs the
// same comparison with the bench's Auto layout. Run after a Release build, from the repository root:
//   dotnet fsi bench/bf16_train_step.fsx REPS
#r "../Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../Cli/bin/Release/net10.0/CropCat.Core.dll"
#r "../Cli/bin/Release/net10.0/CropCat.Bench.dll"

open TorchSharp
open CropCat.Architecture
open CropCat.Bench
open CropCat.Nets
open CropCat.Runtime

let reps = match fsi.CommandLineArgs with [| _; s |] -> int s | _ -> 3
NativeRuntime.EnsureLoaded()
Allocator.KeepHeap()
let load () = System.IO.File.ReadAllText "/proc/loadavg" |> fun s -> s.Trim()
printfn "CPU %s, %d threads; load average %s" CpuInfo.Model (torch.get_num_threads ()) (load ())

for (name, widths) in [ "w16", [| 16; 32; 64; 128; 256 |]; "paper", [| 64; 128; 256; 512; 1024 |] ] do
    let make precision =
        torch.manual_seed 1L |> ignore
        let net = UNet.Create(UNetOptions(Widths = widths))
        net.Layout <- MemoryLayout.Contiguous
        if precision = Precision.BFloat16 then net.TrainingPrecision <- precision
        let out = net.Infer(572, 572).Height
        BenchCase.TrainStep(net, 1, 572, out, 2)
    let fp32, bf16 = make Precision.Float32, make Precision.BFloat16
    fp32.RunOnce() |> ignore // warm-up
    bf16.RunOnce() |> ignore
    let times = [ for _ in 1..reps -> fp32.RunOnce(), bf16.RunOnce() ]
    let median xs = List.sort xs |> fun s -> s[List.length s / 2]
    let a, b = median (List.map fst times), median (List.map snd times)
    printfn "%s-572-train: fp32 %.3f s, bf16 %.3f s (medians of %d interleaved pairs), fp32/bf16 %.2fx; pair ratios %s; load average %s"
        name a b reps (a / b) (times |> List.map (fun (x, y) -> sprintf "%.2f" (x / y)) |> String.concat " ") (load ())
    fp32.Dispose()
    bf16.Dispose()
