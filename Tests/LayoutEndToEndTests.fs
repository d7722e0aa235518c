/// Each of the homework's dataset layouts trains a few steps with `cropcat train` from its committed fixture
/// (files written by Pillow, ImageMagick and tifffile), and predicts with `cropcat predict`; the Kaggle layouts
/// also write their competition's run-length CSV, read back here with the test's own decoder.
module CropCat.Tests.LayoutEndToEndTests

open System
open System.IO
open Expecto
open CropCat.Imaging
open CropCat.Tests.TestUtil

let private fixtures () =
    committedDir "fixtures/layouts" "expected.json"

let private fixture (path: string) = Path.Combine(fixtures (), path)

let private decode = decodeRle

/// A submission's rows as (key, code): the key is everything before the first comma.
let private rows (csv: string) =
    File.ReadAllLines csv
    |> Array.skip 1
    |> Array.map (fun l ->
        let c = l.IndexOf ','
        l[.. c - 1].Trim('"'), l[c + 1 ..])
    |> List.ofArray

/// `cropcat train` on `data` for two steps of a tiny net; returns the checkpoint and what train printed.
let private train (data: string list) =
    let out = tempDir ()

    let code, stdout, err =
        CliTests.cropcat (
            [ "train" ]
            @ data
            @ [
                "--out"
                out
                "--widths"
                "4,8"
                "--max-steps"
                "2"
                "--threads"
                "1"
                "--val-fraction"
                "0.34"
            ]
        )

    Expect.equal code 0 $"train succeeds: {err}"
    Path.Combine(out, "model.safetensors"), stdout

/// `cropcat predict` of `input` with `model`; returns the output folder and the CSV (when a format is given).
let private predict (model: string) (input: string) (format: string option) =
    let out = tempDir ()
    let csv = Path.Combine(tempDir (), "submission.csv")

    let rle =
        match format with
        | Some f -> [ "--rle"; csv; "--rle-format"; f ]
        | None -> []

    let code, _, err =
        CliTests.cropcat (
            [
                "predict"
                "--model"
                model
                "--input"
                input
                "--output"
                out
                "--threads"
                "1"
            ]
            @ rle
        )

    Expect.equal code 0 $"predict succeeds: {err}"
    out, csv

/// A PNG mask's foreground and size.
let private maskOf (file: string) =
    let png = PngReader.Read file
    png.Height, png.Width, png.Samples |> Array.map (fun v -> v > 0us)

/// The submission's codes equal the written masks: one row per image (Carvana, TGS).
let private checkRows (csv: string) (out: string) (columnMajor: bool) (keyOf: string -> string) (images: string list) =
    let got = rows csv

    Expect.equal
        (got |> List.map fst |> List.sort)
        (images |> List.map keyOf |> List.sort)
        "one row per image, keyed as the competition keys them"

    for image in images do
        let h, w, mask =
            maskOf (Path.Combine(out, Path.GetFileNameWithoutExtension image + ".png"))

        let code = got |> List.find (fun (k, _) -> k = keyOf image) |> snd
        Expect.equal (decode code h w columnMajor) mask $"{image}: the CSV's code is the written mask"

let private files (folder: string) =
    Directory.GetFiles folder
    |> Array.map Path.GetFileName
    |> Array.sort
    |> List.ofArray

