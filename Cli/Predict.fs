/// `cropcat predict`: segments image files with a trained checkpoint (exact overlap-tile inference).
module CropCat.Cli.Predict

open System
open System.IO
open Argu
open CropCat.Dsl
open CropCat.Inference
open CropCat.IO
open CropCat.Cli.Summary

/// Arguments of `cropcat predict`.
type Args =
    | [<Mandatory>] Model of checkpoint: string
    | [<Mandatory>] Input of path: string
    | [<Mandatory>] Output of folder: string
    | Tile of pixels: int
    | Batch of tiles: int
    | Probabilities
    | Precision of name: string
    | Threads of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "a checkpoint written by cropcat train (it holds the net's description, weights and label schema)"
            | Input _ ->
                "an image file or a folder of them (PNG, JPEG, GIF, TIFF, BMP, WebP; 8/16-bit gray, gray+alpha, RGB(A), palette), standardised per image as in training. A 1-channel net reads colour as luma; a 3-channel net needs RGB(A). An unreadable file or one with the wrong channel count is reported by name on stderr and skipped, the others are still written, and the exit code is 5 (2: missing or corrupt checkpoint, bad arguments)"
            | Output _ ->
                "folder for OUTPUT/NAME.png: each pixel's class mapped back to its mask value by the stored label schema (e.g. 0/255). Must not be the input folder"
            | Tile _ ->
                "requested input tile edge (the smallest valid size at least this is used). Unpadded nets: exact overlap-tile (equals one whole-image pass); padded nets: Gaussian-blended overlapping tiles. Default 572"
            | Batch _ -> "tiles per forward pass (more is faster on a GPU, uses more memory). Default 1"
            | Probabilities ->
                "also write OUTPUT/probabilities/NAME.png: the foreground (class 1) probability as 16-bit gray (NAME.classK.png per class when there are more than two)"
            | Precision _ ->
                "fp32 (default) or bf16: compute in bfloat16 (about 3 significant digits; on CPUs with AVX512_BF16 or AMX-BF16, refused elsewhere)"
            | Threads _ -> "CPU threads for libtorch. Default: libtorch's choice"

let private fail message =
    raise (CliFailure("cropcat predict: " + message, 2))

/// Runs `cropcat predict`; returns 0, or 5 when an input was skipped.
let run (args: ParseResults<Args>) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()

    args.TryGetResult Threads
    |> Option.iter (fun t -> TorchSharp.torch.set_num_threads (max 1 t))

    let model = args.GetResult Model

    let net, info =
        try
            Checkpoint.LoadNetwork model |> _.ToTuple()
        with
        | :? FileNotFoundException -> fail $"checkpoint {model} does not exist"
        | :? SafetensorsException as e -> fail $"cannot read checkpoint: {e.Message}"
        | :? InvalidDataException as e -> fail e.Message
        | :? CheckpointMismatchException as e -> fail e.Message
        | :? ArgumentException as e -> fail $"checkpoint {model}: {e.Message}"

    use net = net

    match args.TryGetResult Precision with
    | None
    | Some "fp32" -> ()
    | Some "bf16" ->
        try
            net.Precision <- CropCat.Runtime.Precision.BFloat16
        with :? CropCat.Runtime.PrecisionNotSupportedException as e ->
            fail e.Message
    | Some other -> fail $"--precision '{other}' is not fp32 or bf16"

    let tiles =
        TileOptions(TileSize = args.GetResult(Tile, 572), BatchSize = args.GetResult(Batch, 1))

    let report =
        try
            tiles.Validate()

            FolderPredictor(net, info.Labels, tiles, args.Contains Probabilities, Console.Error)
                .Run(args.GetResult Input, args.GetResult Output)
        with
        | :? FileNotFoundException as e -> fail e.Message
        | :? ArgumentException as e -> fail e.Message

    printfn "wrote %d mask(s) to %s (net %s, labels %O)" report.Written.Count (args.GetResult Output) info.Architecture.Kind info.Labels

    if report.Skipped.Count > 0 then
        let names = report.Skipped |> Seq.map _.File |> String.concat ", "
        eprintfn "cropcat predict: skipped %d input(s) (reasons above): %s" report.Skipped.Count names

    report.ExitCode
