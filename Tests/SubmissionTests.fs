/// Kaggle submissions (CropCat.Inference.Submission), resizing (CropCat.Numerics.Resize, InputResize) and
/// `cropcat predict --rle/--max-edge/--scale` end to end. Every CSV is read back with the decoder below,
/// written here from the competitions' description, not with RunLength.Decode.
module CropCat.Tests.SubmissionTests

open System
open System.IO
open System.Text.Json
open Expecto
open CropCat.Data
open CropCat.Imaging
open CropCat.Inference
open CropCat.IO
open CropCat.Numerics
open TorchSharp
open CropCat.Tests.TestUtil

let private decode = decodeRle

/// A submission's header and its rows as (key, code), split at the first comma (the test's keys hold none).
let private readCsv (path: string) =
    let text = File.ReadAllText path
    Expect.isTrue (text.EndsWith "\n") "the last row ends with a line break"
    let lines = text.TrimEnd('\n').Split '\n'

    lines[0],
    [
        for line in lines[1..] do
            let comma = line.IndexOf ','
            line[.. comma - 1], line[comma + 1 ..]
    ]

/// A row-major mask from rows of 0/1 digits.
let private maskOf (rows: string list) =
    rows |> Seq.concat |> Seq.map (fun c -> c = '1') |> Array.ofSeq

let private a = SubmissionMask("in/a.jpg", 3, 4, maskOf [ "0110"; "1111"; "0001" ])
let private b = SubmissionMask("in/b.jpg", 2, 5, maskOf [ "00000"; "00000" ])
let private c = SubmissionMask("in/c.jpg", 4, 2, maskOf [ "11"; "10"; "00"; "01" ])

/// Files in `folder` other than `keep` (a failed write must leave no temporary file behind).
let private othersIn (folder: string) (keep: string) =
    Directory.GetFiles folder |> Array.filter (fun f -> Path.GetFileName f <> keep)

