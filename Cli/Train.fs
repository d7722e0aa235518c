/// `cropcat train`: trains a net on a folder of image/mask pairs (PNG, JPEG, GIF, TIFF, BMP, WebP) and writes a checkpoint that
/// `cropcat predict` can rebuild the net from.
module CropCat.Cli.Train

open System
open System.IO
open Argu
open CropCat.Data
open CropCat.Imaging
open CropCat.Inference
open CropCat.Dsl
open CropCat.IO
open CropCat.Nets
open CropCat.Training
open CropCat.Cli.Summary
open CropCat.Architecture

/// Arguments of `cropcat train`.
type Args =
    | Data of path: string
    | Images of folder: string
    | Masks of folder: string
    | Mask_Pattern of pattern: string
    | Rle_Csv of file: string
    | Rle_Order of order: string
    | Max_Edge of pixels: int
    | Scale of factor: float
    | Max_Pixels of count: int64
    | Cache_Mb of mib: int
    | Prefetch of batches: int
    | Binary
    | Augment of json: string
    | Loss of objective: string
    | Batch of int
    | Schedule of text: string
    | Weight_Decay of float
    | Clip of max_norm: float
    | Patience of epochs: int
    | Monitor of metric: string
    | Preset of name: string
    | Description of file: string
    | Widths of list: string
    | Encoder of name: string
    | Encoder_Weights of file: string
    | Normalize of text: string
    | Encoder_Lr of float
    | Freeze_Encoder_Epochs of epochs: int
    | In_Channels of int
    | Label_Schema of json: string
    | Epochs of int
    | Steps_Per_Epoch of int
    | Max_Steps of int
    | Lr of float
    | Momentum of float
    | Optimizer of name: string
    | Seed of int
    | Tile of pixels: int
    | Val_Fraction of float
    | No_Border_Weights
    | Out of dir: string
    | Resume of checkpoint: string
    | Threads of int
    | Device of name: string
    | Tensorboard of dir: string
    | Verbose
    | Precision of name: string
    | Quiet

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ ->
                "the dataset, its layout detected: a folder with images/ + masks/ (same names without the extension; also TGS's train/images + train/masks), images/ + train.csv (TGS run-length masks), train-volume.tif + train-labels.tif (ISBI 2012: each page a sample), DSB 2018 sample folders ID/images/ID.png + ID/masks/*.png (one PNG per nucleus; the instances feed the border weights), or a manifest .csv (image,mask) / .json ([{\"image\":..,\"mask\":..}]). Files: PNG, JPEG, GIF, TIFF, BMP or WebP, told apart by their bytes. Images are read as gray by 1-channel nets (colour as luma) and as R, G, B by 3-channel nets; masks are mapped by --label-schema. Images are read as steps need them; each step trains a random window of one image (mirror-padded where it leaves the image, so small images train whole)"
            | Images _ ->
                "a folder of images, with --masks (and --mask-pattern) or --rle-csv, instead of --data. Carvana: --images train --masks train_masks --mask-pattern '{name}_mask.gif'"
            | Masks _ -> "the folder of masks for --images"
            | Mask_Pattern _ ->
                "how a mask's file name follows from its image's: {name} is the image's name without extension, {ext} its extension without the dot, e.g. '{name}_mask.gif'. Default: the same name without extension"
            | Rle_Csv _ ->
                "masks as run-length strings in a CSV (id,rle_mask or ImageId,EncodedPixels; an id is the image name with or without extension) for --images. TGS: --images train/images --rle-csv train.csv"
            | Rle_Order _ ->
                "pixel order of --rle-csv: column (Kaggle's documented order; TGS, DSB 2018) or row (Carvana's train_masks.csv). Default column"
            | Max_Edge _ -> "resize every image so its longer edge is at most this (bilinear; masks by nearest neighbour) before training"
            | Scale _ -> "resize every image by this factor before training (exclusive with --max-edge)"
            | Max_Pixels _ -> "refuse any file whose header declares more pixels than this, before decoding it. Default 268435456 (2^28)"
            | Cache_Mb _ ->
                "memory for decoded training images in MiB; a dataset larger than this is re-read as steps need its images. Default 512"
            | Prefetch _ -> "training batches prepared ahead on a background thread (0: none). Default 2"
            | Binary ->
                "a binary net: one sigmoid output channel (foreground probability) instead of softmax classes; every mask value above 0 is foreground unless --label-schema says otherwise. The 'carvana' preset is binary"
            | Loss _ ->
                "what training minimises: wce (the paper's weighted cross-entropy; softmax nets), bce (binary nets; bce(pos_weight=2)), dice, jaccard, focal(gamma=2,alpha=0.25), tversky(alpha=0.3,beta=0.7), focal-tversky(gamma=0.75), lovasz (hinge for binary, softmax otherwise), and weighted sums such as bce+dice or 0.5*focal+lovasz; every loss takes ignore_index=N. The border weight map weighs wce, bce and focal. Default wce, or bce for a binary net"
            | Augment _ ->
                "augmentation pipeline as a JSON file (stored in the checkpoint), e.g. {\"compose\":[{\"flip\":{\"axis\":\"horizontal\",\"p\":0.5}},{\"oneOf\":[{\"elastic\":{\"grid\":3,\"sigma\":10}},{\"affine\":{\"rotate\":15,\"scale\":[0.9,1.1]}}],\"p\":0.5},{\"gamma\":{\"range\":[0.8,1.2],\"p\":0.3}}]} (kinds: flip, rotate90, affine, elastic, gridDistortion, crop, padIfNeeded, brightnessContrast, gamma, noise, blur, hueSaturation; compose, oneOf). Default: the paper's elastic grid, flips, quarter turns and a small brightness/contrast jitter"
            | Batch _ -> "tiles per optimisation step. Default 1 (the paper)"
            | Schedule _ ->
                "learning-rate schedule over the run: constant, poly (nnU-Net's (1 - t)^0.9; poly(power=0.9)), cosine(warmup=STEPS) or step(every=STEPS,gamma=0.1). Default constant"
            | Weight_Decay _ -> "L2 weight decay of the optimizer. Default 0"
            | Clip _ -> "rescale gradients whose global L2 norm exceeds this. Default: no clipping"
            | Patience _ -> "stop when the monitored validation score has not improved for this many epochs. Default: never"
            | Monitor _ ->
                "the validation score that picks OUT/model.best.safetensors and drives --patience: loss, iou or dice (foreground classes' mean), or map (object-level mean average precision over IoU 0.5:0.95, the TGS/DSB metric). Default loss"
            | Preset _ ->
                "the net: paper (Fig. 1 of the paper, valid convolutions; large), milesial, milesial-bilinear or attention (softmax), or carvana (binary: one sigmoid channel). Default: paper unless --widths or --description"
            | Description _ -> "a JSON description of the net (see the README); stored in the checkpoint"
            | Widths _ -> "a paper-style U-Net (valid convs, crop-and-cat) with these widths top to bottom, e.g. 16,32,64"
            | Encoder _ ->
                "a pretrained-encoder net: segmentation_models_pytorch's Unet on torchvision's resnet18, resnet34 or resnet50 (encoder depth 5, decoder 256,128,64,32,16, 3x3 head; padded, output = input, sizes multiples of 32), classes from the label schema (one sigmoid channel with --binary). Exclusive with --preset, --description and --widths"
            | Encoder_Weights _ ->
                "torchvision ImageNet weights for the --encoder (e.g. resnet34-b627a593.pth from torchvision, or a .safetensors with the same keys: conv1.weight, layer1.0.bn1.running_mean, ...); fc.* is ignored and reported; with --in-channels 1 the stem's RGB weights are summed over R, G, B (smp's in_channels=1). Default: random encoder weights"
            | Normalize _ ->
                EncoderOptions.normalizeUsage
                + ". Default imagenet with --encoder, per-image otherwise"
            | Encoder_Lr _ ->
                "learning rate of the encoder's parameters (encoder.*), the decoder and head keeping --lr: two optimizer parameter groups, both scaled by --schedule. Needs --encoder; a resumed run keeps it. Default: --lr for all"
            | Freeze_Encoder_Epochs _ ->
                "the encoder does not train for the first N epochs: its parameters get no gradients (not updated, no momentum, no weight decay) and its batch norms run in eval mode on their stored statistics; the decoder and head train. Needs --encoder; a resumed run keeps it. Default 0"
            | In_Channels _ ->
                "image channels of a --preset, --widths or --encoder net: 1 (gray) or 3 (RGB). Default 1, or 3 with --encoder (ImageNet encoders read RGB; give 1 for gray images)"
            | Label_Schema _ ->
                "mask value -> class index, as JSON text or a JSON file, e.g. {\"0\":0,\"255\":1} (the default). Stored in the checkpoint; an unmapped mask value is an error naming the file and pixel"
            | Epochs _ -> "epochs to train (a resumed run continues up to this number). Default 10"
            | Steps_Per_Epoch _ -> "optimisation steps per epoch. Default: one pass over the training tiles"
            | Max_Steps _ -> "stop after this many steps in all (0: no limit). Default 0"
            | Lr _ -> "learning rate. Default 0.01 (sgd) or 0.001 (adam)"
            | Momentum _ -> "SGD momentum. Default 0.99 (the paper)"
            | Optimizer _ -> "sgd or adam. Default sgd"
            | Seed _ -> "seed of the initial weights, validation split, sample order, augmentation and dropout. Default 0"
            | Tile _ ->
                "largest training tile edge; the tile is the largest valid input of the net at most this and at most the smallest image edge. Default 572"
            | Val_Fraction _ -> "fraction of the images held out for validation (at least one image trains). Default 0.2"
            | No_Border_Weights -> "weigh pixels by class balance only, without the paper's border term"
            | Out _ -> "output folder; the checkpoint OUT/model.safetensors is written atomically after every epoch. Default out/train"
            | Resume _ ->
                "continue from this checkpoint: net, label schema, weights, optimizer state, epoch, step, and (unless given) optimizer, seed and learning rate come from it"
            | Tensorboard _ ->
                "also write a TensorBoard event file into this folder: every step's loss (loss/step), and per epoch the train and validation loss, foreground IoU and Dice, pixel error, mAP, learning rate and epoch seconds, and up to two validation tiles as overlays (labels beside predictions; tags overlay/1, overlay/2) (view with `tensorboard --logdir DIR`)"
            | Verbose ->
                "also print, after training, each epoch's seconds and steps/s, the time spent waiting for data, the tile plan, and the image decodes (cache misses)"
            | Precision _ ->
                "fp32 (default) or bf16: mixed precision, convolutions forward and backward in bfloat16 on fp32 master weights, optimizer state, batch norm and loss; the checkpoint holds fp32 weights. Needs a CPU with AVX512_BF16 or AMX-BF16 (refused elsewhere); a convolution whose bf16 output or gradients fail a check against fp32 stays fp32. A resumed run keeps its precision"
            | Quiet -> "no progress or epoch lines on stderr, only warnings and errors; the closing summary stays on stdout"
            | Device _ ->
                "cpu, cuda or cuda:N (default: CUDA when this libtorch has it and sees a GPU, else the CPU; the CROPCAT_DEVICE variable does the same)"
            | Threads _ -> "CPU threads for libtorch. Default: libtorch's choice"

