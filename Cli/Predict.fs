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
    | Memory of bytes: string
    | Probabilities
    | Precision of name: string
    | Threads of int
    | Device of name: string
    | Verbose
    | Quiet
    | Rle of csv: string
    | Rle_Format of format: string
    | Max_Edge of pixels: int
    | Scale of factor: float
    | Threshold of probability: float
    | Shard of k_of_n: string
    | Tta of mode: string
    | Resume
    | Engine of name: string
    | Onnx of file: string
    | Stream

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "a checkpoint written by cropcat train (it holds the net's description, weights and label schema)"
            | Input _ ->
                "an image file or a folder of them (PNG, JPEG, GIF, TIFF, BMP, WebP; 8/16-bit gray, gray+alpha, RGB(A), palette), standardised per image as in training, or, for a net that stores an input normalisation (an --encoder net's ImageNet statistics), read as [0, 1] intensities that the net normalises itself. A 1-channel net reads colour as luma; a 3-channel net needs RGB(A). An unreadable file or one with the wrong channel count is reported by name on stderr and skipped, the others are still written, and the exit code is 5 (2: missing or corrupt checkpoint, bad arguments)"
            | Output _ ->
                "folder for OUTPUT/NAME.png: each pixel's class mapped back to its mask value by the stored label schema (e.g. 0/255). Must not be the input folder"
            | Tile _ ->
                "requested input tile edge (the smallest valid size at least this is used). Unpadded nets: exact overlap-tile (equals one whole-image pass); padded nets: Gaussian-blended overlapping tiles. Default 572"
            | Batch _ -> "tiles per forward pass (more is faster on a GPU, uses more memory). Default 1"
            | Memory _ ->
                "activation memory budget, e.g. 2GiB or 800MB, or auto (half the available memory): the largest valid tile whose predicted peak fits is used instead of --tile"
            | Probabilities ->
                "also write OUTPUT/probabilities/NAME.png: the foreground (class 1) probability as 16-bit gray (NAME.classK.png per class when there are more than two)"
            | Precision _ ->
                "fp32 (default) or bf16: compute in bfloat16 (about 3 significant digits; on CPUs with AVX512_BF16 or AMX-BF16, refused elsewhere)"
            | Verbose ->
                "also print the precision, memory layout and tile size in use, and each image's tile plan (tile and output size, rows x columns)"
            | Quiet -> "no per-tile progress on stderr; skipped inputs are still listed at the end"
            | Device _ ->
                "cpu, cuda or cuda:N (default: CUDA when this libtorch has it and sees a GPU, else the CPU; the CROPCAT_DEVICE variable does the same)"
            | Threads _ -> "CPU threads for libtorch. Default: libtorch's choice"
            | Rle _ ->
                "also write a Kaggle run-length submission CSV (needs --rle-format): one row per segmented image in input order (skipped images have none), foreground = every class above 0, the PNG masks are still written. The file appears (atomically) only when all inputs are done; an existing one is replaced then"
            | Rle_Format _ ->
                "the submission's competition: carvana (img,rle_mask; img = file name with extension; row-major runs: left to right, then top to bottom, as Carvana's train_masks.csv), tgs (id,rle_mask; id = name without extension; column-major: top to bottom, then left to right, Kaggle's documented order) or dsb (ImageId,EncodedPixels; column-major; one row per 4-connected object, one empty row for an image without one)"
            | Max_Edge _ ->
                "shrink images whose longer edge exceeds this many pixels to it (aspect kept) before predicting; the class probabilities are resized back (bilinear) before the argmax, so masks and RLE rows keep the input's size. Not with --scale"
            | Scale _ ->
                "resize every image by this factor (above 0, at most 16) before predicting, bilinear; outputs keep the input's size as with --max-edge. Not with --max-edge"
            | Tta _ ->
                "test-time augmentation: none, flips (the 4 flips of an image, averaged) or d4 (the 8 flips and quarter turns). Each copy is tiled exactly as the image would be. Default none"
            | Shard _ ->
                "predict only shard K of N (K from 0, e.g. --shard $SLURM_ARRAY_TASK_ID/16 or $JOB_COMPLETION_INDEX/16): a stable split by output name, so N jobs cover every input exactly once"
            | Resume ->
                "skip inputs whose mask already exists (written atomically, so it is complete): a rerun after a crash or a pre-empted job continues"
            | Engine _ ->
                "what computes the tiles: torchsharp (default) or onnxruntime (ONNX Runtime on the CPU, fp32, on the net exported in memory, or --onnx FILE; as many threads as libtorch). The tiles are planned the same way"
            | Onnx _ ->
                "with --engine onnxruntime: the ONNX file cropcat export wrote for this checkpoint (refused when its stored description differs)"
            | Threshold _ ->
                "a binary (one sigmoid channel) net's foreground threshold on the probability, in (0, 1). Default 0.5; softmax nets take the most probable class"
            | Stream ->
                "predict every TIFF region by region (the image is never in memory): read strip by strip or tile by tile, write OUTPUT/NAME_mask.tif as a tiled Deflate TIFF, band by band; the mask equals the in-memory one. A single-page TIFF over the pixel budget (2^28 pixels) is streamed without this flag. Not with --tta, --rle, --max-edge or --scale"

