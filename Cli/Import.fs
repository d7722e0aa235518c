/// `cropcat import`: a PyTorch U-Net's weights as a CropCat checkpoint that computes what the PyTorch code computes.
module CropCat.Cli.Import

open System
open System.Collections.Generic
open System.IO
open Argu
open CropCat.Data
open CropCat.Interop
open CropCat.IO
open CropCat.Cli.Summary

/// Arguments of `cropcat import`.
type Args =
    | [<Mandatory>] Pytorch of file: string
    | [<Mandatory>] Out of checkpoint: string
    | Label_Schema of json: string
    | Normalize of text: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Pytorch _ ->
                "the PyTorch weights: a state dict saved with torch.save (.pt/.pth, read by a restricted unpickler) or a .safetensors file, from the reading group's U-Net (encoder.enc_blocks.*), milesial/Pytorch-UNet (inc.*, downN.*, upN.*, outc.*) or segmentation_models_pytorch's Unet on resnet18/34/50 (encoder.*, decoder.blocks.*, segmentation_head.0.*); encoder, widths, input channels and classes are read from the shapes"
            | Out _ ->
                "the CropCat checkpoint to write (description, weights, label schema), for cropcat predict, summary and train --resume"
            | Label_Schema _ ->
                "mask value -> class index of the net's classes, as in train. Default: {\"0\":0,\"*\":1} for one sigmoid channel, {\"0\":0,\"255\":1} for two classes, class indices otherwise"
            | Normalize _ ->
                EncoderOptions.normalizeUsage
                + ". A state dict does not say how its inputs were normalised: give imagenet for a segmentation_models_pytorch model trained with smp's preprocessing for ImageNet encoders (get_preprocessing_fn), so that predict feeds it what it was trained on. Default per-image (the net computes exactly the PyTorch module's function)"

let private fail message =
    raise (CliFailure("cropcat import: " + message, 2))

/// Runs `cropcat import`; returns the exit code.
let run (args: ParseResults<Args>) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()
    let file = args.GetResult Pytorch
    let fileName = Path.GetFileName file |> string
    let out = args.GetResult Out

    let stateDict =
        try
            PyTorchWeights.Read file
        with
        | :? FileNotFoundException -> fail $"{file} does not exist"
        | :? ArgumentException as e -> fail e.Message
        | :? PickleRefusedException as e -> fail e.Message
        | :? InvalidDataException as e -> fail $"{file}: {e.Message}"

    let net, report =
        try
            PyTorchImport.Build(stateDict, fileName).ToTuple()
        with
        | :? UnknownLayoutException as e -> fail e.Message
        | :? StateDictMismatchException as e -> fail e.Message

    let net =
        match args.TryGetResult Normalize with
        | None -> net
        | Some text ->
            let n = EncoderOptions.normalization "import" net.InChannels text

            let normalized =
                CropCat.Nets.Network.Create(EncoderOptions.withNormalization n net.Spec)

            // The same weights: the normalisation is part of the description, not of the state dict.
            let weights = net.state_dict ()
            use _ = TorchSharp.torch.no_grad ()

            for KeyValue(k, t) in normalized.state_dict () do
                t.copy_ weights[k] |> ignore

            net.Dispose()
            normalized

    use net = net

    let labels =
        match args.TryGetResult Label_Schema with
        | None -> PyTorchImport.DefaultLabels net.Spec
        | Some v -> Options.labelSchema "import" v

    let classes = net.Spec.OutChannels

    if labels.ClassCount <> classes && not (classes = 1 && labels.ClassCount = 2) then
        fail $"the net predicts {classes} class(es) but the label schema {labels} has {labels.ClassCount}"

    let extra =
        Dictionary<string, string>(dict [ "imported_from", fileName; "pytorch_layout", string report.Layout ])

    Checkpoint.Save(out, net, null, CheckpointInfo(net.Description, labels, 0, 0L, "", extra))

    printfn
        "imported %s (%O layout: %d parameters, %d in, %d out) into %s, labels %O"
        file
        report.Layout
        net.ParameterCount
        net.InChannels
        classes
        out
        labels

    match net.Spec.Normalization with
    | null when report.Layout = StateDictLayout.Smp ->
        printfn
            "  input: per-image standardisation (no normalisation stored); an smp model trained on ImageNet-normalised inputs wants --normalize imagenet"
    | null -> printfn "  input: per-image standardisation (no normalisation stored)"
    | n -> printfn "  input normalisation stored with the net: %O on [0, 1] intensities" n

    0

/// Example commands, printed after `cropcat import --help`.
let examples =
    String.concat "\n" [
        "EXAMPLES:"
        ""
        "    milesial/Pytorch-UNet's Carvana checkpoint:"
        "        cropcat import --pytorch unet_carvana_scale0.5_epoch2.pth --out carvana.safetensors"
        "    a segmentation_models_pytorch Unet(resnet34) trained with ImageNet preprocessing:"
        "        cropcat import --pytorch smp_unet.pth --normalize imagenet --label-schema '{\"0\":0,\"255\":1}' --out smp.safetensors"
    ]