[<Tests>]
let submissions =
    testList "Submission" [
        test "Carvana: img,rle_mask, the name with its extension, row-major, one row per image in input order" {
            let path = Path.Combine(tempDir (), "submission.csv")
            let rows = Submission.Write(path, SubmissionFormat.Carvana, [ a; b; c ])
            Expect.equal rows 3 "rows"
            let header, body = readCsv path
            Expect.equal header "img,rle_mask" "header"
            Expect.equal (List.map fst body) [ "a.jpg"; "b.jpg"; "c.jpg" ] "keys in input order"

            for (_, rle), m in List.zip body [ a; b; c ] do
                Expect.equal (decode rle m.Height m.Width false) m.Foreground $"{m.File} decodes row-major"

            Expect.equal (snd body[0]) "2 2 5 4 12 1" "a.jpg by hand: pixels 2-3, 5-8, 12"
            Expect.equal (snd body[1]) "" "an empty mask is an empty code"
        }

        test "TGS: id,rle_mask, the name without extension, column-major" {
            let path = Path.Combine(tempDir (), "submission.csv")
            Submission.Write(path, SubmissionFormat.Tgs, [ a; b; c ]) |> ignore
            let header, body = readCsv path
            Expect.equal header "id,rle_mask" "header"
            Expect.equal (List.map fst body) [ "a"; "b"; "c" ] "keys without extension"

            for (_, rle), m in List.zip body [ a; b; c ] do
                Expect.equal (decode rle m.Height m.Width true) m.Foreground $"{m.File} decodes column-major"

            // a.jpg's columns top to bottom: 0 1 0 | 1 1 0 | 1 1 0 | 0 1 1 -> pixels 2, 4-5, 7-8, 11-12.
            Expect.equal (snd body[0]) "2 1 4 2 7 2 11 2" "a.jpg by hand"
        }

        test "DSB 2018: ImageId,EncodedPixels, one column-major row per 4-connected object, one empty row for an image without" {
            // Three objects: the L at the top left, the pixel at (1, 2) that touches it only diagonally, the bar below.
            let nuclei =
                SubmissionMask("in/n1.png", 4, 5, maskOf [ "11000"; "10100"; "00000"; "01111" ])

            let path = Path.Combine(tempDir (), "submission.csv")
            let rows = Submission.Write(path, SubmissionFormat.Dsb, [ nuclei; b ])
            Expect.equal rows 4 "three objects and the empty image's row"
            let header, body = readCsv path
            Expect.equal header "ImageId,EncodedPixels" "header"
            Expect.equal (List.map fst body) [ "n1"; "n1"; "n1"; "b" ] "keys"
            Expect.equal (snd body[3]) "" "the empty image's row"

            let objects = body[0..2] |> List.map (fun (_, rle) -> decode rle 4 5 true)

            let expected = [
                maskOf [ "11000"; "10000"; "00000"; "00000" ]
                maskOf [ "00000"; "00100"; "00000"; "00000" ]
                maskOf [ "00000"; "00000"; "00000"; "01111" ]
            ]

            Expect.equal objects expected "each object alone, in raster order of its first pixel"
        }

        test "a failing write leaves an existing file intact and no temporary file: a mask of the wrong size, a crash mid-way" {
            let folder = tempDir ()
            let path = Path.Combine(folder, "submission.csv")
            File.WriteAllText(path, "the previous submission\n")
            let wrong = SubmissionMask("in/bad.jpg", 3, 3, Array.zeroCreate 8)

            let m =
                messageOf<ArgumentException> (fun () -> Submission.Write(path, SubmissionFormat.Carvana, [ a; wrong ]) |> ignore)

            Expect.stringContains m "in/bad.jpg: a 3x3 mask needs 9 values, got 8" "names the file and the sizes"
            Expect.equal (File.ReadAllText path) "the previous submission\n" "the old file is untouched"
            Expect.isEmpty (othersIn folder "submission.csv") "no temporary file left"

            let crashing =
                seq {
                    yield a
                    yield b
                    failwith "prediction crashed"
                }

            Expect.throws (fun () -> Submission.Write(path, SubmissionFormat.Tgs, crashing) |> ignore) "the crash propagates"
            Expect.equal (File.ReadAllText path) "the previous submission\n" "still untouched"
            Expect.isEmpty (othersIn folder "submission.csv") "still no temporary file"
        }

        test "a key with a comma or quote is quoted as RFC 4180 says" {
            let path = Path.Combine(tempDir (), "s.csv")
            let odd = SubmissionMask("in/x,\"y\".png", 1, 2, [| true; false |])
            Submission.Write(path, SubmissionFormat.Carvana, [ odd ]) |> ignore
            Expect.equal (File.ReadAllText path) "img,rle_mask\n\"x,\"\"y\"\".png\",1 1\n" "quoted key"
        }

        test "format names and orders" {
            Expect.equal (Submission.Parse "Carvana" |> Option.ofNullable) (Some SubmissionFormat.Carvana) "any case"
            Expect.equal (Submission.Parse "kaggle" |> Option.ofNullable) None "unknown"
            Expect.equal (Submission.Order SubmissionFormat.Carvana) PixelOrder.RowMajor "Carvana"
            Expect.equal (Submission.Order SubmissionFormat.Tgs) PixelOrder.ColumnMajor "TGS"
            Expect.equal (Submission.Order SubmissionFormat.Dsb) PixelOrder.ColumnMajor "DSB"
        }
    ]

/// Golden cases of Tests/fixtures/resize/expected.json (PyTorch's F.interpolate, see make_resize.py there).
let private golden () =
    let dir = committedDir "fixtures/resize" "expected.json"
    JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")))

let private ints (e: JsonElement) name = e.GetProperty(name: string).GetInt32()

