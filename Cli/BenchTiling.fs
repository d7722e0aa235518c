/// `cropcat bench-tiling`: throughput and peak memory of overlap-tile inference.
module CropCat.Cli.BenchTiling

open System
open System.Diagnostics
open System.IO
open Argu
open CropCat.Inference
open CropCat.Nets
open CropCat.Runtime
open TorchSharp
open CropCat.Architecture

/// Command-line options of `cropcat bench-tiling`.
type Args =
    | Size of px: int
    | Whole_Size of px: int
    | Reps of int
    | Tile of px: int
    | Batch of int
    | Net of string
    | Paper_Size of px: int
    | Memory
    | Large_Tiff of px: int
    | Large_Height of px: int
    | Keep
    | [<Hidden>] Memory_Child of px: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Size _ -> "edge of the tiled image (default 2048; 0 skips these rows)"
            | Whole_Size _ ->
                "edge of the image for tiled vs whole-image time (and the whole-image row), reduced net (default 1024; 0 skips)"
            | Reps _ -> "timed repetitions after the warm-up (default 3)"
            | Tile _ -> "requested input tile edge (default 572)"
            | Batch _ -> "tiles per forward pass (default 1)"
            | Net _ -> "paper, reduced or all (default all)"
            | Memory ->
                "only the memory model: predicted vs measured activation peak, paper net tiles 252, 572, 892 and reduced net 572, 1212 (one fresh process each)"
            | Memory_Child _ -> "internal: one forward of --net on one tile, prints the measured peak bytes"
            | Large_Tiff _ ->
                "only the streamed case: write an N x N 8-bit gray tiled TIFF (tiles of 256, Deflate) band by band, predict it region by region with the reduced net (or --net paper) into a tiled TIFF mask, print MP/s, rows, blocks decoded and peak RSS (VmHWM), e.g. --large-tiff 20000"
            | Large_Height _ ->
                "with --large-tiff N: the generated image's height (default N, square); memory depends on the width only, so N x 2048 measures the peak of N x N in a fraction of the time"
            | Keep -> "with --large-tiff: keep the generated TIFF and its mask (printed paths) instead of deleting them"
            | Paper_Size _ -> "edge of the image for tiled vs whole-image time, paper net (default 512; 0 skips)"

/// The width-reduced net of the benchmark: the paper's depth and valid convolutions, 1/4 of its widths.
let reducedOptions = UNetOptions(Widths = [| 16; 32; 64; 128; 256 |])

/// Resets the process's peak RSS to its current RSS (Linux >= 4.0); false where that is not possible.
let private resetPeak () =
    try
        File.WriteAllText("/proc/self/clear_refs", "5")
        true
    with _ ->
        false

type private Row = {
    Case: string
    Net: string
    Image: int
    Tiles: string
    Median: float
    Peak: float
}

let private median (xs: float list) = (List.sort xs)[List.length xs / 2]

/// Times `run` `reps` times after `warmUp`, each inside a dispose scope; returns the median seconds and peak RSS.
let private measure (reps: int) (warmUp: unit -> unit) (run: unit -> unit) =
    let peakReset = resetPeak ()

    (use _ = torch.NewDisposeScope()
     warmUp ())

    let times = [
        for _ in 1..reps ->
            use _ = torch.NewDisposeScope()
            let sw = Stopwatch.StartNew()
            run ()
            sw.Elapsed.TotalSeconds
    ]

    median times,
    (if peakReset then
         CropCat.Bench.Machine.PeakRssMiB()
     else
         nan)

let private image (size: int) =
    torch.manual_seed 7L |> ignore
    torch.rand (1L, int64 size, int64 size)

/// Tiled inference of a size x size image; the warm-up is one tile-sized image (same kernels, one tile).
let private tiled reps (name: string) (net: Network) (options: TileOptions) (size: int) =
    let tiler = OverlapTile(net, options)
    let plan = tiler.Plan(size, size)
    use img = image size
    use warm = image plan.OutputSize

    let t, peak =
        measure reps (fun () -> tiler.Predict(warm).Dispose()) (fun () -> tiler.Predict(img).Dispose())

    {
        Case = "tiled"
        Net = name
        Image = size
        Tiles = sprintf "%d x %d" plan.Count plan.TileSize
        Median = t
        Peak = peak
    }

