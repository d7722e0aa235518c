module CropCat.Cli.Program

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
            | Threads _ -> "CPU threads for libtorch (default 1: the demo net is small, and on a shared machine two spin-waiting OpenMP threads were measured 10x slower than one)"

type Command =
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Summary of ParseResults<Summary.SummaryArgs>
    | [<CliPrefix(CliPrefix.None)>] Sizes of ParseResults<Sizes.SizesArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<Bench.BenchArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Demo _ -> "run the demo: train a small paper-style U-Net on synthetic cells (with and without border weights), write metrics and pictures"
            | Summary _ -> "print a net's layer table (path, kind, output shape, parameters) for one input size"
            | Sizes _ -> "print the input sizes a net accepts (closed form), the nearest valid size, or the input for an output"
            | Bench _ -> "benchmark forward and training step against a hand-written TorchSharp net and PyTorch"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Command>(programName = "cropcat")

    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)

        match results.GetSubCommand() with
        | Demo a -> Demo.run (a.GetResult(Out, "out/demo")) (a.GetResult(Seed, 42)) (a.GetResult(Minutes, 6.0)) (a.GetResult(Threads, 1))
        | Summary a -> Summary.run a
        | Sizes a -> Sizes.run a
        | Bench a -> Bench.run a
    with
    | :? ArguParseException as e ->
        eprintfn "%s" e.Message
        (if e.ErrorCode = ErrorCode.HelpText then 0 else 2)
    | Summary.CliFailure(message, code) ->
        eprintfn "%s" message
        code
    | :? CropCat.Shapes.ShapeException as e ->
        eprintfn "cropcat: shape error at %s" e.Message
        3
    | :? CropCat.Runtime.NativeRuntimeException as e ->
        eprintfn "%s" e.Message
        4
