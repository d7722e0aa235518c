/// `cropcat summary`: the layer table of a description for one input size, before any tensor exists.
module CropCat.Cli.Summary

open System.IO
open System.Text.Json
open Argu
open CropCat.Architecture
open CropCat.Dsl

/// Arguments of `cropcat summary`.
type SummaryArgs =
    | Preset of name: string
    | Description of file: string
    | Size of size: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ ->
                "a built-in net: paper (Fig. 1, 1 -> 2 classes, valid convs), carvana (padded, RGB -> 1 class), milesial or milesial-bilinear (milesial/Pytorch-UNet, RGB -> 2 classes), unet3d (Cicek et al. 2016, 3-D) or attention (the paper's net with attention gates). Default: paper"
            | Description _ -> "a JSON description file instead of a preset (format: see the README, section 'The F# DSL')"
            | Size _ ->
                "input size: one edge for every axis (572), or one per axis (116x132x132 for a 3-D net, DxHxW). Default: the valid size nearest 572"
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

/// The sizes of `text`: "572" (the same on every axis) or "116x132x132" (one per axis, as many as the net has).
let parseExtents (net: Net) (text: string) : int list =
    let parts = text.Split('x') |> Array.map (fun p -> System.Int32.TryParse p)

    if parts |> Array.exists (fst >> not) then
        raise (CliFailure($"cropcat: size '{text}' is not a number or NxN... of whole numbers", 2))

    match parts |> Array.map snd |> List.ofArray with
    | [ n ] -> List.replicate net.Dims n
    | many when List.length many = net.Dims -> many
    | many -> raise (CliFailure($"cropcat: size '{text}' has {List.length many} axes; this net has {net.Dims}", 2))

/// "572x572" or "116x132x132".
let sizeText (extents: int seq) =
    extents |> Seq.map string |> String.concat "x"

/// Fails with one line naming the refusal and the nearest valid sizes when `extents` are not valid.
let requireValid (name: string) (net: Net) (sizes: Solution) (extents: int list) =
    match ShapeCheck.inferAt net extents with
    | Ok i -> i
    | Error e ->
        let near =
            let below = extents |> List.map (ValidSizes.below sizes)

            [
                (if List.forall Option.isSome below then
                     Some(below |> List.map Option.get)
                 else
                     None)
                Some(extents |> List.map (ValidSizes.above sizes))
            ]
            |> List.choose id
            |> List.distinct
            |> List.map sizeText
            |> String.concat " or "

        raise (CliFailure($"cropcat: {name} cannot take {sizeText extents} ({e.Message}); nearest valid sizes: {near}", 1))

let private options =
    JsonSerializerOptions(WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

let private shapeJson (s: CropCat.Shapes.Shape) =
    Array.append [| s.Channels |] (Array.ofSeq s.Extents)

/// Runs `cropcat summary`; returns the exit code.
let run (args: ParseResults<SummaryArgs>) =
    let name, net = loadNet (args.TryGetResult Preset) (args.TryGetResult Description)
    let sizes = solve name net

    let extents =
        match args.TryGetResult Size with
        | Some text -> parseExtents net text
        | None -> List.replicate net.Dims (ValidSizes.nearest sizes 572)

    let inferred = requireValid name net sizes extents

    if args.Contains Json then
        let rows =
            inferred.Rows
            |> Seq.map (fun r -> {|
                path = r.Path
                kind = r.Kind
                output = shapeJson r.Output
                parameters = r.Parameters
            |})

        let doc = {|
            net = name
            dims = net.Dims
            input = shapeJson inferred.Input
            output = shapeJson inferred.Output
            parameters = inferred.Parameters
            layers = rows
        |}

        printfn "%s" (JsonSerializer.Serialize(doc, options))
    else
        printf "%s" (Summary.renderInferred inferred)

    0
