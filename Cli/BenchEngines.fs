/// The engines the benchmark interleaves: CropCat's net and the hand-written reference in this
/// process, and workers in child processes (CropCat with the other allocator setting, PyTorch) that
/// answer one JSON command per line, so every engine runs one repetition in turn.
module CropCat.Cli.BenchEngines

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Globalization
open System.Text.Json.Nodes
open CropCat.Bench
open CropCat.Nets
open CropCat.Architecture

/// Starts a child process; .NET answers null only when it reuses a running one, which a bench
/// never asks for, so null is reported as a failure to start.
let startProcess (psi: ProcessStartInfo) : Process =
    match Process.Start psi with
    | null -> failwithf "could not start '%s %s'" psi.FileName psi.Arguments
    | p -> p

/// Parses one line of the JSON line protocol; `what` names the sender in the error.
let parseJson (what: string) (line: string) : JsonNode =
    match JsonNode.Parse line with
    | null -> failwithf "%s sent '%s', which is not a JSON object" what line
    | j -> j

/// A field that a protocol message must have.
let field (name: string) (j: JsonNode) : JsonNode =
    match j[name] with
    | null -> failwithf "bench protocol: no field '%s' in %s" name (j.ToJsonString())
    | v -> v

/// A network of the benchmark: the paper's layout with other widths (1 channel in, 2 classes), or smp's U-Net on a
/// ResNet encoder (`Encoder`; 3 channels in, 2 classes, `Widths` unused), at one input edge length.
type NetSpec = {
    Widths: int[]
    Size: int
    Dropout: float
    Encoder: ResNetEncoder option
} with

    member s.Options = UNetOptions(Widths = s.Widths, BottomDropout = s.Dropout)

    /// The description the CropCat engines build.
    member s.Describe =
        match s.Encoder with
        | Some e -> ResNetUNets.Describe(e, 2, 3)
        | None -> UNet.Describe s.Options

    /// Input channels: 3 for an ImageNet encoder, 1 for the paper's nets.
    member s.InChannels = s.Describe.InChannels

    /// The output edge length, from the shape algebra.
    member s.OutSize = s.Describe.Infer(s.Size, s.Size).Output.Height

    /// How the net is named in the bench's case keys and messages.
    member s.Label =
        match s.Encoder with
        | Some e -> ResNetUNets.Name e
        | None -> String.Join(',', s.Widths)

/// Forward (eval, no_grad) or one training step.
type Op =
    | Fwd
    | Train

    member o.Name =
        match o with
        | Fwd -> "fwd"
        | Train -> "train"

/// Something that runs one repetition of a case and says how long it took.
type Engine =
    abstract Name: string
    /// Seconds of one repetition (the case is built on first use and kept until Drop).
    abstract Run: Op * NetSpec -> float
    /// Whether the engine has this net (the hand-written reference and ONNX Runtime have no ResNet U-Net).
    abstract Supports: Op * NetSpec -> bool
    /// Frees the case's network and tensors.
    abstract Drop: Op * NetSpec -> unit
    abstract Close: unit -> unit

/// Which network an in-process engine builds.
type NetKind =
    | CropCatNet
    | ReferenceNet
    /// The reference net keeping every intermediate until the end of the pass (the memory A/B).
    | ReferenceHoldNet
    /// CropCat's net in the NCHW layout whatever the default (the layout experiment).
    | CropCatContiguousNet
    /// CropCat's net in the channels-last layout whatever the default (the layout experiment).
    | CropCatChannelsLastNet
    /// CropCat's net computing in bfloat16 (the bf16 experiment): bf16 weights for the forward, mixed precision
    /// (fp32 master weights, bf16 convolutions) for the training step.
    | CropCatBFloat16Net
    /// CropCat's net exported to ONNX and run by ONNX Runtime (the onnxruntime experiment; forward only).
    | OnnxRuntimeNet

/// ONNX Runtime on a network's exported graph, as a module the forward case can time.
type private OnnxRuntimeModule(engine: CropCat.OnnxRuntime.OnnxRuntimeEngine) =
    inherit TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>("onnxruntime")
    override _.forward x = engine.Forward x

    override _.Dispose(disposing: bool) =
        if disposing then
            engine.Dispose()

        base.Dispose disposing

