/// The options of pretrained encoders shared by `cropcat train` and `cropcat import`: the ResNet of --encoder,
/// torchvision weights for it (--encoder-weights) and the input normalisation stored with the net (--normalize).
module CropCat.Cli.EncoderOptions

open System
open System.IO
open CropCat.Architecture
open CropCat.Interop
open CropCat.Nets
open CropCat.Cli.Summary

let private fail = Options.fail

/// The help text of --normalize (the default differs per verb and is appended by the caller).
let normalizeUsage =
    "input normalisation stored with the net and applied by it to [0, 1] intensities, in training, validation, predict (tiled or whole-image) and the ONNX export alike: imagenet (mean 0.485,0.456,0.406, std 0.229,0.224,0.225; for one channel their means 0.449/0.226), per-image (no normalisation in the net: CropCat standardises each image to zero mean and unit deviation, the default of every other net), or per-channel values M1,M2,M3/S1,S2,S3"

/// --normalize: None for per-image standardisation, else the normalisation for `inChannels` channels (imagenet is
/// adapted to the channel count; explicit values must have one mean and one deviation per channel).
let normalization (verb: string) (inChannels: int) (text: string) : InputNormalization option =
    if text.Trim().Equals("per-image", StringComparison.OrdinalIgnoreCase) then
        None
    else
        let n =
            try
                InputNormalization.Parse text
            with :? FormatException as e ->
                fail verb $"bad --normalize: {e.Message}; or per-image"

        let n =
            if n = InputNormalization.ImageNet then
                n.ForChannels inChannels
            else
                n

        match n.Problem inChannels with
        | null -> Some n
        | problem -> fail verb $"--normalize {text}: {problem}"

/// The ResNet that --encoder names.
let encoder (verb: string) (name: string) : ResNetEncoder =
    match ResNetUNets.Parse name |> Option.ofNullable with
    | Some e -> e
    | None -> fail verb $"--encoder '{name}' is not one of resnet18, resnet34, resnet50"

/// `spec` with the normalisation `n` (or none).
let withNormalization (n: InputNormalization option) (spec: NetSpec) =
    NetSpec(spec.InChannels, spec.Body, spec.Dims, Normalization = Option.toObj n)

/// Loads torchvision ImageNet weights (a .pth state dict or .safetensors with keys conv1.weight, layer1.0.bn1.weight,
/// ...) into the encoder of `net`; returns what was loaded, ignored and adapted, as one line.
let loadWeights (verb: string) (net: Network) (file: string) : string =
    let report =
        try
            EncoderWeights.LoadInto(net, file)
        with
        | :? FileNotFoundException
        | :? DirectoryNotFoundException -> fail verb $"--encoder-weights {file} does not exist"
        | :? StateDictMismatchException as e -> fail verb $"--encoder-weights {e.Message}"
        | :? PickleRefusedException as e -> fail verb $"--encoder-weights {e.Message}"
        | :? CropCat.IO.SafetensorsException as e -> fail verb $"--encoder-weights {e.Message}"
        | :? InvalidDataException as e -> fail verb $"--encoder-weights {file}: {e.Message}"
        | :? ArgumentException as e -> fail verb $"--encoder-weights {e.Message}"

    let ignored =
        if report.Ignored.Count = 0 then
            "nothing ignored"
        else
            let keys = String.concat ", " report.Ignored
            $"ignored {report.Ignored.Count} (the ImageNet classifier): {keys}"

    let adapted =
        match report.AdaptedFirstConv with
        | null -> ""
        | a -> $"; {a}"

    $"loaded {report.Loaded} encoder tensors (torchvision keys under encoder.) from {file}; {ignored}{adapted}; the decoder and head start from random weights"