/// Examples printed after `cropcat predict --help`.
let examples =
    String.concat "\n" [
        "EXAMPLES:"
        ""
        "    A folder of images (PNG masks in OUTPUT/NAME.png):"
        "        cropcat predict --model run/model.safetensors --input new-images --output masks"
        "    A slide larger than memory, e.g. a 40000 x 40000 TIFF (tiled or striped; streamed automatically over the pixel budget):"
        "        cropcat predict --model run/model.safetensors --input slide.tif --output masks --stream --tile 1212"
        "        (prints the layout, tile size and rows of tiles, then the rows processed, MP/s and peak RSS; writes masks/slide_mask.tif)"
    ]

let private fail message =
    raise (CliFailure("cropcat predict: " + message, 2))

/// The --rle-format that --rle needs (neither makes sense without the other).
let private submissionFormatOf (args: ParseResults<Args>) =
    match args.TryGetResult Rle, args.TryGetResult Rle_Format with
    | None, None -> SubmissionFormat.Carvana // unused: no submission
    | None, Some _ -> fail "--rle-format needs --rle FILE.csv"
    | Some _, None -> fail "--rle needs --rle-format carvana, tgs or dsb (they differ in pixel order and columns)"
    | Some _, Some name ->
        match Submission.Parse name |> Option.ofNullable with
        | Some format -> format
        | None -> fail $"--rle-format '{name}' is not carvana, tgs or dsb"

/// The ONNX Runtime engine --engine onnxruntime asks for (None: the net computes its tiles itself).
let private engineOf (args: ParseResults<Args>) (net: CropCat.Nets.Network) =
    match args.GetResult(Engine, "torchsharp").ToLowerInvariant(), args.TryGetResult Onnx with
    | "torchsharp", None -> None
    | "torchsharp", Some _ -> fail "--onnx FILE needs --engine onnxruntime"
    | "onnxruntime", _ when net.Precision <> CropCat.Runtime.Precision.Float32 ->
        fail "--engine onnxruntime computes in fp32: not with --precision bf16"
    | "onnxruntime", None ->
        try
            Some(CropCat.OnnxRuntime.OnnxRuntimeEngine.For net)
        with :? CropCat.Interop.Onnx.OnnxExportException as e ->
            fail e.Message
    | "onnxruntime", Some file ->
        let engine =
            try
                CropCat.OnnxRuntime.OnnxRuntimeEngine.FromFile file
            with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> fail $"--onnx {file} does not exist"
            | :? Microsoft.ML.OnnxRuntime.OnnxRuntimeException as e -> fail $"--onnx {file} is not a model ONNX Runtime loads: {e.Message}"

        match engine.Metadata.TryGetValue CropCat.Interop.Onnx.OnnxExport.DescriptionKey with
        | true, json when json = net.Description.Json -> Some engine
        | found, _ ->
            engine.Dispose()

            if found then
                fail $"--onnx {file} was exported from another network than checkpoint {args.GetResult Model}"
            else
                fail $"--onnx {file} holds no CropCat description (not written by cropcat export)"
    | other, _ -> fail $"--engine '{other}' is not torchsharp or onnxruntime"