/// One pass over the whole mirror-padded image; the warm-up is a full pass (its shape differs from any tile's).
let private whole reps (name: string) (net: Network) (size: int) =
    use img = image size

    let t, peak =
        measure reps (fun () -> WholeImage.Predict(net, img).Dispose()) (fun () -> WholeImage.Predict(net, img).Dispose())

    {
        Case = "whole image"
        Net = name
        Image = size
        Tiles = "1 pass"
        Median = t
        Peak = peak
    }

/// One case of the interleaved tiled-vs-whole comparison: a name, how it runs, and its stage profile (tiled cases).
type private Contender = {
    Label: string
    Tiles: string
    Run: unit -> unit
    Timings: TileStageTimes option
}

/// A tiler for a size x size image whose tiles yield at least `minOutput` px each (the smallest such tile).
let private tilerFor (net: Network) (size: int) (minOutput: int) =
    let choice = TilePlan.ChooseTileSize(net, 1, minOutput)
    let timings = TileStageTimes()
    let tiler = OverlapTile(net, TileOptions(TileSize = choice.Tile, Timings = timings))
    tiler, tiler.Plan(size, size), timings

/// Tiled vs whole-image inference of one size x size image, interleaved rep by rep in this process so that
/// the machine's load hits every case alike: the whole-image pass, one tile covering the whole padded image
/// (the same computed pixels as the pass) and 2 x 2 tiles. Prints MP/s of image pixels, the ratio to the
/// whole-image pass and each tiled case's stage split.
let private compare (reps: int) (name: string) (net: Network) (size: int) =
    use img = image size
    let f = net.Spec.DownsamplingFactor
    // One tile whose output covers the image; two tiles per axis, each stepping at least half the image.
    let oneTiler, onePlan, oneTimes = tilerFor net size size
    let fourTiler, fourPlan, fourTimes = tilerFor net size ((size + 1) / 2 + f - 1)

    let contenders = [
        {
            Label = "whole image"
            Tiles = "1 pass"
            Run = fun () -> WholeImage.Predict(net, img).Dispose()
            Timings = None
        }
        {
            Label = "tiled, 1 tile"
            Tiles = sprintf "%d x %d" onePlan.Count onePlan.TileSize
            Run = fun () -> oneTiler.Predict(img, onePlan).Dispose()
            Timings = Some oneTimes
        }
        {
            Label = "tiled, 2x2"
            Tiles = sprintf "%d x %d" fourPlan.Count fourPlan.TileSize
            Run = fun () -> fourTiler.Predict(img, fourPlan).Dispose()
            Timings = Some fourTimes
        }
    ]

    for c in contenders do
        (use _ = torch.NewDisposeScope()
         c.Run())

        c.Timings |> Option.iter (fun t -> t.Clear())

    let times = Array.init contenders.Length (fun _ -> ResizeArray<float>())

    for _ in 1..reps do
        contenders
        |> List.iteri (fun i c ->
            use _ = torch.NewDisposeScope()
            let sw = Stopwatch.StartNew()
            c.Run()
            times[i].Add sw.Elapsed.TotalSeconds)

    let medians = times |> Array.map (List.ofSeq >> median)
    let mp = float size * float size / 1e6

    let load =
        try
            File.ReadAllText("/proc/loadavg").Trim()
        with _ ->
            "?"

    printfn ""
    printfn "%s net, %d^2 image, interleaved, median of %d (load average before the table: %s)" name size reps load
    printfn "| case | tiles x edge | median s | MP/s | / whole | stage split |"
    printfn "|---|---|---|---|---|---|"

    contenders
    |> List.iteri (fun i c ->
        printfn
            "| %s | %s | %.3f | %.3f | %.2f | %s |"
            c.Label
            c.Tiles
            medians[i]
            (mp / medians[i])
            (medians[0] / medians[i])
            (match c.Timings with
             | Some t -> string t
             | None -> "-"))

