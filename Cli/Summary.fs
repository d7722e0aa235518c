/// `cropcat summary`: the layer table of a description for one input size, before any tensor exists.
module CropCat.Cli.Summary

open System.IO
open System.Text.Json
open Argu
open CropCat.Dsl

/// Arguments of `cropcat summary`.
type SummaryArgs =
    | Preset of name: string
    | Description of file: string
    | Size of pixels: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ ->
                "a built-in net: paper (Fig. 1, 1 -> 2 classes, valid convs), carvana (padded, RGB -> 1 class) or milesial (milesial/Pytorch-UNet, RGB -> 2 classes, transposed up). Default: paper"
            | Description _ -> "a JSON description file instead of a preset (format: see the README, section 'The F# DSL')"
            | Size _ -> "input edge length in pixels (square input). Default: the valid size nearest 572"
            | Json -> "print the table as JSON instead of text"

/// A command failed with a message for the user and an exit code.
exception CliFailure of message: string * exitCode: int

/// The description chosen by --preset or --description (not both); a bad file fails with its name.
let loadNet (preset: string option) (description: string option) : string * Net =
    match preset, description with
    | Some _, Some _ -> raise (CliFailure("cropcat: give either --preset or --description, not both", 2))
    | _, Some file ->
        try
            file, Json.load file
        with :? InvalidDataException as e ->
            raise (CliFailure($"cropcat: bad description {e.Message}", 2))
    | p, None ->
        let name = defaultArg p "paper"

        match Presets.byName |> List.tryFind (fun (n, _) -> n = name) with
        | Some(n, net) -> n, net
        | None ->
            let names = Presets.byName |> List.map fst |> String.concat ", "
            raise (CliFailure($"cropcat: unknown preset '{name}' (known: {names})", 2))

/// Solves the valid sizes or fails with the refusing layer.
let solve (name: string) (net: Net) =
    match ValidSizes.solve net with
    | Ok s -> s
    | Error e -> raise (CliFailure($"cropcat: {name} cannot work: {e.Message}", 3))

/// Fails with one line naming the refusal and the nearest valid sizes when `size` is not valid.
let requireValid (name: string) (net: Net) (sizes: Solution) (size: int) =
    match Inference.infer net size with
    | Ok i -> i
    | Error e ->
        let near =
            [ ValidSizes.below sizes size; Some(ValidSizes.above sizes size) ]
            |> List.choose id
            |> List.distinct
            |> List.map string
            |> String.concat " or "

        raise (CliFailure($"cropcat: {name} cannot take {size}x{size} ({e.Message}); nearest valid sizes: {near}", 1))

let private options =
    JsonSerializerOptions(WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

let private shapeJson (s: CropCat.Shapes.Shape) = [| s.Channels; s.Height; s.Width |]

/// Runs `cropcat summary`; returns the exit code.
let run (args: ParseResults<SummaryArgs>) =
    let name, net = loadNet (args.TryGetResult Preset) (args.TryGetResult Description)
    let sizes = solve name net
    let size = args.GetResult(Size, defaultValue = ValidSizes.nearest sizes 572)
    let inferred = requireValid name net sizes size

    if args.Contains Json then
        let rows =
            inferred.Rows
            |> List.map (fun r -> {|
                path = r.Path
                kind = r.Kind
                output = shapeJson r.Output
                parameters = r.Parameters
            |})

        let doc = {|
            net = name
            input = shapeJson inferred.Input
            output = shapeJson inferred.Output
            parameters = inferred.Parameters
            layers = rows
        |}

        printfn "%s" (JsonSerializer.Serialize(doc, options))
    else
        printf "%s" (Summary.renderInferred inferred)

    0
