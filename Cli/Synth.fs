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

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Out _ -> "dataset folder to write: OUT/images/NNNN.png (16-bit gray) and OUT/masks/NNNN.png (8-bit, cells 255, background 0)"
            | Count _ -> "number of image/mask pairs. Default 8"
            | Size _ -> "image edge in pixels. Default 188"
            | Seed _ -> "seed; the same seed writes the same images. Default 0"
            | Rgb -> "write 16-bit RGB images (stained cells: each channel a different tint of the same cells) instead of gray"

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

    FolderDataset.Save(out, samples, LabelSchema.Binary255)
    let kind = if args.Contains Rgb then "RGB" else "gray"
    printfn "wrote %d synthetic %dx%d %s image/mask pairs to %s/images and %s/masks" count size size kind out out
    0
