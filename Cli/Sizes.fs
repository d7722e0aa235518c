/// `cropcat sizes`: the input sizes a description accepts, in closed form.
module CropCat.Cli.Sizes

open System.Text.Json
open Argu
open CropCat.Dsl
open CropCat.Cli.Summary

/// Arguments of `cropcat sizes`.
type SizesArgs =
    | Preset of name: string
    | Description of file: string
    | Near of size: string
    | Output of pixels: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> "a built-in net: paper, carvana, milesial, milesial-bilinear, unet3d or attention. Default: paper"
            | Description _ -> "a JSON description file instead of a preset"
            | Near _ ->
                "also give the valid size nearest to this one on each axis (ties go up), its output and crop margins: 570, or 116x130x130 for a 3-D net"
            | Output _ -> "also give the smallest input whose output is at least this many pixels"
            | Json -> "print the answer as JSON"

let private options =
    JsonSerializerOptions(WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

/// Runs `cropcat sizes`; returns the exit code.
let run (args: ParseResults<SizesArgs>) =
    let name, net = loadNet (args.TryGetResult Preset) (args.TryGetResult Description)
    let sizes = solve name net

    let near =
        args.TryGetResult Near
        |> Option.map (fun text ->
            let asked = parseExtents net text
            let m = asked |> List.map (ValidSizes.nearest sizes)

            let crops =
                match ShapeCheck.inferAt net m with
                | Ok i -> List.ofSeq i.Crops
                | Error e -> failwith $"unreachable: the solver's size {sizeText m} refused: {e.Message}"

            asked, m, m |> List.map (fun n -> (ValidSizes.outputOf sizes n).Value), crops, not (text.Contains 'x'))

    let forOutput =
        args.TryGetResult Output
        |> Option.map (fun want -> want, ValidSizes.inputFor sizes want)

    if args.Contains Json then
        let doc = {|
            net = name
            dims = net.Dims
            period = sizes.Period
            progressions =
                sizes.Progressions
                |> Seq.map (fun p -> {|
                    first = p.First
                    period = p.Period
                    firstOutput = p.FirstOutput
                    outputStep = p.OutputStep
                |})
            smallest = ValidSizes.smallest sizes
            near =
                near
                |> Option.map (fun (asked, n, out, crops, _) -> {|
                    asked = asked
                    valid = (asked = n)
                    nearest = n
                    output = out
                    crops =
                        crops
                        |> List.map (fun c -> {|
                            path = c.Path
                            source = Array.ofSeq c.Source.Extents
                            target = Array.ofSeq c.Target.Extents
                            before = Array.init c.Source.Dims c.Before
                            after = Array.init c.Source.Dims c.After
                        |})
                |})
                |> Option.toObj
            forOutput =
                forOutput
                |> Option.map (fun (want, found) -> {|
                    wanted = want
                    input = found |> Option.map fst |> Option.toNullable
                    output = found |> Option.map snd |> Option.toNullable
                |})
                |> Option.toObj
        |}

        printfn "%s" (JsonSerializer.Serialize(doc, options))
    else
        printfn "Valid input sizes of %s (per axis; each of its %d axes independently):" name net.Dims

        for p in sizes.Progressions do
            printfn "  %O" p

        let s = ValidSizes.smallest sizes
        printfn "Smallest: %d -> output %d" s (ValidSizes.outputOf sizes s).Value

        near
        |> Option.iter (fun (asked, n, out, crops, single) ->
            // A size given as one number (the same on every axis) is answered in the same form.
            let sizeText (e: int list) =
                if single then string e.Head else sizeText e

            if asked = n then
                printfn "%s is valid -> output %s" (sizeText n) (sizeText out)
            else
                printfn "%s is not valid; nearest valid: %s -> output %s" (sizeText asked) (sizeText n) (sizeText out)

            for c in crops do
                let axes f = List.init c.Source.Dims f

                printfn
                    "  %s crops %s -> %s: %s px before, %s px after"
                    c.Path
                    (sizeText (List.ofSeq c.Source.Extents))
                    (sizeText (List.ofSeq c.Target.Extents))
                    (sizeText (axes c.Before))
                    (sizeText (axes c.After)))

        forOutput
        |> Option.iter (fun (want, found) ->
            match found with
            | Some(n, out) when out = want -> printfn "Output %d needs input %d (exact)" want n
            | Some(n, out) -> printfn "Output %d: no input gives it exactly; smallest input covering it: %d -> output %d" want n out
            | None -> printfn "Output %d: no input reaches it" want)

    0