/// One full command per competition layout, printed after `cropcat train --help`.
let examples =
    String.concat "\n" [
        "EXAMPLES:"
        ""
        "    Carvana (train/*.jpg + train_masks/*_mask.gif, binary):"
        "        cropcat train --images train --masks train_masks --mask-pattern '{name}_mask.gif' --in-channels 3 --binary --widths 32,64,128,256,512 --max-edge 960 --loss bce+dice --schedule poly --out carvana"
        "    TGS salt (train/images + train/masks, 16-bit masks, or train.csv run-length masks):"
        "        cropcat train --data . --binary --widths 16,32,64,128,256 --loss bce+lovasz --batch 8 --schedule 'cosine(warmup=200)' --monitor iou --patience 10 --out tgs"
        "        cropcat train --images train/images --rle-csv train.csv --binary --widths 16,32,64,128,256 --out tgs"
        "    DSB 2018 nuclei (stage1_train/ID/images/ID.png + ID/masks/*.png; instances feed the border weights):"
        "        cropcat train --data stage1_train --in-channels 3 --widths 16,32,64,128 --out dsb"
        "    ISBI 2012 (train-volume.tif + train-labels.tif; each page a sample; the paper's recipe):"
        "        cropcat train --data isbi --preset paper --optimizer sgd --lr 0.01 --momentum 0.99 --out isbi"
        "    A pretrained ResNet-34 encoder (torchvision's ImageNet weights; gray images: add --in-channels 1), frozen for 2 epochs, encoder at a tenth of the rate:"
        "        cropcat train --data cells --encoder resnet34 --encoder-weights resnet34-b627a593.pth --freeze-encoder-epochs 2 --optimizer adam --lr 0.001 --encoder-lr 0.0001 --tile 256 --out resnet"
        "    Anything else (a CSV manifest of image,mask paths):"
        "        cropcat train --data pairs.csv --widths 16,32,64 --label-schema '{\"0\":0,\"128\":1,\"255\":2}' --out run"
    ]

