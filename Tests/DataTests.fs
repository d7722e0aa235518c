/// PNG decoding, folder datasets, label schemas and synthetic cells (augmentation: AugmentTests).
module CropCat.Tests.DataTests

open System
open System.IO
open Expecto
open CropCat.Data
open CropCat.Imaging
open CropCat.Tests.TestUtil


/// CRC-32 as PNG uses it, so tests can build deliberately odd but well-formed files.
let private crc (bytes: byte[]) =
    let mutable c = 0xFFFFFFFFu

    for b in bytes do
        c <- c ^^^ uint32 b

        for _ in 0..7 do
            c <-
                if c &&& 1u <> 0u then
                    0xEDB88320u ^^^ (c >>> 1)
                else
                    c >>> 1

    c ^^^ 0xFFFFFFFFu

let private writeBE (b: byte[]) o (v: uint32) =
    b[o] <- byte (v >>> 24)
    b[o + 1] <- byte (v >>> 16)
    b[o + 2] <- byte (v >>> 8)
    b[o + 3] <- byte v

/// (channels, bit depth, palette?) of every format the decoder reads.
let private formats = [
    1, 8, false
    1, 16, false
    2, 8, false
    2, 16, false
    3, 8, false
    3, 16, false
    4, 8, false
    4, 16, false
    1, 8, true
]

let private randomImage (rng: Random) (w, h) (channels, depth, palette) =
    let max = if palette then 3 else (1 <<< depth) - 1
    PngImage(w, h, channels, depth, Array.init (w * h * channels) (fun _ -> uint16 (rng.Next(max + 1))))

[<Tests>]
let png =
    testList "Data.Png" [
        test "every format and every filter round-trips through the encoder and the decoder" {
            // All 9 formats x 6 filter choices (0..4 = None, Sub, Up, Average, Paeth on every row; -1 = all
            // five in turn), each on five sizes, 1 px rows and columns included.
            let mutable cases = 0

            for (channels, depth, palette) as f in formats do
                for filter in -1 .. 4 do
                    for (w, h) in [ 1, 1; 1, 7; 9, 1; 13, 9; 6, 5 ] do
                        let rng = Random(cases)
                        let img = randomImage rng (w, h) f

                        let pal =
                            if palette then
                                Some [| 10uy; 20uy; 30uy; 40uy; 50uy; 60uy; 70uy; 80uy; 90uy; 0uy; 0uy; 255uy |]
                            else
                                None

                        let bytes = PngEncoder.Encode(img, filter, Option.toObj pal)
                        let back = PngReader.Decode(bytes, "mem.png")
                        let at = $"{channels} ch, {depth} bit, palette {palette}, filter {filter}, {w}x{h}"

                        match pal with
                        | None ->
                            Expect.equal (back.Channels, back.BitDepth) (channels, depth) at
                            Expect.equal back.Samples img.Samples at
                        | Some p ->
                            Expect.equal back.Channels 3 at

                            let expected =
                                img.Samples
                                |> Array.collect (fun k -> [| for c in 0..2 -> uint16 p[3 * int k + c] |])

                            Expect.equal back.Samples expected at

                        cases <- cases + 1

            Expect.equal cases (9 * 6 * 5) "every combination ran"
        }

        test "16-bit gray pixels keep all 16 bits and gray intensities map to [0, 1]" {
            let d = tempDir ()
            let path = Path.Combine(d, "g16.png")
            PngEncoder.WriteGray16(path, [| 0us; 1us; 65534us; 65535us |], 2, 2)
            let img = PngReader.Read path
            Expect.equal img.Samples [| 0us; 1us; 65534us; 65535us |] "samples"
            Expect.floatClose Accuracy.high (float ((PlanarImage.FromPng(img, path)).ToGray()[3])) 1.0 "max maps to 1"
        }

        test "an interlaced PNG is refused with a message naming the file" {
            let bytes = PngEncoder.Encode(PngImage(2, 2, 1, 8, [| 1us; 2us; 3us; 4us |]))
            bytes[28] <- 1uy // IHDR interlace method
            writeBE bytes 29 (crc bytes[12..28])

            let msg =
                (try
                    PngReader.Decode(bytes, "cells-001.png") |> ignore
                    ""
                 with :? PngException as e ->
                     e.Message)

            Expect.stringContains msg "cells-001.png" "names the file"
            Expect.stringContains msg "nterlaced" "says interlaced"
        }

        test "a corrupt chunk and a truncated file each give one clear error" {
            let good = PngEncoder.Encode(PngImage(3, 3, 1, 8, Array.init 9 uint16))
            let bad = Array.copy good
            bad[20] <- bad[20] ^^^ 0xFFuy

            let msg (b: byte[]) =
                try
                    PngReader.Decode(b, "x.png") |> ignore
                    ""
                with :? PngException as e ->
                    e.Message

            Expect.stringContains (msg bad) "CRC" "corrupt"
            Expect.stringContains (msg good[.. good.Length - 20]) "truncated" "truncated"
            Expect.stringContains (msg [| 1uy; 2uy; 3uy |]) "not a PNG" "garbage"
        }
    ]