/// Runs `cropcat predict`; returns 0, or 5 when an input was skipped.
let run (args: ParseResults<Args>) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()

    args.TryGetResult Threads
    |> Option.iter (fun t -> TorchSharp.torch.set_num_threads (max 1 t))

    Options.useDevice "predict" (args.TryGetResult Device)

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

    let engine = engineOf args net

    use _ =
        { new IDisposable with
            member _.Dispose() = engine |> Option.iter _.Dispose()
        }

    let tiles =
        TileOptions(
            TileSize = args.GetResult(Tile, 572),
            BatchSize = args.GetResult(Batch, 1),
            MemoryBudget =
                (match args.TryGetResult Memory with
                 | None -> Nullable()
                 | Some "auto" -> Nullable(TileMemory.DefaultBudget())
                 | Some text ->
                     try
                         Nullable(TileMemory.ParseBytes text)
                     with :? FormatException as e ->
                         fail $"--memory: {e.Message}")
        )

    if tiles.MemoryBudget.HasValue then
        try
            // The choice for an image larger than any tile; a smaller image gets the smallest tile that covers it.
            let plan = TilePlan.For(net, Array.create net.Dims 65536, tiles)
            let mib (b: int64) = float b / 1048576.0

            eprintfn
                "cropcat predict: memory budget %.0f MiB: tile %d px (output %d), predicted activation peak %.0f MiB, recomputed margin %.1f%% of the computed pixels"
                (mib tiles.MemoryBudget.Value)
                plan.TileSize
                plan.OutputSize
                (mib (TileMemory.PeakBytes(net, plan.TileSize, tiles.BatchSize)))
                (100.0 * plan.MarginFraction)
        with :? ArgumentException as e ->
            fail $"--memory: {e.Message}"

    // A net trained on resized images sees resized images here too, unless --max-edge or --scale says otherwise.
    let trained =
        match info.Extra.TryGetValue InputResize.CheckpointKey with
        | true, text ->
            try
                Some(InputResize.Parse text)
            with :? FormatException as e ->
                fail $"checkpoint {model}: {e.Message}"
        | _ -> None

    let resize: InputResize | null =
        match Options.resize "predict" (args.TryGetResult Max_Edge) (args.TryGetResult Scale), trained with
        | null, Some t ->
            eprintfn "cropcat predict: resizing as the net was trained (%O); --max-edge or --scale overrides it" t
            t
        | NonNull given, Some t when given <> t ->
            eprintfn "cropcat predict: the net was trained with %O, predicting with %O as asked" t given
            given
        | given, _ -> given

    // A live bar on a terminal; plain lines (no "\r" redraws) when stderr is redirected.
    let bar =
        if Progress.live (args.Contains Quiet) then
            Some(Progress.PredictBar(Progress.stderrConsole ()))
        else
            None

    let log (line: string) =
        match bar with
        | Some b -> b.Lines.WriteLine("cropcat predict: " + line)
        | None -> eprintfn "cropcat predict: %s" line

    if args.Contains Verbose then
        PredictReport.setup net tiles |> List.iter log

    let options =
        FolderPredictorOptions(
            Tiles = tiles,
            Probabilities = args.Contains Probabilities,
            Log =
                Option.toObj (
                    match bar with
                    | Some b -> Some b.Lines
                    | None when args.Contains Quiet -> None
                    | None -> Some(Progress.plainStderr ())
                ),
            Progress =
                (Progress.all [
                    bar |> Option.map _.Progress
                    (if args.Contains Verbose then
                         Some(PredictReport.tilePlans log)
                     else
                         None)
                 ]
                 |> Option.toObj),
            Resize = resize,
            Shard =
                (match args.TryGetResult Shard with
                 | None -> null
                 | Some text ->
                     try
                         CropCat.Inference.Shard.Parse text
                     with :? FormatException as e ->
                         fail $"bad --shard: {e.Message}"),
            Resume = args.Contains Resume,
            Engine =
                (match engine with
                 | Some e -> e :> ITileEngine | null
                 | None -> null),
            Tta =
                (match args.GetResult(Tta, "none").ToLowerInvariant() with
                 | "none" -> TtaMode.None
                 | "flips" -> TtaMode.Flips
                 | "d4" -> TtaMode.D4
                 | other -> fail $"--tta '{other}' is not none, flips or d4"),
            Threshold =
                (match args.TryGetResult Threshold with
                 | Some t when t <= 0.0 || t >= 1.0 -> fail $"--threshold must be in (0, 1), got {t}"
                 | Some t -> t
                 | None -> 0.5),
            Submission = Option.toObj (args.TryGetResult Rle),
            SubmissionFormat = submissionFormatOf args,
            Stream =
                (if args.Contains Stream then
                     StreamMode.Always
                 else
                     StreamMode.Auto)
        )

    let report =
        try
            tiles.Validate()

            let predict () =
                FolderPredictor(net, info.Labels, options).Run(args.GetResult Input, args.GetResult Output)

            match bar with
            | Some b -> b.Run predict
            | None -> predict ()
        with
        | :? FileNotFoundException as e -> fail e.Message
        | :? ArgumentException as e -> fail e.Message

    printfn "wrote %d mask(s) to %s (net %s, labels %O)" report.Written.Count (args.GetResult Output) info.Architecture.Kind info.Labels

    for s in report.Streamed do
        let p = s.Summary.Plan

        printfn
            "streamed %s (%s): tile %d px (output %d, step %d), %d of %d rows of tiles, %d tiles, %d blocks decoded, %.1f s (%.3f MP/s; statistics passes %.1f s) -> %s"
            s.Input
            s.Layout
            p.TileSize
            p.OutputSize
            p.Step
            s.Summary.TileRows
            p.Rows.Count
            s.Summary.Tiles
            s.BlocksDecoded
            s.Seconds
            s.MegapixelsPerSecond
            s.StatisticsSeconds
            s.Mask

    if report.Streamed.Count > 0 then
        printfn "peak RSS %.0f MiB (VmHWM of this process)" (CropCat.Bench.Machine.PeakRssMiB())

    match options.Shard with
    | null when not options.Resume -> ()
    | shard ->
        let which =
            match shard with
            | null -> "all inputs"
            | s -> $"shard {s}"

        printfn
            "%s: %d of %d input(s); %d written, %d already done, %d skipped"
            which
            report.Inputs
            report.AllInputs
            report.Written.Count
            report.AlreadyDone.Count
            report.Skipped.Count

    if not (isNull report.Submission) then
        printfn "wrote %s: %d row(s), %s format" report.Submission report.SubmissionRows (args.GetResult Rle_Format)

    if report.Skipped.Count > 0 then
        let names = report.Skipped |> Seq.map _.File |> String.concat ", "
        eprintfn "cropcat predict: skipped %d input(s) (reasons above): %s" report.Skipped.Count names

    report.ExitCode
