/// `cropcat synth`: writes a dataset folder of synthetic touching cells, to try `cropcat train` on.
module CropCat.Cli.Synth

open Argu
open CropCat.Data

/// Arguments of `cropcat synth`.
type Args =
    | [<Mandatory>] Out of dir: string
    | Count of int
    | Size of pixels: int
    | Seed of int
    | Rgb
    | Borders

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "dataset folder to write: OUT/images/NNNN.png (16-bit gray) and OUT/masks/NNNN.png (8-bit, cells 255, background 0)"
            | Count _ -> "number of image/mask pairs. Default 8"
            | Size _ -> "image edge in pixels. Default 188"
            | Seed _ -> "seed; the same seed writes the same images. Default 0"
            | Rgb -> "write 16-bit RGB images (stained cells: each channel a different tint of the same cells) instead of gray"
            | Borders ->
                "three-class masks: background 0, cell border 128 (cell pixels next to the background or another cell), cell interior 255, as DSB 2018 solutions train touching nuclei; train with --label-schema '{\"0\":0,\"128\":1,\"255\":2}'"

/// Class 1 (border) for cell pixels with a 4-neighbour in the background or in another cell, class 2 for the rest of
/// each cell: the border class separates touching cells in a semantic mask.
let withBorders (s: Sample) =
    let h, w = s.Height, s.Width

    let inst =
        match s.Instances with
        | null -> failwith $"sample {s.Name} has no instance map"
        | i -> i

    let at y x =
        if y < 0 || y >= h || x < 0 || x >= w then
            0
        else
            inst[y * w + x]

    let classes =
        Array.init (h * w) (fun i ->
            let y, x = i / w, i % w
            let id = inst[i]

            if id = 0 then
                0
            elif
                [ at (y - 1) x; at (y + 1) x; at y (x - 1); at y (x + 1) ]
                |> List.exists (fun n -> n <> id)
            then
                1
            else
                2)

    Sample(s.Name, h, w, s.Image, classes, s.Instances, channels = s.Channels)

/// Runs `cropcat synth`; returns the exit code.
let run (args: ParseResults<Args>) =
    let count = args.GetResult(Count, 8)
    let size = args.GetResult(Size, 188)
    let out = args.GetResult Out

    if count < 1 || size < 8 then
        raise (Summary.CliFailure($"cropcat synth: need --count >= 1 and --size >= 8, got {count} and {size}", 2))

    let options = SyntheticCellsOptions(Height = size, Width = size)

    let samples =
        Seq.init count (fun i ->
            let s = SyntheticCells.Generate(args.GetResult(Seed, 0) * 100000 + i, options)
            if args.Contains Rgb then SyntheticCells.Stained s else s)

    let samples, schema =
        if args.Contains Borders then
            Seq.map withBorders samples, LabelSchema.FromJson "{\"0\":0,\"128\":1,\"255\":2}"
        else
            samples, LabelSchema.Binary255

    FolderDataset.Save(out, samples, schema)
    let kind = if args.Contains Rgb then "RGB" else "gray"
    printfn "wrote %d synthetic %dx%d %s image/mask pairs to %s/images and %s/masks" count size size kind out out
    0
