/// Option values that several verbs share (label schema, resizing, device), parsed one way for all of them.
/// Each takes the verb's name so its refusal reads "cropcat train: ..." or "cropcat predict: ...".
module CropCat.Cli.Options

open System
open System.IO
open CropCat.Data
open CropCat.Inference
open CropCat.Cli.Summary

/// Refuses an argument of `verb`: "cropcat VERB: message", exit code 2.
let fail (verb: string) message =
    raise (CliFailure($"cropcat {verb}: " + message, 2))

/// --label-schema: JSON text, or a file holding it.
let labelSchema (verb: string) (value: string) =
    let text = if File.Exists value then File.ReadAllText value else value

    try
        LabelSchema.FromJson text
    with :? ArgumentException as e ->
        fail verb $"bad --label-schema: {e.Message}"

/// The resizing of --max-edge or --scale (at most one of them); null for neither.
let resize (verb: string) (maxEdge: int option) (scale: float option) : InputResize | null =
    let checkedBy name (make: unit -> InputResize) =
        try
            make ()
        with :? ArgumentOutOfRangeException as e ->
            // The exception's message without its "(Parameter ...)" and "Actual value" lines.
            let reason = e.Message.Split([| " (Parameter"; "\n" |], StringSplitOptions.None)[0]
            fail verb $"{name}: {reason}"

    match maxEdge, scale with
    | Some _, Some _ -> fail verb "--max-edge and --scale exclude each other; give one"
    | Some n, None -> checkedBy $"--max-edge {n}" (fun () -> InputResize.ToMaxEdge n)
    | None, Some f -> checkedBy $"--scale {f}" (fun () -> InputResize.ByFactor f)
    | None, None -> null

/// --device: makes the named device CropCat's default; an unavailable one is refused with one message.
let useDevice (verb: string) (device: string option) =
    device
    |> Option.iter (fun d ->
        try
            CropCat.Runtime.Devices.Default <- CropCat.Runtime.Devices.Parse d
        with :? ArgumentException as e ->
            fail verb $"--device: {e.Message}")