[<Tests>]
let resizing =
    testList "Resize" [
        test "bilinear equals PyTorch's F.interpolate(mode='bilinear', align_corners=False)" {
            use doc = golden ()
            let cases = doc.RootElement.GetProperty("bilinear").EnumerateArray() |> List.ofSeq
            Expect.isGreaterThanOrEqual cases.Length 6 "cases"

            for case in cases do
                let x = [| for v in case.GetProperty("input").EnumerateArray() -> v.GetSingle() |]
                let expected = [| for v in case.GetProperty("expected").EnumerateArray() -> v.GetSingle() |]
                let c, h, w = ints case "channels", ints case "height", ints case "width"
                let nh, nw = ints case "newHeight", ints case "newWidth"
                let y = Resize.Bilinear(ReadOnlySpan<float32>(x), c, h, w, nh, nw)
                Expect.equal y.Length expected.Length "size"

                for i in 0 .. y.Length - 1 do
                    Expect.floatClose
                        { absolute = 1e-6; relative = 1e-5 }
                        (float y[i])
                        (float expected[i])
                        $"{c}x{h}x{w} -> {nh}x{nw} at {i}"
        }

        test "nearest equals PyTorch's F.interpolate(mode='nearest-exact'), cell-border centres included" {
            use doc = golden ()

            for case in doc.RootElement.GetProperty("nearest").EnumerateArray() do
                let x = [| for v in case.GetProperty("input").EnumerateArray() -> v.GetInt32() |]
                let expected = [| for v in case.GetProperty("expected").EnumerateArray() -> v.GetInt32() |]

                let h, w, nh, nw =
                    ints case "height", ints case "width", ints case "newHeight", ints case "newWidth"

                Expect.equal (Resize.Nearest(ReadOnlySpan<int>(x), h, w, nh, nw)) expected $"{h}x{w} -> {nh}x{nw}"
        }

        testProperty "bilinear of a constant is that constant, whatever the sizes"
        <| fun
               (h0: FsCheck.PositiveInt)
               (w0: FsCheck.PositiveInt)
               (nh0: FsCheck.PositiveInt)
               (nw0: FsCheck.PositiveInt)
               (v: FsCheck.NormalFloat) ->
            let h, w, nh, nw =
                h0.Get % 30 + 1, w0.Get % 30 + 1, nh0.Get % 30 + 1, nw0.Get % 30 + 1

            let value = float32 v.Get

            let y =
                Resize.Bilinear(ReadOnlySpan<float32>(Array.create (2 * h * w) value), 2, h, w, nh, nw)

            y.Length = 2 * nh * nw && Array.forall ((=) value) y

        testProperty "nearest keeps the label set: no value appears that the map did not hold"
        <| fun (h0: FsCheck.PositiveInt) (w0: FsCheck.PositiveInt) (nh0: FsCheck.PositiveInt) (nw0: FsCheck.PositiveInt) (seed: int) ->
            let h, w, nh, nw =
                h0.Get % 30 + 1, w0.Get % 30 + 1, nh0.Get % 30 + 1, nw0.Get % 30 + 1

            let rng = Random seed
            let labels = Array.init (h * w) (fun _ -> [| 0; 1; 255; 7000 |][rng.Next 4])
            let y = Resize.Nearest(ReadOnlySpan<int>(labels), h, w, nh, nw)
            let held = Set.ofArray labels

            y.Length = nh * nw
            && Array.forall held.Contains y
            // Growing by a whole factor loses no label.
            && (Set.ofArray (Resize.Nearest(ReadOnlySpan<int>(labels), h, w, 2 * h, 3 * w)) = held)

        testProperty "size round trip: resized and back is the original size; a whole-factor label round trip is exact"
        <| fun (h0: FsCheck.PositiveInt) (w0: FsCheck.PositiveInt) (edge0: FsCheck.PositiveInt) (seed: int) ->
            let h, w, edge = h0.Get % 300 + 1, w0.Get % 300 + 1, edge0.Get % 200 + 1
            let struct (ph, pw) = InputResize.ToMaxEdge(edge).SizeFor(h, w)

            let back =
                Resize.Bilinear(ReadOnlySpan<float32>(Array.zeroCreate (ph * pw)), 1, ph, pw, h, w)

            let rng = Random seed
            let small = Array.init 12 (fun _ -> rng.Next 3)
            let up = Resize.Nearest(ReadOnlySpan<int>(small), 3, 4, 6, 12)

            back.Length = h * w
            && max ph pw = min edge (max h w)
            && (max h w <= edge) = ((ph, pw) = (h, w))
            && Resize.Nearest(ReadOnlySpan<int>(up), 6, 12, 3, 4) = small

        test "--scale sizes round, keep at least one pixel, and are refused outside (0, 16]" {
            Expect.equal (InputResize.ByFactor(0.5).SizeFor(101, 101)) struct (51, 51) "101 * 0.5 rounds up"
            Expect.equal (InputResize.ByFactor(0.001).SizeFor(101, 30)) struct (1, 1) "at least one pixel"
            Expect.equal (InputResize.ToMaxEdge(512).SizeFor(1280, 1918)) struct (342, 512) "Carvana's 1918 x 1280 to 512"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> InputResize.ByFactor 0.0 |> ignore) "zero"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> InputResize.ByFactor 17.0 |> ignore) "too large"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> InputResize.ToMaxEdge 0 |> ignore) "no edge"
        }
    ]

/// A dataset folder of `n` synthetic 100 x 100 cell images with 0/255 masks.
let private dataset n = syntheticFolder 900 n 100