let private fail message =
    raise (CliFailure("cropcat train: " + message, 2))

/// The label schema of --label-schema: JSON text, or a file holding it.
let private labelSchema (binary: bool) (value: string option) =
    match value with
    | None when binary -> LabelSchema.Foreground
    | None -> LabelSchema.Binary255
    | Some v -> Options.labelSchema "train" v

let private parseWidths (text: string) =
    let parts =
        text.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)

    match parts |> Array.map Int32.TryParse with
    | ws when ws.Length >= 2 && ws |> Array.forall (fun (ok, w) -> ok && w > 0) -> ws |> Array.map snd
    | _ -> fail $"--widths '{text}' must be at least two positive whole numbers separated by commas, e.g. 16,32,64"

/// The net (which carries its description) and the label schema, from the arguments (or the checkpoint to resume).
let private chooseNet (args: ParseResults<Args>) : Network * LabelSchema * string * CheckpointInfo option =
    let given =
        [
            Preset "", args.Contains Preset
            Description "", args.Contains Description
            Widths "", args.Contains Widths
            Encoder "", args.Contains Encoder
        ]
        |> List.filter snd

    if given.Length > 1 then
        fail "give at most one of --preset, --description, --widths and --encoder"

    if args.Contains Encoder_Weights && not (args.Contains Encoder) then
        fail "--encoder-weights are loaded into the encoder of an --encoder net; give --encoder resnet18|resnet34|resnet50"

    match args.TryGetResult Resume with
    | Some ckpt ->
        if
            given.Length > 0
            || args.Contains Label_Schema
            || args.Contains In_Channels
            || args.Contains Encoder_Weights
            || args.Contains Normalize
        then
            fail
                "--resume takes the net, its weights, its input normalisation and the label schema from the checkpoint; leave out --preset, --description, --widths, --encoder, --encoder-weights, --normalize, --in-channels and --label-schema"

        let info =
            try
                Checkpoint.ReadInfo ckpt
            with
            | :? FileNotFoundException -> fail $"checkpoint {ckpt} does not exist"
            | :? SafetensorsException as e -> fail $"cannot resume: {e.Message}"

        let net =
            try
                info.Architecture.Build()
            with :? InvalidDataException as e ->
                fail $"cannot resume from {ckpt}: {e.Message}"

        net, info.Labels, $"{info.Architecture.Kind} from {ckpt}", Some info
    | None ->
        let binary = args.Contains Binary
        let labels = labelSchema binary (args.TryGetResult Label_Schema)

        if binary && labels.ClassCount <> 2 then
            fail $"--binary trains one foreground class, but the label schema {labels} has {labels.ClassCount} classes"

        // A binary net has one sigmoid channel; a softmax net one channel per class.
        let outputs = if binary then 1 else labels.ClassCount

        let inChannels =
            args.GetResult(In_Channels, (if args.Contains Encoder then 3 else 1))

        if inChannels <> 1 && inChannels <> 3 then
            fail $"--in-channels must be 1 (gray) or 3 (RGB), got {inChannels}"

        if args.Contains In_Channels && args.Contains Description then
            fail "a --description sets its own input channels; leave out --in-channels"

        // --normalize replaces whatever the net would normalise by (none, or a --description's own).
        let normalized (net: Network) =
            match args.TryGetResult Normalize with
            | None -> net
            | Some text ->
                let n = EncoderOptions.normalization "train" net.InChannels text
                let spec = EncoderOptions.withNormalization n net.Spec
                net.Dispose()
                Build.build spec

        let unet (o: UNetOptions) = normalized (UNet.Create o), labels

        match args.TryGetResult Widths, args.TryGetResult Description, args.TryGetResult Preset with
        | _ when args.Contains Encoder ->
            let encoder = EncoderOptions.encoder "train" (args.GetResult Encoder)

            let n =
                EncoderOptions.normalization "train" inChannels (args.GetResult(Normalize, "imagenet"))

            let spec =
                ResNetUNets.Describe(encoder, outputs, inChannels, normalization = Option.toObj n)

            let net = Build.build spec

            match args.TryGetResult Encoder_Weights with
            | Some file ->
                let line = EncoderOptions.loadWeights "train" net file

                if not (args.Contains Quiet) then
                    eprintfn "cropcat train: %s" line
            | None -> ()

            let norm = n |> Option.map string |> Option.defaultValue "per-image standardisation"

            net, labels, $"smp U-Net on {ResNetUNets.Name encoder}, input normalisation {norm}", None
        | Some w, _, _ ->
            let net, l =
                unet (UNetOptions(Widths = parseWidths w, Classes = outputs, InChannels = inChannels))

            net, l, $"U-Net widths {w}", None
        | _, Some file, _ ->
            let text =
                try
                    File.ReadAllText file
                with
                | :? FileNotFoundException
                | :? DirectoryNotFoundException -> fail $"description {file} does not exist"

            let description =
                try
                    Json.parse text
                with Json.JsonDescriptionException(where, problem) ->
                    fail $"bad description {file}: {where}: {problem}"

            let net =
                try
                    Build.build description |> normalized
                with DescriptionException e ->
                    fail $"description {file}: {e.Message}"

            net, labels, file, None
        | _, _, (None | Some "paper") ->
            let net, l =
                unet (UNetOptions(BottomDropout = UNetOptions.Paper.BottomDropout, Classes = outputs, InChannels = inChannels))

            net, l, "paper", None
        | _, _, Some other ->
            match Presets.byName |> List.tryFind (fun (n, _) -> n = other) with
            | None ->
                let names = Presets.byName |> List.map fst |> String.concat ", "
                fail $"unknown preset '{other}' (known: {names})"
            | Some(_, spec) when spec.Dims <> 2 -> fail $"preset '{other}' is a {spec.Dims}-D net; cropcat train reads 2-D images"
            | Some(_, spec) when spec.OutChannels = 1 && labels.ClassCount <> 2 ->
                fail
                    $"preset '{other}' is a binary net (one sigmoid channel), but the label schema {labels} has {labels.ClassCount} classes"
            | Some(_, spec) when spec.OutChannels = 1 && not binary && args.Contains Label_Schema |> not ->
                // A binary preset without --binary: its masks are read as foreground wherever they are not 0.
                normalized (Build.build spec), LabelSchema.Foreground, other, None
            | Some(_, spec) when spec.OutChannels > 1 && binary ->
                fail
                    $"preset '{other}' predicts {spec.OutChannels} softmax classes; --binary needs a one-channel net (e.g. --preset carvana, or --widths)"
            | Some(_, spec) -> normalized (Build.build spec), labels, other, None