[<Tests>]
let dataset =
    let writePair dir name (img: PngImage) (mask: PngImage) =
        PngEncoder.Write(Path.Combine(dir, "images", name), img)
        PngEncoder.Write(Path.Combine(dir, "masks", name), mask)

    let gray8 w h (v: int) =
        PngImage(w, h, 1, 8, Array.create (w * h) (uint16 v))

    let message (f: unit -> 'a) =
        try
            f () |> ignore
            failtest "expected an error"
        with
        | :? DatasetException as e -> e.Message
        | :? LabelSchemaException as e -> e.Message

    testList "Data.Folder" [
        test "16-bit images with RGB masks load, and 255 maps to class 1" {
            let d = tempDir ()
            PngEncoder.WriteGray16(Path.Combine(d, "images", "a.png"), [| 0us; 65535us; 0us; 65535us |], 2, 2)

            PngEncoder.Write(
                Path.Combine(d, "masks", "a.png"),
                PngImage(2, 2, 3, 8, [| 0us; 0us; 0us; 255us; 255us; 255us; 0us; 0us; 0us; 255us; 255us; 255us |])
            )

            let schema = LabelSchema(readOnlyDict [ 0, 0; 0xFFFFFF, 1 ])
            let s = FolderDataset.Load(d, schema) |> Seq.exactlyOne
            Expect.equal s.Classes [| 0; 1; 0; 1 |] "classes"
            Expect.equal s.Image [| 0f; 1f; 0f; 1f |] "intensities"
            Expect.equal s.Instances [| 0; 1; 0; 1 |] "one 4-connected cell (the right column)"
        }

        test "an unknown mask value names the file, the value and the schema" {
            let d = tempDir ()
            writePair d "b.png" (gray8 2 2 9) (PngImage(2, 2, 1, 8, [| 0us; 255us; 1us; 0us |]))
            let msg = message (fun () -> FolderDataset.Load(d, LabelSchema.Binary255))
            Expect.stringContains msg "b.png" "file"
            Expect.stringContains msg "value 1" "value"
            Expect.stringContains msg "{0->0, 255->1}" "schema"
        }

        test "a missing mask, a size mismatch and an unreadable file are each named" {
            let d = tempDir ()
            writePair d "a.png" (gray8 2 2 0) (gray8 2 2 0)
            PngEncoder.Write(Path.Combine(d, "images", "lonely.png"), gray8 2 2 0)
            Expect.stringContains (message (fun () -> FolderDataset.Load(d, LabelSchema.Binary255))) "lonely.png" "missing pair"
            File.Delete(Path.Combine(d, "images", "lonely.png"))
            writePair d "c.png" (gray8 3 2 0) (gray8 2 2 0)
            let m = message (fun () -> FolderDataset.Load(d, LabelSchema.Binary255))
            Expect.stringContains m "c.png" "size mismatch names the file"
            Expect.stringContains m "3x2" "and the sizes"
            File.Delete(Path.Combine(d, "images", "c.png"))
            File.Delete(Path.Combine(d, "masks", "c.png"))
            File.WriteAllText(Path.Combine(d, "images", "junk.png"), "not a png")
            PngEncoder.Write(Path.Combine(d, "masks", "junk.png"), gray8 2 2 0)
            Expect.stringContains (message (fun () -> FolderDataset.Load(d, LabelSchema.Binary255))) "junk.png" "unreadable"
        }

        test "a saved synthetic dataset loads back with the same classes" {
            let d = tempDir ()
            let s = SyntheticCells.Generate(3, SyntheticCellsOptions(Height = 40, Width = 48))
            FolderDataset.Save(d, [ s ], LabelSchema.Binary255)
            let back = FolderDataset.Load(d, LabelSchema.Binary255) |> Seq.exactlyOne
            Expect.equal back.Classes s.Classes "classes"
            Expect.equal (back.Height, back.Width) (40, 48) "size"
        }

        test "label schemas round-trip through JSON and refuse gaps in the class indices" {
            let s = LabelSchema(readOnlyDict [ 0, 0; 128, 1; 255, 2 ])
            Expect.equal (LabelSchema.FromJson(s.ToJson()).ToString()) (s.ToString()) "round trip"
            Expect.equal s.ClassCount 3 "classes"
            Expect.throwsT<ArgumentException> (fun () -> LabelSchema(readOnlyDict [ 0, 0; 255, 2 ]) |> ignore) "gap"
        }
    ]

[<Tests>]
let synthetic =
    let small = SyntheticCellsOptions(Height = 64, Width = 64)

    testList "Data.SyntheticCells" [
        test "the same seed gives the same sample, another seed another" {
            let a, b, c =
                SyntheticCells.Generate(5, small), SyntheticCells.Generate(5, small), SyntheticCells.Generate(6, small)

            Expect.equal a.Image b.Image "same image"
            Expect.equal a.Instances b.Instances "same instances"
            Expect.notEqual a.Image c.Image "other seed"
        }

        test "instances and the 2-class mask agree, and touching cells are separated by background" {
            let mutable touching = 0

            for seed in 0..4 do
                let s = SyntheticCells.Generate(seed, small)
                Expect.equal (s.Instances |> Array.map (fun i -> if i > 0 then 1 else 0)) s.Classes "class = instance > 0"
                // A border pixel: background with two different cells within 2 px on opposite sides.
                for y in 2..61 do
                    for x in 2..61 do
                        let at dx dy = s.Instances[(y + dy) * 64 + x + dx]

                        if s.Classes[y * 64 + x] = 0 then
                            for (ax, ay, bx, by) in [ -1, 0, 1, 0; -2, 0, 1, 0; -1, 0, 2, 0; 0, -1, 0, 1; 0, -2, 0, 1; 0, -1, 0, 2 ] do
                                let a, b = at ax ay, at bx by

                                if a > 0 && b > 0 && a <> b then
                                    touching <- touching + 1

            Expect.isGreaterThan touching 20 "cells touch across thin background lines"
        }
    ]