/// A checkpoint of a tiny net (widths 4, 8) trained for one step by `cropcat train`, and its data folder.
let private checkpoint =
    lazy
        (let data = dataset 2
         CliTests.trainTiny data, data)

/// An input folder with the dataset's images and a corrupt PNG.
let private inputs () =
    let _, data = checkpoint.Force()
    let folder = tempDir ()

    for f in Directory.GetFiles(Path.Combine(data, "images")) do
        File.Copy(f, Path.Combine(folder, Path.GetFileName f |> string))

    File.WriteAllText(Path.Combine(folder, "broken.png"), "not a png")
    folder

let private predict (input: string) (extra: string list) =
    let model, _ = checkpoint.Force()
    let out = tempDir ()
    let csv = Path.Combine(tempDir (), "submission.csv")

    let code, stdout, err =
        CliTests.cropcat (
            [
                "predict"
                "--model"
                model
                "--input"
                input
                "--output"
                out
                "--tile"
                "60"
                "--threads"
                "1"
                "--rle"
                csv
            ]
            @ extra
        )

    code, stdout, err, out, csv

/// The PNG mask's foreground (value above 0) and its size.
let private written (out: string) (name: string) =
    let png = PngReader.Read(Path.Combine(out, name))
    png.Height, png.Width, png.Samples |> Array.map (fun v -> v > 0us)

