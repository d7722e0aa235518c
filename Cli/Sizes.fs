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
    | Near of pixels: int
    | Output of pixels: int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> "a built-in net: paper, carvana or milesial. Default: paper"
            | Description _ -> "a JSON description file instead of a preset"
            | Near _ -> "also give the valid size nearest to this one (ties go up), its output and crop margins"
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
        |> Option.map (fun n ->
            let m = ValidSizes.nearest sizes n

            let crops =
                match ValidSizes.cropMargins net m with
                | Ok cs -> cs
                | Error e -> failwith $"unreachable: the solver's size {m} refused: {e.Message}"

            n, m, (ValidSizes.outputOf sizes m).Value, crops)

    let forOutput =
        args.TryGetResult Output
        |> Option.map (fun want -> want, ValidSizes.inputFor sizes want)

    if args.Contains Json then
        let doc = {|
            net = name
            period = sizes.Period
            progressions =
                sizes.Progressions
                |> List.map (fun p -> {|
                    first = p.First
                    period = p.Period
                    firstOutput = p.FirstOutput
                    outputStep = p.OutputStep
                |})
            smallest = ValidSizes.smallest sizes
            near =
                near
                |> Option.map (fun (asked, n, out, crops) -> {|
                    asked = asked
                    valid = (asked = n)
                    nearest = n
                    output = out
                    crops =
                        crops
                        |> List.map (fun c -> {|
                            path = c.Path
                            source = c.Source.Height
                            target = c.Target.Height
                            before = c.Top
                            after = c.Bottom
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
        printfn "Valid input sizes of %s (per axis; square inputs):" name

        for p in sizes.Progressions do
            printfn "  %O" p

        let s = ValidSizes.smallest sizes
        printfn "Smallest: %d -> output %d" s (ValidSizes.outputOf sizes s).Value

        near
        |> Option.iter (fun (asked, n, out, crops) ->
            if asked = n then
                printfn "%d is valid -> output %d" n out
            else
                printfn "%d is not valid; nearest valid: %d -> output %d" asked n out

            for c in crops do
                printfn "  %s crops %d -> %d: %d px before, %d px after" c.Path c.Source.Height c.Target.Height c.Top c.Bottom)

        forOutput
        |> Option.iter (fun (want, found) ->
            match found with
            | Some(n, out) when out = want -> printfn "Output %d needs input %d (exact)" want n
            | Some(n, out) -> printfn "Output %d: no input gives it exactly; smallest input covering it: %d -> output %d" want n out
            | None -> printfn "Output %d: no input reaches it" want)

    0
