/// `cropcat bench`: CropCat's U-Net against a hand-written TorchSharp net of the same layers and
/// against PyTorch, A/B interleaved, with achieved GFLOP/s against the machine's measured matmul
/// ceiling and the peak memory of a forward. Timings only here, never in tests.
module CropCat.Cli.Bench

open System
open System.Collections.Generic
open System.Diagnostics
open System.Globalization
open System.IO
open System.Text
open System.Text.Json.Nodes
open Argu
open CropCat.Bench
open CropCat.Cli.BenchEngines
open CropCat.Runtime

type BenchArgs =
    | Quick
    | Cases of names: string
    | Reps of int
    | Warmup of int
    | Threads of int
    | No_Python
    | Single_Heap
    | No_Memory
    | Python of path: string
    | Out of path: string
    | [<Hidden>] Experiment of name: string
    | [<Hidden>] Serve
    | [<Hidden>] Probe of op: string * net: string * widths: string * size: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Quick -> "smoke test: only the width-16 net at 188, 3 repetitions, 1 warm-up"
            | Cases _ ->
                "comma-separated cases: paper-fwd, paper-train, w16-572-fwd, w16-572-train, w16-188-fwd, w16-188-train, resnet34-512-fwd, resnet34-512-train (smp's U-Net on ResNet-34, RGB at 512x512, against PyTorch's smp-structured module; CropCat columns only where no twin exists) (default all)"
            | Reps _ ->
                "timed repetitions per engine and case (default: 5 for the paper net, 11 for w16-572, 21 for w16-188; 3 with --quick)"
            | Warmup _ -> "untimed warm-up repetitions per engine and case (default 1)"
            | Threads _ -> "intra-op threads on every side (default: the number of cores)"
            | No_Python -> "skip PyTorch even when it is installed"
            | Single_Heap -> "run only this process's allocator setting (skip the other CROPCAT_KEEP_HEAP setting and PyTorch's defaults)"
            | No_Memory -> "skip the peak-memory probes (fresh processes)"
            | Python _ -> "python with torch (default /usr/bin/python3, with OpenBLAS from /usr/lib/x86_64-linux-gnu/openblas-openmp)"
            | Out _ -> "also write the report (markdown) to this file"
            | Experiment _ ->
                "A/B of a variant: 'layout' (CropCat in its default layout, Auto unless CROPCAT_LAYOUT says otherwise, vs NCHW-contiguous and channels-last, with a table of the ratios and Auto's choices), 'bf16' (fp32 vs bfloat16: the forward with bf16 weights, the training step in mixed precision) or 'onnxruntime' (CropCat's forward vs ONNX Runtime on the same net exported to ONNX, same weights and input; forward cases)"
            | Serve -> "internal: serve the worker line protocol on stdin/stdout"
            | Probe _ -> "internal: peak memory of one forward in a fresh process"

/// The ONNX Runtime managed assembly's version (the native library ships in the same package).
let private onnxRuntimeVersion () =
    typeof<Microsoft.ML.OnnxRuntime.InferenceSession>.Assembly.GetName().Version
    |> Option.ofObj
    |> Option.map (fun v -> v.ToString 3)
    |> Option.defaultValue "?"

let private paper = [| 64; 128; 256; 512; 1024 |]
let private w16 = [| 16; 32; 64; 128; 256 |]

let private spec widths size = {
    Widths = widths
    Size = size
    Dropout = 0.5
    Encoder = None
}

/// smp's U-Net on a ResNet encoder (3 channels in, 2 classes): no dropout, no widths of its own.
let private resnet encoder size = {
    Widths = [||]
    Size = size
    Dropout = 0.0
    Encoder = Some encoder
}

/// Every case the bench knows, in the order it runs them.
let allCases = [
    "paper-fwd", Fwd, spec paper 572
    "paper-train", Train, spec paper 572
    "w16-572-fwd", Fwd, spec w16 572
    "w16-572-train", Train, spec w16 572
    "w16-188-fwd", Fwd, spec w16 188
    "w16-188-train", Train, spec w16 188
    "resnet34-512-fwd", Fwd, resnet CropCat.Architecture.ResNetEncoder.ResNet34 512
    "resnet34-512-train", Train, resnet CropCat.Architecture.ResNetEncoder.ResNet34 512
]

let private inv (x: float) (fmt: string) =
    x.ToString(fmt, CultureInfo.InvariantCulture)