[<Tests>]
let layouts =
    testSequenced
    <| testList "Layouts.end-to-end" [
        test "Carvana: train/*.jpg + train_masks/*_mask.gif trains (RGB); predict writes img,rle_mask in row order" {
            init ()
            let images = fixture "carvana/train"

            let model, said =
                train [
                    "--images"
                    images
                    "--masks"
                    fixture "carvana/train_masks"
                    "--mask-pattern"
                    "{name}_mask.gif"
                    "--in-channels"
                    "3"
                ]

            Expect.stringContains said "pairs layout" "read as folder pairs"
            let out, csv = predict model images (Some "carvana")
            checkRows csv out false id (files images)
        }

        test "Carvana binary: a sigmoid net trains with --loss bce+dice --augment aug.json and predicts a submission" {
            init ()
            let images = fixture "carvana/train"
            let aug = Path.Combine(tempDir (), "aug.json")

            File.WriteAllText(
                aug,
                """{"compose":[{"flip":{"axis":"horizontal","p":0.5}},{"oneOf":[{"elastic":{"grid":3,"sigma":10}},{"affine":{"rotate":15,"scale":[0.9,1.1]}}],"p":0.5},{"gamma":{"range":[0.8,1.2],"p":0.3}}]}"""
            )

            let model, said =
                train [
                    "--images"
                    images
                    "--masks"
                    fixture "carvana/train_masks"
                    "--mask-pattern"
                    "{name}_mask.gif"
                    "--in-channels"
                    "3"
                    "--binary"
                    "--loss"
                    "bce+dice"
                    "--augment"
                    aug
                ]

            Expect.stringContains said "pairs layout" "trained on the pairs"
            let info = CropCat.IO.Checkpoint.ReadInfo model

            Expect.equal
                (CropCat.Training.Objective.Parse info.Extra["loss"])
                (CropCat.Training.Objective.Parse "bce+dice")
                "the loss is stored"

            Expect.stringContains info.Extra["augment"] "\"elastic\"" "the pipeline is stored"
            Expect.equal (info.Labels.ToJson()) """{"0":0,"*":1}""" "binary: every non-zero mask value is foreground"
            let net, _ = (CropCat.IO.Checkpoint.LoadNetwork model).ToTuple()
            Expect.equal net.Spec.OutChannels 1 "one sigmoid channel"
            net.Dispose()
            let out, csv = predict model images (Some "carvana")
            checkRows csv out false id (files images)

            for f in files out do
                let png = PngReader.Read(Path.Combine(out, f))
                Expect.isTrue (png.Samples |> Array.forall (fun v -> v = 0us || v = 255us)) $"{f}: a 0/255 mask"
        }

        test "a net trained on resized images predicts on images resized alike, with outputs at the original size" {
            init ()
            let images = fixture "carvana/train"

            let model, said =
                train [
                    "--images"
                    images
                    "--masks"
                    fixture "carvana/train_masks"
                    "--mask-pattern"
                    "{name}_mask.gif"
                    "--in-channels"
                    "3"
                    "--max-edge"
                    "40"
                ]

            Expect.stringContains said "pairs layout" "trained"
            let info = CropCat.IO.Checkpoint.ReadInfo model
            Expect.equal info.Extra["resize"] "max edge 40" "the checkpoint records the resizing"
            let out = tempDir ()

            let code, _, err =
                CliTests.cropcat [
                    "predict"
                    "--model"
                    model
                    "--input"
                    images
                    "--output"
                    out
                    "--threads"
                    "1"
                ]

            Expect.equal code 0 err
            Expect.stringContains err "resizing as the net was trained (max edge 40)" "predict says it resizes"

            for f in files out do
                let h, w, _ = maskOf (Path.Combine(out, f))
                Expect.equal (w, h) (64, 48) $"{f} has the original size"
        }

        test "TGS: train/images + 16-bit train/masks trains; predict writes id,rle_mask in column order" {
            init ()

            let model, said =
                train [ "--data"; fixture "tgs"; "--label-schema"; """{"0":0,"65535":1}""" ]

            Expect.stringContains said "folder layout" "read as images/ + masks/ under train/"
            let images = fixture "tgs/train/images"
            let out, csv = predict model images (Some "tgs")
            checkRows csv out true Path.GetFileNameWithoutExtension (files images)
        }

        test "TGS: run-length masks from train.csv train like the PNG masks" {
            init ()

            let model, said =
                train [ "--images"; fixture "tgs/train/images"; "--rle-csv"; fixture "tgs/train.csv" ]

            Expect.stringContains said "tgs-csv layout" "read as run-length masks"
            let out, _ = predict model (fixture "tgs/train/images") None
            Expect.equal (files out |> List.filter (fun f -> f.EndsWith ".png")).Length 4 "a mask per image"
        }

        test "DSB 2018: per-nucleus masks train (RGBA read as RGB); predict writes ImageId,EncodedPixels, one row per object" {
            init ()
            let model, said = train [ "--data"; fixture "dsb"; "--in-channels"; "3" ]
            Expect.stringContains said "dsb layout" "read as DSB sample folders"
            // Prediction reads a flat folder: the competition's test images, gathered from ID/images/ID.png.
            let input = tempDir ()

            for d in Directory.GetDirectories(fixture "dsb/stage1_train") do
                let id = Path.GetFileName d
                File.Copy(Path.Combine(d, "images", id + ".png"), Path.Combine(input, id + ".png"))

            let out, csv = predict model input (Some "dsb")
            let got = rows csv

            for image in files input do
                let id = Path.GetFileNameWithoutExtension image
                let h, w, mask = maskOf (Path.Combine(out, image))

                let objects =
                    got
                    |> List.filter (fun (k, _) -> k = id)
                    |> List.map (fun (_, c) -> decode c h w true)

                Expect.isNonEmpty objects $"{id} has a row (an empty one when nothing is found)"
                let union = Array.init (h * w) (fun i -> objects |> List.exists (fun o -> o[i]))
                Expect.equal union mask $"{id}: the objects' union is the written mask"

                for i in 0 .. objects.Length - 1 do
                    for j in i + 1 .. objects.Length - 1 do
                        Expect.isFalse (Array.exists2 (&&) objects[i] objects[j]) $"{id}: objects do not overlap"
        }

        test "ISBI 2012: the TIFF stacks train as slices; predict of a stack writes a mask stack" {
            init ()
            let model, said = train [ "--data"; fixture "isbi" ]
            Expect.stringContains said "isbi layout" "read as a stack pair"
            let input = tempDir ()
            File.Copy(fixture "isbi/train-volume.tif", Path.Combine(input, "test-volume.tif"))
            let out, _ = predict model input None
            let masks = ImageFile.Read(Path.Combine(out, "test-volume.tif"))
            let volume = ImageFile.Read(fixture "isbi/train-volume.tif")

            Expect.equal
                (masks.PageCount, masks.Width, masks.Height)
                (volume.PageCount, volume.Width, volume.Height)
                "one mask page per slice, same size"

            for k in 0 .. masks.PageCount - 1 do
                Expect.isTrue (masks.ToLabelValues k |> Array.forall (fun v -> v = 0 || v = 255)) $"page {k} holds mask values 0/255"
        }

        test "a manifest (CSV and JSON) trains; its paths may hold commas and spaces" {
            init ()

            for m in [ "manifest.csv"; "manifest.json" ] do
                let model, said = train [ "--data"; fixture ("manifest/" + m) ]
                Expect.stringContains said "manifest layout" $"{m} read as a manifest"
                let out, _ = predict model (fixture "manifest/scans") None
                Expect.equal (files out) [ "a.png"; "scan, 2.png" ] $"{m}: a mask per image"
        }
    ]