/// In a fresh process: one NCHW forward of the paper net on one tile; prints the peak RSS (VmHWM after the
/// forward) minus the RSS before it, in bytes. The net and the tile exist before the baseline is read.
let private memoryChild (tile: int) (name: string) =
    NativeRuntime.EnsureLoaded()
    Allocator.KeepHeap() |> ignore
    torch.manual_seed 1L |> ignore

    use net =
        if name = "paper" then
            UNet.Paper()
        else
            UNet.Create reducedOptions

    net.eval ()
    net.Layout <- MemoryLayout.Contiguous
    use x = torch.rand (1L, 1L, int64 tile, int64 tile)
    use _ = torch.no_grad ()

    if not (resetPeak ()) then
        raise (InvalidOperationException "cannot reset the peak RSS (/proc/self/clear_refs)")

    let before = CropCat.Bench.Machine.RssMiB()

    (use _ = torch.NewDisposeScope()
     net.forward x |> ignore)

    printfn "%.0f" ((CropCat.Bench.Machine.PeakRssMiB() - before) * 1048576.0)
    0

/// Predicted (TileMemory.PeakBytes) vs measured activation peak of the paper net, one fresh process per tile.
let private memoryTable () =
    printfn "batch 1, NCHW, float32; measured: VmHWM after one forward minus VmRSS before it, fresh process per tile"

    printfn
        "| net | tile | output | tensor peak MiB | predicted MiB (x %.1f) | measured MiB | measured / predicted |"
        TileMemory.RuntimeFactor

    printfn "|---|---|---|---|---|---|---|"

    // The paper net's three tiles calibrated RuntimeFactor; the reduced net's are a check outside that fit.
    for name, tile in [ "paper", 252; "paper", 572; "paper", 892; "reduced", 572; "reduced", 1212 ] do
        use net =
            if name = "paper" then
                UNet.Paper()
            else
                UNet.Create reducedOptions

        let tensors = float (TileMemory.TensorPeakBytes(net, tile, 1)) / 1048576.0
        let predicted = float (TileMemory.PeakBytes(net, tile, 1)) / 1048576.0

        // As `dotnet cropcat.dll` the program path is dotnet itself, so the dll has to go first (SelfStart).
        let info = SelfStart.startInfo $"bench-tiling --memory-child {tile} --net {name}"

        info.RedirectStandardOutput <- true

        use child =
            match Process.Start info with
            | null -> raise (InvalidOperationException(sprintf "cannot start the measuring process for tile %d" tile))
            | c -> c

        let text = child.StandardOutput.ReadToEnd()
        child.WaitForExit()

        if child.ExitCode <> 0 then
            raise (InvalidOperationException(sprintf "the measuring process for tile %d failed with exit code %d" tile child.ExitCode))

        let measured = float (text.Trim().Split('\n') |> Array.last) / 1048576.0

        printfn
            "| %s | %d | %d | %.0f | %.0f | %.0f | %.2f |"
            name
            tile
            (net.Infer(tile, tile).Width)
            tensors
            predicted
            measured
            (measured / predicted)

    printfn
        "(load average after: %s)"
        (try
            File.ReadAllText("/proc/loadavg").Trim()
         with _ ->
             "?")

    0

/// One deterministic gray value of the synthetic large image: smooth blobs on a background, plus texture.
let private syntheticPixel (x: int) (y: int) =
    let blobs =
        sin (float x / 23.0) * cos (float y / 29.0)
        + 0.5 * sin (float (x + 2 * y) / 57.0)

    let hash = ((uint32 x * 73856093u) ^^^ (uint32 y * 19349663u)) % 23u
    uint16 (max 0.0 (min 255.0 (118.0 + 70.0 * blobs + float hash)))

/// Writes an n (wide) x height 8-bit gray tiled TIFF band by band (256 rows in memory at a time).
let private writeLargeTiff (path: string) (n: int) (height: int) =
    use writer = CropCat.Imaging.TiffTiledWriter.Create(path, n, height, 8, 256)
    let rows = 256
    let buffer = Array.zeroCreate<uint16> (rows * n)

    for y0 in 0..rows .. height - 1 do
        let k = min rows (height - y0)

        for r in 0 .. k - 1 do
            for x in 0 .. n - 1 do
                buffer[r * n + x] <- syntheticPixel x (y0 + r)

        writer.WriteRows(ReadOnlySpan(buffer, 0, k * n), k)

    writer.Commit()