let private f0 x = inv x "F0"
let private f1 x = inv x "F1"
let private f3 x = inv x "F3"
let private metOr ok = if ok then "met" else "NOT met"

/// The value of TRIM_THRESHOLD CropCat's Allocator.KeepHeap sets; PyTorch gets the same through GLIBC_TUNABLES.
let keepHeapTunables =
    "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"

let private selfStart = SelfStart.startInfo

let private findScript () =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> None
        | dir ->
            let p = Path.Combine(dir.FullName, "bench", "pytorch_unet.py")
            if File.Exists p then Some p else up dir.Parent

    up (DirectoryInfo(Environment.CurrentDirectory))
    |> Option.orElse (up (DirectoryInfo(AppContext.BaseDirectory)))

let private openBlas = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

let private pythonStart (python: string) (script: string) (args: string) (keepHeap: bool) =
    let psi = ProcessStartInfo(python, $"\"{script}\" {args}")

    if Directory.Exists openBlas then
        psi.Environment["LD_LIBRARY_PATH"] <- openBlas

    if keepHeap then
        psi.Environment["GLIBC_TUNABLES"] <- keepHeapTunables
    else
        psi.Environment.Remove "GLIBC_TUNABLES" |> ignore

    psi

/// Whether `python` imports torch; the reason when it does not.
let private pythonTorch (python: string) =
    if not (File.Exists python) then
        Error $"{python} not found"
    else
        let psi = ProcessStartInfo(python, "-c \"import torch; print(torch.__version__)\"")
        psi.RedirectStandardOutput <- true
        psi.RedirectStandardError <- true

        if Directory.Exists openBlas then
            psi.Environment["LD_LIBRARY_PATH"] <- openBlas

        use p = startProcess psi
        let out = p.StandardOutput.ReadToEnd()
        p.StandardError.ReadToEnd() |> ignore
        p.WaitForExit()

        if p.ExitCode = 0 then
            Ok(out.Trim())
        else
            Error $"{python} cannot import torch (apt-get install python3-torch libopenblas0-openmp)"

/// Whether `python` imports torchvision (the PyTorch side of the ResNet cases builds torchvision's ResNet).
let private pythonTorchvision (python: string) =
    let psi = ProcessStartInfo(python, "-c \"import torchvision\"")
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true

    if Directory.Exists openBlas then
        psi.Environment["LD_LIBRARY_PATH"] <- openBlas

    use p = startProcess psi
    p.StandardOutput.ReadToEnd() |> ignore
    p.StandardError.ReadToEnd() |> ignore
    p.WaitForExit()
    p.ExitCode = 0

let private loadAvg () =
    if File.Exists "/proc/loadavg" then
        (File.ReadAllText "/proc/loadavg").Split(' ')
        |> Array.take 3
        |> String.concat " "
    else
        "n/a"

let private cpuModel () =
    if File.Exists "/proc/cpuinfo" then
        File.ReadLines "/proc/cpuinfo"
        |> Seq.tryFind (fun l -> l.StartsWith "model name")
        |> Option.map (fun l -> l.Split(':', 2).[1].Trim())
        |> Option.defaultValue "unknown CPU"
    else
        "unknown CPU"

/// Runs a fresh process that does one warm-up and one forward and prints {"base_mib", "peak_mib"}.
let private probeMemory (psi: ProcessStartInfo) =
    psi.RedirectStandardOutput <- true
    psi.UseShellExecute <- false
    use p = startProcess psi
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()

    let line =
        out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        |> Array.tryFindBack (fun l -> l.TrimStart().StartsWith "{")

    match line with
    | Some l when p.ExitCode = 0 ->
        let j = parseJson "memory probe" l
        Some((field "base_mib" j).GetValue<float>(), (field "peak_mib" j).GetValue<float>())
    | _ -> None

/// The `--probe` mode: build the net, run two forwards, print the memory before and at the peak.
let probe (op: string) (net: string) (widths: string) (size: int) (threads: int) =
    Allocator.KeepHeap() |> ignore
    TorchSharp.torch.set_num_threads threads
    let s = spec (widths.Split(',') |> Array.map int) size

    let kind =
        match net with
        | "reference" -> ReferenceNet
        | "reference-hold" -> ReferenceHoldNet
        | _ -> CropCatNet

    let c = makeCase kind (if op = "train" then Train else Fwd) s
    let baseMib = Machine.RssMiB()
    c.RunOnce() |> ignore
    c.RunOnce() |> ignore
    printfn "{\"base_mib\":%s,\"peak_mib\":%s}" (f1 baseMib) (f1 (Machine.PeakRssMiB()))
    0

