/// `cropcat export`: writes a checkpoint's network as an ONNX model for other runtimes.
module CropCat.Cli.Export

open System
open System.IO
open Argu
open CropCat.Dsl
open CropCat.IO
open CropCat.Interop.Onnx
open CropCat.Cli.Summary

/// Arguments of `cropcat export`.
type Args =
    | [<Mandatory>] Model of checkpoint: string
    | [<Mandatory>] Onnx of file: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "a checkpoint written by cropcat train or cropcat import"
            | Onnx _ ->
                "the ONNX file to write (atomically): opset 17, fp32, the eval-mode logits (no sigmoid/softmax) with dynamic batch and spatial axes; the description and valid sizes are in its metadata"

let private fail message =
    raise (CliFailure("cropcat export: " + message, 2))

/// Runs `cropcat export`; returns 0.
let run (args: ParseResults<Args>) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()
    let model = args.GetResult Model
    let file = args.GetResult Onnx

    let net, _ =
        try
            Checkpoint.LoadNetwork model |> _.ToTuple()
        with
        | :? FileNotFoundException -> fail $"checkpoint {model} does not exist"
        | :? SafetensorsException as e -> fail $"cannot read checkpoint: {e.Message}"
        | :? InvalidDataException as e -> fail e.Message
        | :? CheckpointMismatchException as e -> fail e.Message
        | :? ArgumentException as e -> fail $"checkpoint {model}: {e.Message}"

    use net = net

    let onnx =
        try
            OnnxExport.Export(net, file)
        with
        | :? OnnxExportException as e -> fail e.Message
        | :? IOException as e -> fail $"cannot write {file}: {e.Message}"
        | :? UnauthorizedAccessException as e -> fail $"cannot write {file}: {e.Message}"

    let operators =
        onnx.Operators
        |> Seq.sortBy _.Key
        |> Seq.map (fun kv -> $"{kv.Key} {kv.Value}")
        |> String.concat ", "

    printfn "wrote %s (%d bytes): ONNX opset %d" file onnx.Bytes.Length onnx.Opset
    printfn "  input   %s" onnx.Input
    printfn "  output  %s" onnx.Output
    printfn "  valid sizes per axis: %s" onnx.ValidSizes
    printfn "  operators: %s" operators
    0