let private loadAverage () =
    try
        File.ReadAllText("/proc/loadavg").Trim()
    with _ ->
        "?"

/// The streamed case: an n x n TIFF on disk, predicted region by region into a tiled TIFF mask.
let private largeTiff (n: int) (height: int) (tile: int) (batch: int) (name: string) (keep: bool) =
    NativeRuntime.EnsureLoaded()
    Allocator.KeepHeap() |> ignore

    if n < 1 || height < 1 then
        raise (ArgumentException(sprintf "--large-tiff and --large-height must be >= 1, got %d and %d" n height))

    let folder =
        Path.Combine(Path.GetTempPath(), sprintf "cropcat-large-tiff-%d" Environment.ProcessId)

    Directory.CreateDirectory folder |> ignore
    let input = Path.Combine(folder, sprintf "large%dx%d.tif" n height)

    try
        printfn "bench-tiling --large-tiff %d --large-height %d: %s" n height (CropCat.Bench.Machine.Describe())
        printfn "%d thread(s), load average before: %s" (torch.get_num_threads ()) (loadAverage ())
        let sw = Stopwatch.StartNew()
        writeLargeTiff input n height

        printfn
            "wrote %s: %d x %d 8-bit gray, tiles of 256, Deflate, %.0f MiB on disk, in %.1f s (band by band)"
            input
            n
            height
            (float (FileInfo(input).Length) / 1048576.0)
            sw.Elapsed.TotalSeconds

        torch.manual_seed 1L |> ignore

        use net =
            if name = "paper" then
                UNet.Paper()
            else
                UNet.Create reducedOptions

        net.eval ()
        let timings = TileStageTimes()
        let options = TileOptions(TileSize = tile, BatchSize = batch, Timings = timings)

        // Warm-up on one tile-sized image in memory: the first forward of a tile shape also chooses the layout.
        (let warmPlan = OverlapTile(net, options).Plan(height, n)
         use _ = torch.NewDisposeScope()
         use warm = image warmPlan.OutputSize
         OverlapTile(net, options).Predict(warm).Dispose())

        timings.Clear()
        let rssBefore = CropCat.Bench.Machine.RssMiB()
        let peakReset = resetPeak ()

        let result =
            StreamingPredictor.Predict(
                net,
                CropCat.Data.LabelSchema.Binary255,
                input,
                folder,
                FolderPredictorOptions(Tiles = options),
                rowDone =
                    (fun rowsDone rows ->
                        if rowsDone = rows || rowsDone % 10 = 0 then
                            eprintfn
                                "row %d/%d of tiles (%.0f s, RSS %.0f MiB)"
                                rowsDone
                                rows
                                sw.Elapsed.TotalSeconds
                                (CropCat.Bench.Machine.RssMiB()))
            )

        let peak =
            if peakReset then
                CropCat.Bench.Machine.PeakRssMiB()
            else
                nan

        let p = result.Summary.Plan
        printfn ""

        printfn
            "| net | image | input | tile (output, step) | rows x tiles | blocks decoded | statistics s | total s | MP/s | RSS before MiB | peak RSS MiB |"

        printfn "|---|---|---|---|---|---|---|---|---|---|---|"

        printfn
            "| %s | %d x %d | %s | %d (%d, %d) | %d x %d | %d | %.1f | %.1f | %.3f | %.0f | %.0f |"
            name
            n
            height
            result.Layout
            p.TileSize
            p.OutputSize
            p.Step
            p.Rows.Count
            p.Columns.Count
            result.BlocksDecoded
            result.StatisticsSeconds
            result.Seconds
            result.MegapixelsPerSecond
            rssBefore
            peak

        printfn ""
        printfn "stage split of the tiled prediction (assemble = reading, standardising and copying the windows): %O" timings

        printfn
            "mask: %s (%.1f MiB); load average after: %s"
            result.Mask
            (float (FileInfo(result.Mask).Length) / 1048576.0)
            (loadAverage ())

        printfn
            "peak RSS: VmHWM after the run, reset (clear_refs) after the warm-up, so it is the streamed run's high-water mark of the whole process"

        0
    finally
        if not keep then
            Directory.Delete(folder, true)
        else
            printfn "kept %s" folder