type private Column = {
    Engine: Engine
    Heap: string
    Side: string
}

let run (a: ParseResults<BenchArgs>) =
    NativeRuntime.EnsureLoaded()

    if a.Contains Serve then
        Allocator.KeepHeap() |> ignore
        serve ()
        0
    else

        let threads = a.GetResult(Threads, Environment.ProcessorCount)

        match a.TryGetResult Probe with
        | Some(op, net, widths, size) -> probe op net widths size threads
        | None ->

            let quick = a.Contains Quick
            // Cheap cases get more repetitions: on a shared machine their medians need them.
            let repsFor (name: string) =
                match a.TryGetResult Reps with
                | Some r -> max 1 r
                | None when quick -> 3
                | None when name.StartsWith "w16-188" -> 21
                | None when name.StartsWith "w16-572" -> 11
                | None -> 5

            let warmup = max 0 (a.GetResult(Warmup, 1))

            let selected =
                match a.TryGetResult Cases with
                | Some names ->
                    let wanted =
                        names.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)

                    for w in wanted do
                        if not (allCases |> List.exists (fun (n, _, _) -> n = w)) then
                            failwithf
                                "cropcat bench: unknown case '%s' (known: %s)"
                                w
                                (allCases |> List.map (fun (n, _, _) -> n) |> String.concat ", ")

                    allCases |> List.filter (fun (n, _, _) -> Array.contains n wanted)
                | None when quick -> allCases |> List.filter (fun (n, _, _) -> n.StartsWith "w16-188")
                | None -> allCases

            let kept = Allocator.KeepHeap()
            let here = if kept then "kept" else "default"
            let other = if kept then "default" else "kept"
            TorchSharp.torch.set_num_threads threads
            let both = not (a.Contains Single_Heap)
            let report = StringBuilder()

            let say (s: string) =
                printfn "%s" s
                report.AppendLine s |> ignore

            let stamp =
                DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)

            say $"## cropcat bench — {stamp} UTC"
            say ""

            say
                $"- machine: {cpuModel ()}, {Environment.ProcessorCount} cores; {threads} threads on every side; batch 1, fp32, {Devices.Default}"

            let cmdline = String.Join(" ", Environment.GetCommandLineArgs() |> Array.skip 1)
            say $"- command: `cropcat {cmdline}`"
            say $"- load average at start: {loadAvg ()}"

            // An environment variable's value as the report shows it.
            let env name =
                Environment.GetEnvironmentVariable name
                |> Option.ofObj
                |> Option.defaultValue "unset"

            let envKeep, envLayout = env "CROPCAT_KEEP_HEAP", env "CROPCAT_LAYOUT"

            say
                $"- allocator: this process keeps the heap = {kept} (CROPCAT_KEEP_HEAP={envKeep}); PyTorch 'kept' runs with GLIBC_TUNABLES={keepHeapTunables}"

            say
                $"- memory layout of CropCat's and the hand-written net: {CropCat.Runtime.MemoryLayouts.Default} (CROPCAT_LAYOUT={envLayout}); PyTorch runs NCHW, its default"

            let struct (ceiling, ceilingBest) = Machine.MatmulGflops()

            say
                $"- fp32 matmul (2048x2048 GEMM through libtorch, informative: on AMD MKL takes its AVX2 path): median {f1 ceiling} GFLOP/s, best {f1 ceilingBest}"

            let fma = FmaPeak.Measure threads

            say
                $"- fp32 FMA peak at the start ({threads} threads, 12 independent FMA chains each, best of 3; the ceiling quoted is the higher of this and a probe after the timing): AVX-512 {f1 fma.Avx512} GFLOP/s, AVX2 {f1 fma.Avx2} GFLOP/s"

            let python = a.GetResult(Python, "/usr/bin/python3")

            let pyInfo =
                if a.Contains No_Python then
                    Error "skipped (--no-python)"
                else
                    match findScript () with
                    | None -> Error "bench/pytorch_unet.py not found (run from the repository)"
                    | Some script -> pythonTorch python |> Result.map (fun v -> v, script)

            let columns = List<Column>()
            let experiment = a.TryGetResult Experiment

            // The second in-process column: the hand-written reference, or the experiment's variant.
            let second =
                match experiment with
                | Some "layout" ->
                    // Column "Reference" holds the variant here, so the CC/Ref column reads default / NCHW.
                    say
                        $"- EXPERIMENT: the Reference column is CropCat's net in the NCHW-contiguous layout; the CropCat column uses {CropCat.Runtime.MemoryLayouts.Default}; a third in-process column runs channels-last (layout table below)"

                    InProcess("CropCat NCHW", CropCatContiguousNet)
                | Some "bf16" ->
                    // Refused where libtorch's bf16 is wrong (its self-check) or missing: say so before timing anything.
                    for (_, op, s) in selected do
                        use probe = CropCat.Nets.UNet.Create s.Options

                        try
                            match op with
                            | Fwd -> probe.Precision <- CropCat.Runtime.Precision.BFloat16
                            | Train -> probe.TrainingPrecision <- CropCat.Runtime.Precision.BFloat16
                        with :? CropCat.Runtime.PrecisionNotSupportedException as e ->
                            failwithf "cropcat bench --experiment bf16: widths %s: %s" (String.Join(',', s.Widths)) e.Message

                    say
                        "- EXPERIMENT: the Reference column is CropCat's net computing in bfloat16 (forward: bf16 weights; training step: mixed precision, fp32 master weights and bf16 convolutions), so CC/Ref is the fp32 time over the bf16 time"

                    InProcess("CropCat bf16", CropCatBFloat16Net)
                | Some "onnxruntime" ->
                    say
                        $"- EXPERIMENT: the Reference column is ONNX Runtime {onnxRuntimeVersion ()} on CropCat's net exported to ONNX (opset {CropCat.Interop.Onnx.OnnxExport.Opset}, the same description and input, {threads} intra-op threads, forward cases only), so CC/Ref is CropCat's time over ONNX Runtime's"

                    InProcess("ONNX Runtime", OnnxRuntimeNet)
                | Some other -> failwithf "cropcat bench: unknown experiment '%s' (known: layout, bf16, onnxruntime)" other
                | None -> InProcess("Reference", ReferenceNet)

            columns.Add {
                Engine = InProcess("CropCat", CropCatNet)
                Heap = here
                Side = "CropCat"
            }

            columns.Add {
                Engine = second
                Heap = here
                Side = "Reference"
            }

            if experiment = Some "layout" then
                columns.Add {
                    Engine = InProcess("CropCat channels-last", CropCatChannelsLastNet)
                    Heap = here
                    Side = "ChannelsLast"
                }

            if both && experiment.IsNone then
                let psi = selfStart "bench --serve"
                psi.Environment["CROPCAT_KEEP_HEAP"] <- (if kept then "0" else "1")

                columns.Add {
                    Engine = Worker($"CropCat ({other})", psi, threads, true)
                    Heap = other
                    Side = "CropCat"
                }

            match
                (if experiment.IsSome then
                     Error "skipped in experiments"
                 else
                     pyInfo)
            with
            | Ok(version, script) ->
                say $"- PyTorch {version} ({python}, OpenBLAS: {Directory.Exists openBlas}), torch.set_num_threads({threads})"

                let resnetCases = selected |> List.exists (fun (_, _, s) -> s.Encoder.IsSome)
                let torchvision = resnetCases && pythonTorchvision python

                if resnetCases then
                    say (
                        if torchvision then
                            "- PyTorch's ResNet U-Net: smp's Unet structure (bench/pytorch_unet.py, as Tests/golden/make_resnet.py) on torchvision's resnet34"
                        else
                            $"- PyTorch's ResNet U-Net: not measured — {python} cannot import torchvision (apt-get install python3-torchvision)"
                    )

                for keep in (if both then [ true; false ] else [ kept ]) do
                    let w = Worker($"PyTorch", pythonStart python script "" keep, threads, torchvision)

                    columns.Add {
                        Engine = w
                        Heap = (if keep then "kept" else "default")
                        Side = "PyTorch"
                    }
            | Error why -> say $"- PyTorch: not measured — {why}; CropCat columns only"

            let results = Dictionary<string * int, float[]>()
            // One GEMM per repetition, at a random place among the engines: "% of matmul" then compares
            // each repetition with the machine's speed at that moment, not with a start-of-run figure.
            let gemmRates = Dictionary<string, float[]>()
            use gemm = new MatmulProbe()

            for (name, op, s) in selected do
                eprintfn "bench: %s (%d warm-up, %d reps, %d engines) ..." name warmup (repsFor name) columns.Count
                // An engine without this net (no hand-written ResNet twin) sits the case out: its cells show "—".
                let runs (c: Column) = c.Engine.Supports(op, s)

                for c in columns do
                    if runs c then
                        for _ in 1..warmup do
                            c.Engine.Run(op, s) |> ignore

                let times = Array.init columns.Count (fun _ -> List<float>())
                let rates = List<float>()

                let reps = repsFor name

                for r in 0 .. reps - 1 do
                    // A fresh random order every repetition (seeded, so reruns repeat it): no engine always
                    // runs after the same neighbour, e.g. right after another process has cooled the caches.
                    // Index columns.Count stands for the GEMM.
                    let order = Array.init (columns.Count + 1) id
                    Random(1000 * r + columns.Count).Shuffle order

                    for i in order do
                        if i = columns.Count then
                            rates.Add(gemm.Gflops())
                        elif runs columns[i] then
                            times[i].Add(columns[i].Engine.Run(op, s))

                gemmRates[name] <- rates.ToArray()

                for c in columns do
                    if runs c then
                        c.Engine.Drop(op, s)

                for i in 0 .. columns.Count - 1 do
                    if runs columns[i] then
                        results[(name, i)] <- times[i].ToArray()

            // The peak is a physical constant and noise only lowers a measurement: probe again after the timing
            // and quote the higher of the two (seen: 348 to 443 GFLOP/s between probes on one Zen 5 VM).
            Threading.Thread.Sleep 500
            let fmaEnd = FmaPeak.Measure threads
            let peak = max fma.Best fmaEnd.Best

            let find side heap =
                columns |> Seq.tryFindIndex (fun c -> c.Side = side && c.Heap = heap)

            let med (xs: float[]) = Stats.Median xs

            let cell name i =
                match i with
                | Some i when results.ContainsKey((name, i)) ->
                    let xs = results[(name, i)]
                    $"{f3 (med xs)} (min {f3 (Array.min xs)}) ±{f0 (100.0 * Stats.RelativeRange xs)}%%"
                | _ -> "—"

            // Each repetition runs every engine once, back to back, so a ratio of one repetition compares two
            // runs under the same machine load; the median of those paired ratios resists load that changes
            // over minutes much better than a ratio of two medians.
            let pairedRatio name i j =
                let a = results[(name, i)]
                let b = results[(name, j)]
                Array.map2 (/) a b |> Stats.Median

            let ratio name i j =
                match i, j with
                | Some i, Some j when results.ContainsKey((name, i)) && results.ContainsKey((name, j)) ->
                    $"{f3 (pairedRatio name i j)} [{f3 (Array.min results[(name, i)] / Array.min results[(name, j)])}]"
                | _ -> "—"

            let ccKept = find "CropCat" "kept"
            let ccDef = find "CropCat" "default"
            let refHere = find "Reference" here
            let ccHere = find "CropCat" here
            let ptKept = find "PyTorch" "kept"
            let ptDef = find "PyTorch" "default"

            say ""

            let repsText =
                selected |> List.map (fun (n, _, _) -> $"{n} {repsFor n}") |> String.concat ", "

            say
                $"Seconds: median (min) ±range/median over interleaved repetitions ({repsText}; {warmup} warm-up); ratios are medians of the per-repetition ratios, [in brackets: ratio of the minima]. GFLOP/s from the median. %% of matmul: median over repetitions of CropCat's GFLOP/s over the GEMM run in the same repetition (in brackets: median GFLOP/s over the start-of-run ceiling). Heap 'kept' = CropCat's Allocator.KeepHeap / the same GLIBC_TUNABLES for PyTorch."

            say ""

            say
                "| case | GFLOP | CropCat kept | Reference kept | CC/Ref | GFLOP/s | % of FMA peak | % of matmul (of start ceiling) | PyTorch kept | CC/PT kept | CropCat default | PyTorch default | CC/PT default |"

            say "|---|---|---|---|---|---|---|---|---|---|---|---|---|"

            let mutable abWorst = 0.0
            let mutable abPairs = 0

            for (name, op, s) in selected do
                let trace = s.Describe.Infer(s.Size, s.Size).Rows

                let flop =
                    match op with
                    | Fwd -> Flops.Forward(trace, s.InChannels)
                    | Train -> Flops.TrainStep(trace, s.InChannels)

                let gflops, ofGemm =
                    match ccKept |> Option.orElse ccHere with
                    | Some i ->
                        let ts = results[(name, i)]
                        flop / med ts / 1e9, Array.map2 (fun t g -> flop / t / 1e9 / g) ts gemmRates[name] |> Stats.Median
                    | None -> nan, nan

                match ccHere, refHere with
                | Some i, Some j when results.ContainsKey((name, j)) ->
                    abWorst <- max abWorst (pairedRatio name i j)
                    abPairs <- abPairs + 1
                | _ -> ()

                let refCell = if kept then cell name refHere else "—"
                let abCell = ratio name ccHere refHere

                say
                    $"| {name} | {f1 (flop / 1e9)} | {cell name ccKept} | {refCell} | {abCell} | {f1 gflops} | {f0 (100.0 * gflops / peak)}%% | {f0 (100.0 * ofGemm)}%% ({f0 (100.0 * gflops / ceiling)}%%) | {cell name ptKept} | {ratio name ccKept ptKept} | {cell name ccDef} | {cell name ptDef} | {ratio name ccDef ptDef} |"

            if not kept then
                say ""

                say
                    "(This process ran with the default allocator, so the Reference column is the default-heap one: CC/Ref compares CropCat default with Reference default.)"

            say ""

            if experiment = Some "layout" then
                let cl = find "ChannelsLast" here

                say
                    $"Layout experiment: CropCat in {CropCat.Runtime.MemoryLayouts.Default} against each fixed layout (median of per-repetition ratios; goal for Auto <= 1.02 against each):"

                say ""
                say "| case | default layout | NCHW | channels-last | default/NCHW | default/channels-last |"
                say "|---|---|---|---|---|---|"

                for (name, _, _) in selected do
                    say
                        $"| {name} | {cell name ccHere} | {cell name refHere} | {cell name cl} | {ratio name ccHere refHere} | {ratio name ccHere cl} |"

                say ""
                say "Auto's choices in this process (median ms of one pass per candidate, measured at first use):"
                say ""

                for KeyValue(k, c) in CropCat.Runtime.LayoutTuner.Choices do
                    let source = if c.FromCache then ", from the cache file" else ""
                    say $"- {k}: {c.Layout} (NCHW {f1 c.ContiguousMs} ms, channels-last {f1 c.ChannelsLastMs} ms{source})"

                say ""
            elif abPairs = 0 then
                say "CropCat / Reference: not measured (no hand-written reference of these nets)"
            else
                say
                    $"CropCat / Reference (same process, same allocator), worst case: {f3 abWorst} (goal <= 1.03: {metOr (abWorst <= 1.03)})"

            // Peak memory of a forward, each in a fresh process.
            let memory = Dictionary<string * string, (float * float) option>()

            if not (a.Contains No_Memory) then
                // The probes build the paper's nets by widths; the ResNet cases are not probed.
                let nets =
                    selected
                    |> List.filter (fun (_, op, s) -> op = Fwd && s.Encoder.IsNone)
                    |> List.map (fun (name, _, s) -> name.Replace("-fwd", ""), s)

                if not nets.IsEmpty then
                    eprintfn "bench: peak-memory probes ..."
                    say ""
                    say "Peak resident memory of a forward (fresh process: build, 2 forwards), MiB, as peak (after build):"
                    say ""

                    say
                        "| net | CropCat kept | Reference kept | PyTorch kept | CropCat default | PyTorch default | Reference kept, no early free |"

                    say "|---|---|---|---|---|---|---|"

                    for (label, s) in nets do
                        let ws = String.Join(',', s.Widths)

                        let cc keep (net: string) =
                            let psi = selfStart $"bench --probe fwd {net} {ws} {s.Size} --threads {threads}"
                            psi.Environment["CROPCAT_KEEP_HEAP"] <- (if keep then "1" else "0")
                            probeMemory psi

                        let py keep =
                            match pyInfo with
                            | Ok(_, script) ->
                                probeMemory (
                                    pythonStart python script $"--probe fwd --widths {ws} --size {s.Size} --threads {threads}" keep
                                )
                            | Error _ -> None

                        let cells = [
                            "cc-kept", cc true "cropcat"
                            "ref-kept", cc true "reference"
                            "pt-kept", py true
                            "cc-default", (if both || not kept then cc false "cropcat" else None)
                            "pt-default", (if both || not kept then py false else None)
                            "ref-hold", cc true "reference-hold"
                        ]

                        for (k, v) in cells do
                            memory[(label, k)] <- v

                        let show =
                            function
                            | Some(b, p) -> $"{f0 p} ({f0 b})"
                            | None -> "—"

                        let row = cells |> List.map (snd >> show) |> String.concat " | "
                        say $"| {label} | {row} |"

            let struct (ceilingEnd, _) = Machine.MatmulGflops()
            say ""

            say
                $"- load average at end: {loadAvg ()}; matmul ceiling at end: {f1 ceilingEnd} GFLOP/s (the spread between start and end shows how busy the machine was); FMA peak after the timing: {f1 fmaEnd.Best} GFLOP/s, so the quoted peak is {f1 peak}"

            // The paper net against its goals.
            let has name =
                selected |> List.exists (fun (n, _, _) -> n = name)

            if has "paper-fwd" || has "paper-train" then
                say ""
                say "Paper net (572x572) against the goals:"

                if has "paper-fwd" then
                    match ccKept with
                    | Some i ->
                        let t = med results[("paper-fwd", i)]
                        let tMin = Array.min results[("paper-fwd", i)]
                        let tr = (CropCat.Nets.UNet.Describe (spec paper 572).Options).Infer(572, 572).Rows

                        let flop = Flops.Forward(tr, 1)
                        let frac = flop / t / 1e9 / ceiling
                        let fracBest = flop / tMin / 1e9 / ceilingBest

                        let paired =
                            Array.map2 (fun t g -> flop / t / 1e9 / g) results[("paper-fwd", i)] gemmRates["paper-fwd"]
                            |> Stats.Median

                        let ofPeak = flop / t / 1e9 / peak

                        say
                            $"- forward >= 85%% of the FMA peak: {f0 (100.0 * ofPeak)}%% ({f1 (flop / t / 1e9)} of {f1 peak} GFLOP/s) — {metOr (ofPeak >= 0.85)}; informative: {f0 (100.0 * paired)}%% of the GEMM in the same repetition, {f0 (100.0 * frac)}%% of the start-of-run GEMM, fastest repetition {f0 (100.0 * fracBest)}%% of the best start GEMM"
                    | None -> ()

                    match ccKept, ptKept with
                    | Some i, Some j ->
                        let r = pairedRatio "paper-fwd" i j
                        say $"- forward <= 0.90x PyTorch (heap kept both sides): {f3 r}x — {metOr (r <= 0.90)}"
                    | _ -> say "- forward vs PyTorch: not measured"

                if has "paper-train" then
                    match ccKept |> Option.orElse ccHere with
                    | Some i ->
                        let tr = (CropCat.Nets.UNet.Describe (spec paper 572).Options).Infer(572, 572).Rows

                        let rate = Flops.TrainStep(tr, 1) / med results[("paper-train", i)] / 1e9
                        let ofPeak = rate / peak

                        say
                            $"- train step >= 80%% of the FMA peak: {f0 (100.0 * ofPeak)}%% ({f1 rate} of {f1 peak} GFLOP/s) — {metOr (ofPeak >= 0.80)}"
                    | None -> ()

                    match ccKept, ptKept with
                    | Some i, Some j ->
                        let r = pairedRatio "paper-train" i j
                        say $"- train step <= 0.90x PyTorch (heap kept both sides): {f3 r}x — {metOr (r <= 0.90)}"
                    | _ -> say "- train step vs PyTorch: not measured"

                match memory.TryGetValue(("paper", "cc-kept")), memory.TryGetValue(("paper", "pt-kept")) with
                | (true, Some(_, c)), (true, Some(_, p)) ->
                    say $"- forward peak memory below PyTorch's (heap kept both sides): {f0 c} vs {f0 p} MiB — {metOr (c < p)}"
                | _ -> ()

            for c in columns do
                c.Engine.Close()

            match a.TryGetResult Out with
            | Some path ->
                CropCat.Imaging.AtomicFile.WriteText(path, report.ToString())
                eprintfn "bench: report written to %s" path
            | None -> ()

            0