[<Tests>]
let predictCli =
    testSequenced
    <| testList "Submission.cli" [
        test "predict --rle carvana/tgs: one row per good image, each decoding to exactly its PNG mask; the corrupt one is skipped" {
            init ()
            let input = inputs ()

            for format, columnMajor, key in
                [
                    "carvana", false, (fun (n: string) -> n)
                    "tgs", true, (fun (n: string) -> Path.GetFileNameWithoutExtension n)
                ] do
                let code, stdout, err, out, csv = predict input [ "--rle-format"; format ]
                Expect.equal code 5 $"{format}: exit 5 for the skipped input ({err})"
                Expect.stringContains err "broken.png" "the corrupt file is named"
                Expect.stringContains stdout "2 row(s)" "the rows are reported"
                let header, rows = readCsv csv
                Expect.equal header (if format = "tgs" then "id,rle_mask" else "img,rle_mask") "header"
                Expect.equal (List.map fst rows) [ key "0000.png"; key "0001.png" ] "one row per good image, in input order"

                for name, (_, rle) in List.zip [ "0000.png"; "0001.png" ] rows do
                    let h, w, mask = written out name
                    Expect.equal (h, w) (100, 100) "the mask has the input's size"
                    Expect.equal (decode rle h w columnMajor) mask $"{format} {name}: the code is the PNG mask"
        }

        test "predict --rle dsb: one row per 4-connected object of each PNG mask (or one empty row)" {
            init ()
            let input = inputs ()
            let code, _, err, out, csv = predict input [ "--rle-format"; "dsb" ]
            Expect.equal code 5 $"exit code ({err})"
            let _, rows = readCsv csv

            for name in [ "0000.png"; "0001.png" ] do
                let h, w, mask = written out name

                let mine =
                    rows |> List.filter (fun (k, _) -> k = Path.GetFileNameWithoutExtension name)

                let objects = Components.Label(mask, h, w) |> Array.max
                Expect.equal mine.Length (max 1 objects) $"{name}: rows"
                let union = Array.zeroCreate (h * w)

                for _, rle in mine do
                    decode rle h w true
                    |> Array.iteri (fun i v ->
                        if v then
                            union[i] <- true)

                Expect.equal union mask $"{name}: the objects' union is the PNG mask"
        }

        test
            "predict --max-edge/--scale: masks, probabilities and rows keep the input's size; probabilities are the small prediction resized back" {
            init ()
            use _ = torch.NewDisposeScope()
            let input = inputs ()

            for option in [ [ "--max-edge"; "50" ]; [ "--scale"; "0.5" ] ] do
                let code, _, err, out, csv =
                    predict input ([ "--rle-format"; "carvana"; "--probabilities" ] @ option)

                Expect.equal code 5 $"{option}: exit code ({err})"
                let _, rows = readCsv csv

                for name, (_, rle) in List.zip [ "0000.png"; "0001.png" ] rows do
                    let h, w, mask = written out name
                    Expect.equal (h, w) (100, 100) $"{option} {name}: mask at the input's size"
                    Expect.equal (decode rle h w false) mask $"{option} {name}: the code is the mask"

            // The composition by hand: predict the 50 x 50 image as a whole, resize its probabilities back.
            let model, _ = checkpoint.Force()
            let net, _ = (Checkpoint.LoadNetwork model).ToTuple()
            use net = net
            let out = tempDir ()
            let file = Path.Combine(input, "0000.png")

            FolderPredictor(
                net,
                LabelSchema.Binary255,
                FolderPredictorOptions(Tiles = TileOptions(TileSize = 60), Probabilities = true, Resize = InputResize.ByFactor 0.5)
            )
                .PredictFile(file, out)
            |> ignore

            use x = FolderPredictor.InputTensor(ImageFile.Read file, 1, file, 50, 50)
            use whole = WholeImage.Predict(net, x)
            let small = whole.contiguous().data<float32>().ToArray()
            let back = Resize.Bilinear(ReadOnlySpan<float32>(small), 2, 50, 50, 100, 100)
            let png = PngReader.Read(Path.Combine(out, "probabilities", "0000.png"))
            Expect.equal (png.Width, png.Height) (100, 100) "probability map at the input's size"

            for i in 0 .. 100 * 100 - 1 do
                Expect.isLessThanOrEqual (abs (float png.Samples[i] - float back[10000 + i] * 65535.0)) 1.0 $"foreground probability at {i}"
        }

        test "an image that --scale would blow up past the pixel budget is skipped by name, the others still go to the submission" {
            init ()
            use _ = torch.NewDisposeScope()
            let model, _ = checkpoint.Force()
            let net, info = (Checkpoint.LoadNetwork model).ToTuple()
            use net = net
            let input = tempDir ()
            let _, data = checkpoint.Force()
            File.Copy(Path.Combine(data, "images", "0000.png"), Path.Combine(input, "big.png"))
            PngEncoder.WriteGray16(Path.Combine(input, "small.png"), Array.init (40 * 40) (fun i -> uint16 (i * 37 % 65536)), 40, 40)
            let csv = Path.Combine(tempDir (), "s.csv")

            let options =
                FolderPredictorOptions(
                    Tiles = TileOptions(TileSize = 60),
                    Resize = InputResize.ByFactor 2.0,
                    Limits = ImageLimits(MaxPixels = 150L * 150L),
                    Submission = csv,
                    SubmissionFormat = SubmissionFormat.Tgs
                )

            let report = FolderPredictor(net, info.Labels, options).Run(input, tempDir ())
            Expect.equal (report.Skipped |> Seq.map _.File |> List.ofSeq) [ Path.Combine(input, "big.png") ] "the big one is skipped"

            Expect.stringContains
                report.Skipped[0].Reason
                "big.png: resizing 100x100 by scale 2 gives 200x200, over the pixel budget of 22500 pixels"
                "why"

            Expect.equal (report.Submission, report.SubmissionRows) (csv, 1) "the report names the CSV and its rows"
            Expect.equal (readCsv csv |> snd |> List.map fst) [ "small" ] "the small one is in the submission"
        }

        test "predict refuses --max-edge with --scale, --rle without --rle-format and an unknown format, exit 2" {
            init ()
            let input = inputs ()

            for extra, why in
                [
                    [ "--rle-format"; "tgs"; "--max-edge"; "50"; "--scale"; "0.5" ], "exclude each other"
                    [], "--rle needs --rle-format"
                    [ "--rle-format"; "kaggle" ], "'kaggle' is not carvana, tgs or dsb"
                    [ "--rle-format"; "tgs"; "--scale"; "0" ], "--scale 0: the scale must be above 0"
                ] do
                let code, _, err, _, csv = predict input extra
                Expect.equal code 2 $"{extra}: exit 2"
                Expect.stringContains err why $"{extra}: says why"
                Expect.isFalse (File.Exists csv) "no submission"
        }

        test "predict --help names each format's pixel order" {
            let code, help, _ = CliTests.cropcat [ "predict"; "--help" ]
            Expect.equal code 0 "exit code"
            // Argu wraps the text; one space between words makes it searchable.
            let out =
                String.Join(" ", help.Split([| ' '; '\n' |], StringSplitOptions.RemoveEmptyEntries))

            Expect.stringContains out "row-major runs" "Carvana's order"
            Expect.stringContains out "column-major: top to bottom, then left to right" "TGS's order"
            Expect.stringContains out "--max-edge" "resizing"
        }
    ]