/// Runs the benchmark and prints the table. `nets`: "paper", "reduced" or "all".
let run (size: int) (wholeSize: int) (paperSize: int) (reps: int) (tile: int) (batch: int) (nets: string) =
    NativeRuntime.EnsureLoaded()
    Allocator.KeepHeap() |> ignore

    if reps < 1 then
        raise (ArgumentException(sprintf "--reps must be >= 1, got %d" reps))

    if size < 0 then
        raise (ArgumentException(sprintf "--size must be >= 0, got %d" size))

    let options = TileOptions(TileSize = tile, BatchSize = batch)
    let want n = nets = "all" || nets = n

    if not (want "paper" || want "reduced") then
        raise (ArgumentException(sprintf "--net must be paper, reduced or all, got '%s'" nets))

    torch.manual_seed 1L |> ignore

    let reduced =
        lazy
            (let n = UNet.Create reducedOptions in
             n.eval ()
             n)

    let paper =
        lazy
            (let n = UNet.Paper() in
             n.eval ()
             n)

    printfn
        "bench-tiling: %d thread(s), device %O, tile %d, batch %d, warm-up then median of %d, keep-heap %b"
        (torch.get_num_threads ())
        Devices.Default
        tile
        batch
        reps
        Allocator.HeapKept

    if want "reduced" && wholeSize > 0 then
        compare reps "reduced" reduced.Value wholeSize

    if want "paper" && paperSize > 0 then
        compare reps "paper" paper.Value paperSize

    // Cases run in order of growing memory: the kept heap of a case is reused, not added, by the next one.
    let rows = [
        if want "reduced" then
            if size > 0 then
                yield tiled reps "reduced" reduced.Value options size

            if wholeSize > 0 then
                yield tiled reps "reduced" reduced.Value options wholeSize
        if want "paper" && size > 0 then
            yield tiled reps "paper" paper.Value options size
        if want "reduced" && wholeSize > 0 then
            yield whole reps "reduced" reduced.Value wholeSize
    ]

    printfn ""
    printfn "| case | net | image | tiles x edge | median s | MP/s | peak RSS MiB |"
    printfn "|---|---|---|---|---|---|---|"

    for r in rows do
        let mp = float r.Image * float r.Image / 1e6
        printfn "| %s | %s | %d^2 | %s | %.2f | %.3f | %.0f |" r.Case r.Net r.Image r.Tiles r.Median (mp / r.Median) r.Peak

    printfn ""

    printfn
        "peak RSS: the process's high-water mark, reset before each case (so a case's figure includes heap kept from earlier cases); one case per process (--net, --whole-size 0) isolates it."

    0

/// Runs the benchmark with parsed command-line options.
let runWith (a: ParseResults<Args>) =
    try
        match a.TryGetResult Memory_Child with
        | Some tile -> memoryChild tile (a.GetResult(Net, "paper"))
        | None when a.Contains Memory -> memoryTable ()
        | None when a.Contains Large_Tiff ->
            let n = a.GetResult Large_Tiff

            largeTiff
                n
                (a.GetResult(Large_Height, n))
                (a.GetResult(Tile, 572))
                (a.GetResult(Batch, 1))
                (a.GetResult(Net, "reduced"))
                (a.Contains Keep)
        | None ->
            run
                (a.GetResult(Size, 2048))
                (a.GetResult(Whole_Size, 1024))
                (a.GetResult(Paper_Size, 512))
                (a.GetResult(Reps, 3))
                (a.GetResult(Tile, 572))
                (a.GetResult(Batch, 1))
                (a.GetResult(Net, "all"))
    with :? ArgumentException as e ->
        eprintfn "cropcat bench-tiling: %s" e.Message
        2