/// --optimizer, else the resumed checkpoint's optimizer, else sgd.
let private optimizerKind (args: ParseResults<Args>) (resumed: CheckpointInfo option) =
    let stored =
        resumed |> Option.map (fun i -> i.Optimizer) |> Option.filter (fun o -> o <> "")

    match
        args.TryGetResult Optimizer
        |> Option.orElse stored
        |> Option.defaultValue "sgd"
        |> _.ToLowerInvariant()
    with
    | "sgd" -> OptimizerKind.Sgd
    | "adam" -> OptimizerKind.Adam
    | other -> fail $"--optimizer '{other}' is not sgd or adam"

/// Runs `cropcat train`; returns the exit code.
let run (args: ParseResults<Args>) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()

    args.TryGetResult Threads
    |> Option.iter (fun t -> TorchSharp.torch.set_num_threads (max 1 t))

    Options.useDevice "train" (args.TryGetResult Device)
    // A resumed run continues with its stored seed and learning rate unless they are given again.
    let resumed =
        args.TryGetResult Resume
        |> Option.bind (fun c ->
            try
                Some(Checkpoint.ReadInfo c)
            with _ ->
                None)

    let stored key parse =
        resumed
        |> Option.bind (fun i ->
            if i.Extra.ContainsKey key then
                Some(parse i.Extra[key])
            else
                None)

    let invariant = Globalization.CultureInfo.InvariantCulture

    let seed =
        args.TryGetResult Seed
        |> Option.orElse (stored "seed" (fun s -> Int32.Parse(s, invariant)))
        |> Option.defaultValue 0

    TorchSharp.torch.manual_seed (int64 seed) |> ignore
    let net, labels, name, resumed = chooseNet args
    use net = net
    let optimizer = optimizerKind args resumed

    let learningRate =
        args.TryGetResult Lr
        |> Option.orElse (stored "learning_rate" (fun s -> Double.Parse(s, invariant)))
        |> Option.defaultValue (if optimizer = OptimizerKind.Adam then 1e-3 else 1e-2)

    // The encoder's rate and freezing: given, else the resumed checkpoint's (which refuses other values).
    let encoderLr =
        args.TryGetResult Encoder_Lr
        |> Option.orElse (
            stored "encoder_lr" (fun s ->
                if s = "none" then
                    None
                else
                    Some(Double.Parse(s, invariant)))
            |> Option.flatten
        )

    let freezeEpochs =
        args.TryGetResult Freeze_Encoder_Epochs
        |> Option.orElse (stored "freeze_encoder_epochs" (fun s -> Int32.Parse(s, invariant)))
        |> Option.defaultValue 0

    let hasEncoder =
        net.named_parameters ()
        |> Seq.exists (fun struct (n, _) -> n.StartsWith ResNetUNets.EncoderPrefix)

    if
        (args.Contains Encoder_Lr || args.Contains Freeze_Encoder_Epochs)
        && not hasEncoder
    then
        fail "--encoder-lr and --freeze-encoder-epochs act on a pretrained encoder; this net has none (train one with --encoder)"

    match encoderLr with
    | Some r when not (r > 0.0) -> fail $"--encoder-lr must be > 0, got {r}"
    | _ -> ()

    if freezeEpochs < 0 then
        fail $"--freeze-encoder-epochs must be >= 0, got {freezeEpochs}"

    let prefetch = args.GetResult(Prefetch, 2)

    if prefetch < 0 then
        fail $"--prefetch must be >= 0, got {prefetch}"

    let schedule =
        match args.TryGetResult Schedule with
        | None -> LearningRateSchedule.Constant
        | Some text ->
            try
                LearningRateSchedule.Parse text
            with :? FormatException as e ->
                fail $"bad --schedule: {e.Message}"

    let monitor =
        match args.GetResult(Monitor, "loss").ToLowerInvariant() with
        | "loss" -> ValidationMetric.Loss
        | "iou" -> ValidationMetric.MeanIoU
        | "dice" -> ValidationMetric.MeanDice
        | "map" -> ValidationMetric.MeanAP
        | other -> fail $"--monitor '{other}' is not loss, iou, dice or map"

    let pipeline: CropCat.Augment.AugmentPipeline | null =
        match args.TryGetResult Augment with
        | None -> null
        | Some file ->
            try
                CropCat.Augment.AugmentPipeline.Load file
            with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> fail $"augmentation file {file} does not exist"
            | :? CropCat.Augment.AugmentJsonException as e -> fail $"bad --augment {file}: {e.Message}"

    let objective: Objective | null =
        match args.TryGetResult Loss with
        | Some text ->
            try
                Objective.Parse text
            with :? FormatException as e ->
                fail $"bad --loss: {e.Message}"
        | None ->
            // A resumed run keeps its loss; checkpoints older than the text form stored a LossKind name instead.
            match stored "loss" id with
            | Some text ->
                match Enum.TryParse<LossKind> text with
                | true, kind -> Objective.FromKind kind
                | _ ->
                    try
                        Objective.Parse text
                    with :? FormatException as e ->
                        fail $"cannot resume: the checkpoint's loss '{text}' is unreadable ({e.Message}); give --loss"
            | None -> null

    let precision =
        match args.TryGetResult Precision |> Option.orElse (stored "precision" id) with
        | None
        | Some "fp32"
        | Some "Float32" -> CropCat.Runtime.Precision.Float32
        | Some "bf16"
        | Some "BFloat16" -> CropCat.Runtime.Precision.BFloat16
        | Some other -> fail $"--precision '{other}' is not fp32 or bf16"

    // The overlays are of the first validation tiles, set when FolderTraining has made them (Started below).
    let board =
        args.TryGetResult Tensorboard
        |> Option.map (fun dir -> new TensorBoard.Writer(dir, net, []))

    use _closeBoard =
        { new IDisposable with
            member _.Dispose() =
                board |> Option.iter (fun b -> (b :> IDisposable).Dispose())
        }

    // A live bar on a terminal; plain epoch lines (the trainer's own) when stderr is redirected.
    let bar =
        if Progress.live (args.Contains Quiet) then
            Some(
                Progress.TrainBar(
                    Progress.stderrConsole (),
                    args.GetResult(Epochs, 10),
                    args.GetResult(Steps_Per_Epoch, 0),
                    int64 (args.GetResult(Max_Steps, 0))
                )
            )
        else
            None

    let training =
        TrainerOptions(
            Precision = precision,
            StepDone =
                (Progress.all [ board |> Option.map _.StepDone; bar |> Option.map _.StepDone ]
                 |> Option.toObj),
            EpochDone =
                (Progress.all [ board |> Option.map _.EpochDone; bar |> Option.map _.EpochDone ]
                 |> Option.toObj),
            Objective = objective,
            Progress =
                Option.toObj (
                    match bar with
                    | Some b -> Some b.Lines
                    | None when args.Contains Quiet -> None
                    | None -> Some Console.Error
                ),
            Pipeline = pipeline,
            BatchSize = args.GetResult(Batch, 1),
            Schedule = schedule,
            WeightDecay = args.GetResult(Weight_Decay, 0.0),
            ClipGradientNorm = Option.toNullable (args.TryGetResult Clip),
            EarlyStoppingPatience = Option.toNullable (args.TryGetResult Patience),
            Monitor = monitor,
            Epochs = args.GetResult(Epochs, 10),
            StepsPerEpoch = args.GetResult(Steps_Per_Epoch, 0),
            MaxSteps = int64 (args.GetResult(Max_Steps, 0)),
            Optimizer = optimizer,
            LearningRate = learningRate,
            EncoderLearningRate = Option.toNullable encoderLr,
            FreezeEncoderEpochs = freezeEpochs,
            // Which ImageNet weights the encoder started from, kept by a resumed run.
            CheckpointMetadata =
                (args.TryGetResult Encoder_Weights
                 |> Option.map (fun f -> Path.GetFileName f |> string)
                 |> Option.orElse (stored "encoder_weights" id)
                 |> Option.map (fun name -> readOnlyDict [ "encoder_weights", name ])
                 |> Option.toObj),
            Momentum = args.GetResult(Momentum, 0.99),
            Seed = seed,
            Prefetch = prefetch,
            WeightMap =
                (if args.Contains No_Border_Weights then
                     WeightMapOptions(BorderTerm = false)
                 else
                     WeightMapOptions())
        )

    let source =
        match args.TryGetResult Data, args.TryGetResult Images with
        | Some _, Some _ -> fail "give --data, or --images with --masks or --rle-csv, not both"
        | None, None ->
            fail "give the dataset: --data FOLDER (or a manifest file), or --images FOLDER with --masks FOLDER or --rle-csv FILE"
        | data, images ->
            let order =
                match args.GetResult(Rle_Order, "column").ToLowerInvariant() with
                | "column" -> PixelOrder.ColumnMajor
                | "row" -> PixelOrder.RowMajor
                | other -> fail $"--rle-order '{other}' is not column or row"

            DatasetSource(
                Data = Option.toObj data,
                Images = Option.toObj images,
                Masks = Option.toObj (args.TryGetResult Masks),
                MaskPattern = Option.toObj (args.TryGetResult Mask_Pattern),
                RleCsv = Option.toObj (args.TryGetResult Rle_Csv),
                RleOrder = order
            )

    let resize =
        Options.resize "train" (args.TryGetResult Max_Edge) (args.TryGetResult Scale)

    let limits: ImageLimits | null =
        match args.TryGetResult Max_Pixels with
        | Some n when n < 1L -> fail $"--max-pixels must be at least 1, got {n}"
        | Some n -> ImageLimits(MaxPixels = n)
        | None -> null

    let cacheMb = args.GetResult(Cache_Mb, 512)

    if cacheMb < 0 then
        fail $"--cache-mb must be >= 0, got {cacheMb}"

    let folder =
        FolderTrainingOptions(
            Source = source,
            Resize = resize,
            Limits = limits,
            CacheBytes = (int64 cacheMb <<< 20),
            Warning = Action<string>(fun m -> eprintfn "cropcat train: %s" m),
            Labels = labels,
            MaxTileSize = args.GetResult(Tile, 572),
            ValidationFraction = args.GetResult(Val_Fraction, 0.2),
            Started =
                (board
                 |> Option.map (fun b ->
                     Action<Trainer, Collections.Generic.IEnumerable<Sample> | null>(fun trainer validation ->
                         b.Trainer <- Some trainer

                         b.OverlaySamples <-
                             match validation with
                             | null -> []
                             | tiles -> tiles |> Seq.truncate 2 |> List.ofSeq))
                 |> Option.toObj),
            OutputFolder = args.GetResult(Out, "out/train"),
            ResumeFrom = Option.toObj (args.TryGetResult Resume)
        )

    let dataText =
        [ source.Data; source.Images; source.Masks; source.RleCsv ]
        |> List.choose Option.ofObj
        |> String.concat " + "

    if not (args.Contains Quiet) then
        eprintfn "cropcat train: net %s (%d parameters), labels %O, data %s" name net.ParameterCount labels dataText

    let result =
        try
            match bar with
            | Some b -> b.Run(fun () -> FolderTraining.Run(net, folder, training))
            | None -> FolderTraining.Run(net, folder, training)
        with
        | :? ArgumentException as e -> fail e.Message
        | :? DatasetException as e when
            args.Contains Encoder
            && not (args.Contains In_Channels)
            && e.Message.Contains "but the network reads 3 channels"
            ->
            // --encoder reads RGB unless told otherwise: say how to train it on gray images.
            fail $"{e.Message}, or train the encoder on gray images with --in-channels 1"
        | :? DatasetException as e -> fail e.Message
        | :? ImageFormatException as e -> fail e.Message
        | :? LabelSchemaException as e -> fail e.Message
        | :? FolderTrainingException as e -> fail e.Message
        | :? CheckpointMismatchException as e when e.Message.StartsWith "cannot resume" -> fail e.Message
        | :? CheckpointMismatchException as e -> fail $"cannot resume: {e.Message}"
        | :? TrainingDivergedException as e -> raise (CliFailure("cropcat train: " + e.Message, 6))
        | :? CropCat.Runtime.PrecisionNotSupportedException as e -> fail e.Message

    printfn
        "trained on %d images (%s layout; %d windows of %dx%d per epoch, tiles of %dx%d), validated on %d images (%d tiles); at step %d after %.1f s (%.1f s waiting for data); wrote %s"
        result.TrainImages
        result.Layout
        result.TrainTiles
        result.OutputSize
        result.OutputSize
        result.Tile
        result.Tile
        result.ValidationImages
        result.ValidationTiles
        result.Training.Steps
        result.Training.Seconds
        result.Training.DataSeconds
        result.CheckpointPath

    let curves =
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath result.CheckpointPath) |> string, "curves.png")

    Curves.write curves [ "train", result.Training.History ]

    if not (args.Contains Quiet) then
        eprintfn "cropcat train: wrote %s%s" curves (board |> Option.map (fun b -> ", " + b.Path) |> Option.defaultValue "")

    if args.Contains Verbose then
        TrainReport.verbose result |> List.iter (eprintfn "cropcat train: %s")

    if result.Skipped.Count > 0 then
        eprintfn "cropcat train: skipped %d unreadable training image(s): %s" result.Skipped.Count (String.concat ", " result.Skipped.Keys)
        5
    else
        0