/// Whether an in-process engine of `kind` builds `spec`: every kind builds the paper's nets; CropCat's default net
/// also smp's ResNet U-Net (no hand-written, variant or ONNX Runtime twin of it exists).
let supports kind (spec: NetSpec) =
    spec.Encoder.IsNone || kind = CropCatNet

let private build kind (op: Op) (spec: NetSpec) : TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> =
    if not (supports kind spec) then
        failwithf "cropcat bench: no %A engine for the %s U-Net" kind spec.Label

    match kind with
    | CropCatNet -> Network.Create(spec.Describe) :> _
    | ReferenceNet -> ReferenceUNet.Create(1, 2, spec.Widths, spec.Dropout) :> _
    | ReferenceHoldNet -> ReferenceUNet.Create(1, 2, spec.Widths, spec.Dropout, freeEarly = false) :> _
    | CropCatContiguousNet ->
        let net = UNet.Create spec.Options
        net.Layout <- CropCat.Runtime.MemoryLayout.Contiguous
        net :> _
    | CropCatChannelsLastNet ->
        let net = UNet.Create spec.Options
        net.Layout <- CropCat.Runtime.MemoryLayout.ChannelsLast
        net :> _
    | CropCatBFloat16Net ->
        let net = UNet.Create spec.Options

        match op with
        | Fwd -> net.Precision <- CropCat.Runtime.Precision.BFloat16
        | Train -> net.TrainingPrecision <- CropCat.Runtime.Precision.BFloat16

        net :> _
    | OnnxRuntimeNet ->
        // The CropCat column's description (weights of its own draw: they do not change the work), exported in memory.
        use net = UNet.Create spec.Options
        new OnnxRuntimeModule(CropCat.OnnxRuntime.OnnxRuntimeEngine.For net) :> _

let makeCase kind op (spec: NetSpec) =
    if kind = OnnxRuntimeNet && op = Train then
        failwith "cropcat bench --experiment onnxruntime: ONNX Runtime runs forward cases only (use --cases paper-fwd,w16-572-fwd,...)"

    let net = build kind op spec

    match op with
    | Fwd -> BenchCase.Forward(net, spec.InChannels, spec.Size)
    | Train -> BenchCase.TrainStep(net, spec.InChannels, spec.Size, spec.OutSize, 2)

/// An engine in this process.
type InProcess(name: string, kind: NetKind) =
    let cases = Dictionary<string, BenchCase>()

    let key (op: Op) (spec: NetSpec) = $"{op.Name}/{spec.Label}/{spec.Size}"

    interface Engine with
        member _.Name = name

        member _.Supports(_, spec) = supports kind spec

        member _.Run(op, spec) =
            let k = key op spec

            if not (cases.ContainsKey k) then
                cases[k] <- makeCase kind op spec

            cases[k].RunOnce()

        member _.Drop(op, spec) =
            let k = key op spec

            match cases.TryGetValue k with
            | true, c ->
                c.Dispose()
                cases.Remove k |> ignore
                GC.Collect()
                GC.WaitForPendingFinalizers()
            | _ -> ()

        member _.Close() =
            for c in cases.Values do
                c.Dispose()

            cases.Clear()

/// The JSON command for one repetition.
let command (op: Op) (spec: NetSpec) =
    let o = JsonObject()
    o["op"] <- JsonValue.Create op.Name
    o["widths"] <- JsonArray(spec.Widths |> Array.map (fun w -> JsonValue.Create w :> JsonNode))
    o["size"] <- JsonValue.Create spec.Size
    o["in"] <- JsonValue.Create spec.InChannels
    o["classes"] <- JsonValue.Create 2
    o["dropout"] <- JsonValue.Create spec.Dropout

    spec.Encoder
    |> Option.iter (fun e -> o["encoder"] <- JsonValue.Create(ResNetUNets.Name e))

    o.ToJsonString()

