module CropCat.Cli.Program

open Argu

type DemoArgs =
    | Out of dir: string
    | Seed of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "output folder (default out/demo)"
            | Seed _ -> "random seed (default 42)"

type Command =
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<Bench.BenchArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Demo _ -> "run the demo: build the paper net, print its summary, segment a tile, write pictures"
            | Bench _ -> "benchmark forward and training step against a hand-written TorchSharp net and PyTorch"

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Command>(programName = "cropcat")

    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)

        match results.GetSubCommand() with
        | Demo a -> Demo.run (a.GetResult(Out, "out/demo")) (a.GetResult(Seed, 42))
        | Bench a -> Bench.run a
    with
    | :? ArguParseException as e ->
        eprintfn "%s" e.Message
        (if e.ErrorCode = ErrorCode.HelpText then 0 else 2)
    | :? CropCat.Shapes.ShapeException as e ->
        eprintfn "cropcat: shape error at %s" e.Message
        3
    | :? CropCat.Runtime.NativeRuntimeException as e ->
        eprintfn "%s" e.Message
        4
