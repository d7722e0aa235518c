/// `cropcat bench-data`: the data path on a generated Carvana-like folder: decode speed per format, streamed
/// training steps/s with and without prefetching, and resident memory over a long streamed run.
module CropCat.Cli.BenchData

open System
open System.IO
open Argu
open CropCat.Bench
open CropCat.Data
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open CropCat.Architecture
open TorchSharp

/// Command-line options of `cropcat bench-data`.
type Args =
    | Dir of path: string
    | Images of int
    | Width of px: int
    | Height of px: int
    | Steps of int
    | Compare_Steps of int
    | Tile of px: int
    | Cache_Mb of int
    | Threads of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Dir _ -> "folder of the generated dataset, kept between runs (default out/bench-data)"
            | Images _ -> "generated image/mask pairs (default 2000)"
            | Width _ -> "image width (default 1918, Carvana's)"
            | Height _ -> "image height (default 1280)"
            | Steps _ -> "steps of the memory run (default 300; 0 skips it)"
            | Compare_Steps _ -> "steps of each prefetch-on / prefetch-off run, two rounds interleaved (default 20)"
            | Tile _ -> "largest training tile (default 572)"
            | Cache_Mb _ -> "image cache in MiB (default 512, as cropcat train)"
            | Threads _ -> "CPU threads for libtorch (default: libtorch's choice)"

/// The benchmark's net: RGB in, widths 8..64 (depth 3, valid convolutions), 2 classes: small enough that the data
/// path is a visible share of a step.
let benchOptions = UNetOptions(InChannels = 3, Widths = [| 8; 16; 32; 64 |])

let run (args: ParseResults<Args>) =
    NativeRuntime.EnsureLoaded()
    args.TryGetResult Threads |> Option.iter torch.set_num_threads
    let dir = args.GetResult(Dir, "out/bench-data")
    let n = args.GetResult(Images, 2000)
    let w, h = args.GetResult(Width, 1918), args.GetResult(Height, 1280)
    let cache = int64 (args.GetResult(Cache_Mb, 512)) <<< 20
    printfn "%s" (Machine.Describe())
    let clock = Diagnostics.Stopwatch.StartNew()

    let entries =
        DataBench.CarvanaLike(dir, n, w, h, 20261202, LoadOptions(LabelSchema.Binary255, 3))

    printfn "dataset: %d pairs of %dx%d RGB JPEG + PNG mask in %s (%.0f s to make or find)" n w h dir clock.Elapsed.TotalSeconds
    printfn ""
    printfn "| format | files | MP | s | MP/s |"
    printfn "|---|---|---|---|---|"

    for r in DataBench.Decode(dir, [ for e in Seq.truncate 8 entries -> e.Source ], 2) do
        printfn "| %s | %d | %.1f | %.2f | %.1f |" r.Format r.Files r.MegaPixels r.Seconds r.MegaPixelsPerSecond

    torch.manual_seed 1L |> ignore
    use net = UNet.Create benchOptions
    let tile = FolderTraining.ChooseTile(net, args.GetResult(Tile, 572), entries)
    let out = net.Infer(tile, tile)
    let steps = args.GetResult(Compare_Steps, 20)
    printfn ""

    printfn
        "training: net %s, tile %d -> %d, batch 1, Adam; each step draws a random window of an image in a seeded order"
        (string (benchOptions.Widths |> Array.map string |> String.concat ","))
        tile
        out.Height

    printfn ""
    printfn "| case | steps | s | steps/s | waiting for data, s | share | images decoded |"
    printfn "|---|---|---|---|---|---|---|"

    let row (r: TrainRow) =
        printfn
            "| %s | %d | %.1f | %.2f | %.1f | %.0f%% | %d |"
            r.Case
            r.Steps
            r.Seconds
            r.StepsPerSecond
            r.DataSeconds
            (100.0 * r.DataSeconds / r.Seconds)
            r.ImageLoads

    for round in (if steps > 0 then [ 1; 2 ] else []) do
        for prefetch in [ 0; 2 ] do
            // Another slice of the images each run, so no run finds the previous one's images cached.
            let slice =
                entries
                |> Seq.skip ((round * 2 + prefetch) * steps % max 1 (n - steps))
                |> Seq.truncate steps
                |> ResizeArray

            row (DataBench.Train($"prefetch {prefetch}, round {round}", net, slice, tile, prefetch, steps, steps, cache))

    let long = args.GetResult(Steps, 300)

    if long > 0 then
        let r =
            DataBench.Train("memory run, prefetch 2", net, entries, tile, 2, long, max 1 (long / 10), cache)

        row r
        printfn ""
        printfn "resident memory every %d steps (MiB): %s" (max 1 (long / 10)) (r.RssMiB |> Seq.map (sprintf "%.0f") |> String.concat " ")
        printfn "peak resident memory of the process: %.0f MiB" (Machine.PeakRssMiB())

    0
