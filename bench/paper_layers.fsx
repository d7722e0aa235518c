// Per-layer view of the paper net's forward (572x572, batch 1, fp32): every convolution timed alone in
// NCHW and channels-last, as GFLOP/s and % of the FMA peak, against the whole forward in the same run,
// so the closing gap between the forward and the peak can be read per layer.
// Run after a Release build:  dotnet fsi bench/paper_layers.fsx [reps]
#r "../Cli/bin/Release/net10.0/TorchSharp.dll"
#r "../Cli/bin/Release/net10.0/CropCat.Core.dll"
#r "../Cli/bin/Release/net10.0/CropCat.Bench.dll"

open System
open System.Diagnostics
open TorchSharp
open CropCat.Bench
open CropCat.Nets
open CropCat.Runtime
open CropCat.Architecture

NativeRuntime.EnsureLoaded()
Allocator.KeepHeap() |> ignore
let reps = fsi.CommandLineArgs |> Array.tryItem 1 |> Option.map int |> Option.defaultValue 5
Threading.Thread.Sleep 500
let peak = (FmaPeak.Measure Environment.ProcessorCount).Best

let median (xs: float list) = List.sort xs |> fun s -> s[s.Length / 2]

/// Median seconds of `f` over `reps` runs after one warm-up, each in its own dispose scope.
let time (f: unit -> unit) =
    use _ = torch.no_grad ()
    (use s = torch.NewDisposeScope() in f ())
    [ for _ in 1..reps ->
          use s = torch.NewDisposeScope()
          let c = Stopwatch.StartNew()
          f ()
          c.Elapsed.TotalSeconds ]
    |> median

let toLayout layout (t: torch.Tensor) =
    if layout = MemoryLayout.Contiguous then t else MemoryLayouts.To(t, layout)

let net = UNet.Create UNetOptions.Paper
let trace = net.Trace(572, 572)
printfn "| layer | kind | in -> out (C, HxW) | GFLOP | NCHW ms | GFLOP/s | %% of peak | channels-last ms | GFLOP/s | %% of peak |"
printfn "|---|---|---|---|---|---|---|---|---|---|"
let mutable cin, hin = 1, 572
let totals = Collections.Generic.Dictionary<MemoryLayout, float>()

for r in trace do
    let o = r.Output
    let cell =
        match r.Kind with
        | "Conv3x3+ReLU" -> Some(3L, 1L, o.Height + 2)
        | "UpConv2x2" -> Some(2L, 2L, o.Height / 2)
        | "Head1x1" -> Some(1L, 1L, o.Height)
        | _ -> None

    match cell with
    | Some(k, stride, h) ->
        let flop = 2.0 * float (k * k) * float cin * float o.Channels * float o.Height * float o.Width
        let flop = if r.Kind = "UpConv2x2" then flop / 4.0 else flop // 2x2 taps per input pixel, not per output pixel
        let cells =
            [ for layout in [ MemoryLayout.Contiguous; MemoryLayout.ChannelsLast ] ->
                  let x = torch.rand(1L, int64 cin, int64 h, int64 h) |> toLayout layout
                  let t =
                      if r.Kind = "UpConv2x2" then
                          let w = torch.randn(int64 cin, int64 o.Channels, 2L, 2L) |> toLayout layout
                          time (fun () -> torch.nn.functional.conv_transpose2d(x, w, strides = [| 2L; 2L |]) |> ignore)
                      else
                          let w = torch.randn(int64 o.Channels, int64 cin, k, k) |> toLayout layout
                          time (fun () -> torch.nn.functional.conv2d(x, w).relu_() |> ignore)
                  totals[layout] <- (match totals.TryGetValue layout with | true, v -> v | _ -> 0.0) + t
                  $"{1000.0 * t:F1} | {flop / t / 1e9:F0} | {100.0 * flop / t / 1e9 / peak:F0}%%" ]
        printfn "| %s | %s | %d, %d -> %d, %d | %.1f | %s |" r.Path r.Kind cin h o.Channels o.Height (flop / 1e9) (String.Join(" | ", cells))
    | None -> ()

    cin <- o.Channels

for layout in [ MemoryLayout.Contiguous; MemoryLayout.ChannelsLast ] do
    net.Layout <- layout
    net.eval () |> ignore
    let x = torch.rand (1L, 1L, 572L, 572L)
    let whole = time (fun () -> net.forward x |> ignore)
    printfn ""
    printfn "%A: whole forward %.3f s; its convolutions alone %.3f s (%.0f%%); the rest (pooling, crop+concat, copies) %.3f s" layout whole totals[layout] (100.0 * totals[layout] / whole) (whole - totals[layout])

printfn ""
printfn "FMA peak %.1f GFLOP/s (%d threads); CPU %s" peak Environment.ProcessorCount CpuInfo.Model