/// An engine in a child process speaking the line protocol of bench/pytorch_unet.py; `resnet` says whether it builds
/// smp's ResNet U-Nets (the PyTorch worker needs torchvision for them).
type Worker(name: string, psi: ProcessStartInfo, threads: int, resnet: bool) =
    do
        psi.RedirectStandardInput <- true
        psi.RedirectStandardOutput <- true
        psi.UseShellExecute <- false

    let proc = startProcess psi

    let ask (line: string) =
        proc.StandardInput.WriteLine line
        proc.StandardInput.Flush()
        let reply = proc.StandardOutput.ReadLine()

        match reply with
        | null -> failwithf "bench worker '%s' (%s %s) ended without answering '%s'" name psi.FileName psi.Arguments line
        | r -> parseJson $"bench worker '{name}'" r

    let hello = ask $"{{\"op\":\"setup\",\"threads\":{threads}}}"

    /// The worker's answer to setup (versions, threads).
    member _.Hello = hello.ToJsonString()

    /// Peak and current resident memory of the worker in MiB.
    member _.Rss() =
        let r = ask "{\"op\":\"rss\"}"
        (field "peak_mib" r).GetValue<float>(), (field "rss_mib" r).GetValue<float>()

    interface Engine with
        member _.Name = name

        member _.Supports(_, spec) = spec.Encoder.IsNone || resnet

        member _.Run(op, spec) =
            let r = ask (command op spec)
            (field "s" r).GetValue<float>()

        member _.Drop(op, spec) =
            let o = parseJson "bench" (command op spec)
            o["op"] <- JsonValue.Create("drop-" + op.Name)
            ask (o.ToJsonString()) |> ignore

        member _.Close() =
            try
                proc.StandardInput.WriteLine "{\"op\":\"quit\"}"
                proc.StandardInput.Close()

                if not (proc.WaitForExit 10000) then
                    proc.Kill()
            with _ ->
                ()

let private num (x: float) =
    if Double.IsFinite x then
        x.ToString("R", CultureInfo.InvariantCulture)
    else
        "null"

/// Serves the line protocol on stdin/stdout with CropCat's net (the `--serve` mode of `cropcat bench`).
let serve () =
    let engine = InProcess("cropcat", CropCatNet) :> Engine
    let mutable go = true

    while go do
        let line = Console.In.ReadLine()

        match line with
        | null -> go <- false
        | line ->
            let cmd = parseJson "bench driver" line
            let op = (field "op" cmd).GetValue<string>()

            let spec () = {
                Widths =
                    (field "widths" cmd).AsArray()
                    |> Seq.map (fun n -> (nonNull n).GetValue<int>())
                    |> Array.ofSeq
                Size = (field "size" cmd).GetValue<int>()
                Dropout = (field "dropout" cmd).GetValue<float>()
                Encoder =
                    match cmd["encoder"] with
                    | null -> None
                    | e -> ResNetUNets.Parse(e.GetValue<string>()) |> Option.ofNullable
            }

            let reply =
                match op with
                | "quit" ->
                    go <- false
                    null
                | "setup" ->
                    TorchSharp.torch.set_num_threads ((field "threads" cmd).GetValue<int>())
                    $"{{\"torchsharp\":\"0.107.0\",\"threads\":{TorchSharp.torch.get_num_threads ()},\"heap_kept\":{(CropCat.Runtime.Allocator.HeapKept.ToString().ToLowerInvariant())}}}"
                | "rss" -> $"{{\"peak_mib\":{num (Machine.PeakRssMiB())},\"rss_mib\":{num (Machine.RssMiB())}}}"
                | "fwd" -> $"{{\"s\":{num (engine.Run(Fwd, spec ()))}}}"
                | "train" -> $"{{\"s\":{num (engine.Run(Train, spec ()))}}}"
                | "drop-fwd" ->
                    engine.Drop(Fwd, spec ())
                    "{}"
                | "drop-train" ->
                    engine.Drop(Train, spec ())
                    "{}"
                | other -> failwithf "bench worker: unknown op '%s'" other

            if not (isNull reply) then
                Console.Out.WriteLine reply
                Console.Out.Flush()

    engine.Close()
