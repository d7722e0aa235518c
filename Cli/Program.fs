module CropCat.Cli.Program

open System
open Argu

type DemoArgs =
    | Out of dir: string
    | Seed of int
    | Minutes of float
    | Threads of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "output folder (default out/demo)"
            | Seed _ -> "random seed (default 42)"
            | Minutes _ -> "wall-time budget of the whole demo in minutes (default 6)"
            | Threads _ ->
                "CPU threads for libtorch (default 1: the demo net is small, and on a shared machine two spin-waiting OpenMP threads were measured 10x slower than one)"

type Command =
    | [<AltCommandLine("-V")>] Version
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Summary of ParseResults<Summary.SummaryArgs>
    | [<CliPrefix(CliPrefix.None)>] Sizes of ParseResults<Sizes.SizesArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench_Tiling of ParseResults<BenchTiling.Args>
    | [<CliPrefix(CliPrefix.None)>] Bench_Data of ParseResults<BenchData.Args>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<Train.Args>
    | [<CliPrefix(CliPrefix.None)>] Predict of ParseResults<Predict.Args>
    | [<CliPrefix(CliPrefix.None)>] Import of ParseResults<Import.Args>
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<Export.Args>
    | [<CliPrefix(CliPrefix.None)>] Synth of ParseResults<Synth.Args>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<Bench.BenchArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Version -> "print cropcat's version (and CropCat.Core's, TorchSharp's) and exit"
            | Demo _ ->
                "run the demo: train a small paper-style U-Net on synthetic cells (with and without border weights), write metrics and pictures"
            | Summary _ -> "print a net's layer table (path, kind, output shape, parameters) for one input size"
            | Sizes _ -> "print the input sizes a net accepts (closed form), the nearest valid size, or the input for an output"
            | Bench_Tiling _ -> "time overlap-tile inference (MP/s, peak memory) for the paper and a width-reduced net"
            | Bench_Data _ ->
                "time the data path on a generated Carvana-like folder: decode MP/s per format, streamed training with and without prefetch, resident memory"
            | Train _ ->
                "train a net on a folder of image/mask pairs (DATA/images/NAME.jpg + DATA/masks/NAME.gif, any of PNG, JPEG, GIF, TIFF, BMP, WebP); writes a checkpoint"
            | Predict _ ->
                "segment an image file or folder with a checkpoint from train; writes masks (exit code 5 when an input was skipped)"
            | Import _ ->
                "turn PyTorch U-Net weights (the reading group's or milesial's layout, .pt/.pth/.safetensors) into a CropCat checkpoint that computes what the PyTorch model computes"
            | Export _ -> "write a checkpoint's net as an ONNX model (cropcat export --onnx model.onnx --model model.safetensors)"
            | Synth _ -> "write a dataset folder of synthetic touching cells (images/ and masks/) to try train and predict on"
            | Bench _ -> "benchmark forward and training step against a hand-written TorchSharp net and PyTorch"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Command>(programName = "cropcat")

    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)

        if results.Contains Version then
            let version (a: Reflection.Assembly) =
                a.GetName().Version
                |> Option.ofObj
                |> Option.map (fun v -> v.ToString(3))
                |> Option.defaultValue "?"

            printfn
                "cropcat %s (CropCat.Core %s, TorchSharp %s)"
                (version (Reflection.Assembly.GetExecutingAssembly()))
                (version typeof<CropCat.Nets.Network>.Assembly)
                (version typeof<TorchSharp.torch>.Assembly)

            0
        else

            match results.GetSubCommand() with
            | Demo a ->
                Demo.run (a.GetResult(Out, "out/demo")) (a.GetResult(Seed, 42)) (a.GetResult(Minutes, 6.0)) (a.GetResult(Threads, 1))
            | Summary a -> Summary.run a
            | Sizes a -> Sizes.run a
            | Bench_Tiling a -> BenchTiling.runWith a
            | Bench_Data a -> BenchData.run a
            | Train a -> Train.run a
            | Predict a -> Predict.run a
            | Import a -> Import.run a
            | Export a -> Export.run a
            | Synth a -> Synth.run a
            | Bench a -> Bench.run a
            | Version -> 0 // answered above
    with
    // Asked-for help goes to stdout (so `cropcat train --help | less` shows it); a usage error to stderr.
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message

        if argv.Length > 0 && argv[0] = "train" then
            printfn "\n%s" Train.examples

        if argv.Length > 0 && argv[0] = "import" then
            printfn "\n%s" Import.examples

        if argv.Length > 0 && argv[0] = "predict" then
            printfn "\n%s" Predict.examples

        0
    | :? ArguParseException as e ->
        eprintfn "%s" e.Message
        2
    | Summary.CliFailure(message, code) ->
        eprintfn "%s" message
        code
    | :? CropCat.Shapes.ShapeException as e ->
        eprintfn "cropcat: shape error at %s" e.Message
        3
    | :? CropCat.Runtime.NativeRuntimeException as e ->
        eprintfn "%s" e.Message
        4
