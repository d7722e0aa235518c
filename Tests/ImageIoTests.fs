/// Image I/O through ImageFile: every committed fixture (Tests/fixtures/images, written by Pillow, tifffile,
/// ImageMagick and Python's struct, see make_fixtures.py) decodes to the values in expected.json; magic bytes
/// win over extensions; the pixel budget refuses before allocating; damaged files give one message naming the
/// file; the folder readers take JPEG/GIF/TIFF and skip bad files by name.
module CropCat.Tests.ImageIoTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open CropCat.Data
open CropCat.Imaging
open CropCat.Inference
open CropCat.Nets
open TorchSharp
open CropCat.Tests.TestUtil

/// The fixture folder, found from the test program's folder or the working directory.
let fixtureDir () =
    committedDir "fixtures/images" "expected.json"

let private fixture name = Path.Combine(fixtureDir (), name)

/// What make_fixtures.py recorded for one fixture.
type private Expected = {
    Width: int
    Height: int
    Channels: int
    Pages: int
    BitDepth: int
    IsFloat: bool
    Values: float32[]
    Tolerance: float32
}

let private expected =
    lazy
        (use doc = JsonDocument.Parse(File.ReadAllText(fixture "expected.json"))

         [
             for p in doc.RootElement.EnumerateObject() do
                 let e = p.Value
                 let mutable values = Unchecked.defaultof<JsonElement>

                 if e.TryGetProperty("values", &values) then
                     let mutable tol = Unchecked.defaultof<JsonElement>

                     p.Name,
                     {
                         Width = e.GetProperty("width").GetInt32()
                         Height = e.GetProperty("height").GetInt32()
                         Channels = e.GetProperty("channels").GetInt32()
                         Pages = e.GetProperty("pages").GetInt32()
                         BitDepth = e.GetProperty("bitDepth").GetInt32()
                         IsFloat = e.GetProperty("sampleType").GetString() = "float"
                         Values = [| for v in values.EnumerateArray() -> float32 (v.GetDouble()) |]
                         Tolerance =
                             if e.TryGetProperty("tolerance", &tol) then
                                 float32 (tol.GetDouble())
                             else
                                 0f
                     }
         ]
         |> Map.ofList)

let private formatOf (name: string) =
    match Path.GetExtension(name) with
    | ".jpg" -> ImageFormat.Jpeg
    | ".gif" -> ImageFormat.Gif
    | ".png" -> ImageFormat.Png
    | ".webp" -> ImageFormat.WebP
    | ".bmp" -> ImageFormat.Bmp
    | _ -> ImageFormat.Tiff

/// All of an image's values, pages then planes, as make_fixtures.py lists them.
let private allValues (img: PlanarImage) = img.Pages |> Seq.concat |> Array.ofSeq

/// Checks `img` against the fixture `name`'s record: header fields exactly, values exactly or within its tolerance.
let private expectMatches (name: string) (img: PlanarImage) =
    let e = expected.Value[name]

    Expect.equal
        (img.Width, img.Height, img.Channels, img.PageCount, img.BitDepth, img.SampleType = SampleType.Float)
        (e.Width, e.Height, e.Channels, e.Pages, e.BitDepth, e.IsFloat)
        $"{name}: width, height, channels, pages, bit depth, float"

    let got = allValues img
    Expect.equal got.Length e.Values.Length $"{name}: number of values"

    if e.Tolerance = 0f then
        let firstDiff = Array.tryFindIndex id (Array.map2 (<>) got e.Values)
        Expect.isNone firstDiff $"{name}: exact values (first difference at {firstDiff})"
    else
        let diffs = Array.map2 (fun (a: float32) b -> abs (a - b)) got e.Values
        Expect.isLessThanOrEqual (Array.max diffs) e.Tolerance $"{name}: max difference from Pillow's decode"
        Expect.isLessThanOrEqual (Array.average diffs) 1.0f $"{name}: mean difference from Pillow's decode"

let private imageError (f: unit -> unit) = messageOf<ImageFormatException> f

/// Allocated bytes and seconds of `f` on this thread.
let private cost (f: unit -> unit) =
    let before = GC.GetAllocatedBytesForCurrentThread()
    let clock = Stopwatch.StartNew()
    f ()
    GC.GetAllocatedBytesForCurrentThread() - before, clock.Elapsed.TotalSeconds

[<Tests>]
let decoding =
    testList "ImageIo.Decode" [
        for name in
            [
                "jpeg_gray.jpg"
                "jpeg_rgb.jpg"
                "gif_mask.gif"
                "gif_color.gif"
                "png_gray16.png"
                "tiff_gray8.tif"
                "tiff_gray16.tif"
                "tiff_gray16_bigendian.tif"
                "tiff_stack16.tif"
                "tiff_float32.tif"
                "tiff_tiled16.tif"
                "tiff_deflate16.tif"
                "tiff_lzw_rgb8.tif"
                "tiff_lzw16_predictor.tif"
                "tiff_packbits8.tif"
                "tiff_rgb_separate.tif"
                "webp_lossless.webp"
                "bmp_rgb24.bmp"
            ] do
            test $"{name} decodes to the values its writer recorded" {
                let img = ImageFile.Read(fixture name)
                Expect.equal img.Format (formatOf name) "format from the magic bytes"
                expectMatches name img
            }

        test "the expected file lists every decodable fixture above" { Expect.equal expected.Value.Count 18 "18 fixtures with values" }

        test "a Carvana-like black/white palette GIF is one gray channel whose labels are 0 and 255" {
            let img = ImageFile.Read(fixture "gif_mask.gif")
            Expect.equal img.ChannelsInWords "gray" "gray palette read as gray"
            Expect.equal (img.ToLabelValues() |> Array.distinct |> Array.sort) [| 0; 255 |] "label values"
        }

        test "a float TIFF keeps its values as intensities and is refused as a mask" {
            let img = ImageFile.Read(fixture "tiff_float32.tif")
            Expect.equal (img.ToGray()) expected.Value["tiff_float32.tif"].Values "floats used as they are"
            let m = imageError (fun () -> img.ToLabelValues() |> ignore)
            Expect.stringContains m "tiff_float32.tif" "names the file"
            Expect.stringContains m "not a label value" "says why"
        }

        test "a 16-bit PNG read through ImageFile keeps all 16 bits" {
            let img = ImageFile.Read(fixture "png_gray16.png")
            Expect.equal (img.Plane(0).[..2]) [| 0f; 65535f; 257f |] "0, 65535 and 257 (bytes 01 01) exact"
            Expect.equal (img.ToGray().[1]) 1f "full scale is 1"
        }

        test "magic bytes win over a wrong extension" {
            let d = tempDir ()

            for source, target, format in
                [
                    "jpeg_rgb.jpg", "photo.png", ImageFormat.Jpeg
                    "tiff_gray16.tif", "scan.jpg", ImageFormat.Tiff
                    "png_gray16.png", "slice.tif", ImageFormat.Png
                    "gif_mask.gif", "mask.png", ImageFormat.Gif
                ] do
                let file = Path.Combine(d, target)
                File.Copy(fixture source, file)
                let img = ImageFile.Read file
                Expect.equal img.Format format $"{target} holds {format}"
                Expect.equal (ImageFile.DetectFormat file) (Nullable format) $"{target}: DetectFormat"
                expectMatches source img
        }

        test "an unknown format and an empty file are named" {
            let d = tempDir ()
            let text = Path.Combine(d, "notes.png")
            File.WriteAllText(text, "not an image at all")
            let m = imageError (fun () -> ImageFile.Read text |> ignore)
            Expect.stringContains m text "names the file"
            Expect.stringContains m "unknown image format" "says so"
            let empty = Path.Combine(d, "empty.jpg")
            File.WriteAllBytes(empty, [||])
            Expect.stringContains (imageError (fun () -> ImageFile.Read empty |> ignore)) "empty.jpg: the file is empty" "empty"
            let missing = Path.Combine(d, "missing.tif")
            Expect.stringContains (imageError (fun () -> ImageFile.Read missing |> ignore)) "missing.tif: cannot be read" "missing"
        }
    ]

[<Tests>]
let limits =
    testList "ImageIo.Limits" [
        test "a PNG whose IHDR claims 60000x60000 is refused by name and size, before allocating, in both readers" {
            let file = fixture "huge_ihdr.png"

            for read in
                [
                    (fun () -> ImageFile.Read file |> ignore)
                    (fun () -> PngReader.Read file |> ignore)
                ] do
                let mutable message = ""

                let bytes, seconds =
                    cost (fun () -> message <- messageOf<ImageTooLargeException> read)

                Expect.stringContains message "huge_ihdr.png" "names the file"
                Expect.stringContains message "60000x60000" "and the declared size"
                Expect.stringContains message "268,435,456" "and the budget"
                Expect.isLessThan bytes 1_000_000L $"allocated {bytes} bytes: nothing of the image's 3.6 GB"
                Expect.isLessThan seconds 2.0 "quickly"
        }

        test "a TIFF claiming 100000x100000 is refused by name and size, before allocating" {
            let file = fixture "huge.tif"
            let mutable e = Unchecked.defaultof<ImageTooLargeException>

            let bytes, seconds =
                cost (fun () ->
                    try
                        ImageFile.Read file |> ignore
                        failtest "expected a refusal"
                    with :? ImageTooLargeException as x ->
                        e <- x)

            Expect.stringContains e.Message "huge.tif" "names the file"
            Expect.stringContains e.Message "100000x100000" "and the declared size"
            Expect.equal (e.DeclaredWidth, e.DeclaredHeight, e.DeclaredPages) (100000L, 100000L, 1L) "declared size"
            Expect.isLessThan bytes 1_000_000L $"allocated {bytes} bytes: nothing of the image's 10 GB"
            Expect.isLessThan seconds 2.0 "quickly"
        }

        test "the budget is configurable and counts every page of a stack" {
            let stack = fixture "tiff_stack16.tif" // 3 pages of 11x9 = 297 pixels

            let m =
                messageOf<ImageTooLargeException> (fun () -> ImageFile.Read(stack, ImageLimits(MaxPixels = 296L)) |> ignore)

            Expect.stringContains m "3 pages of 11x9" "declared stack size"
            Expect.stringContains m "296" "the budget"
            Expect.equal (ImageFile.Read(stack, ImageLimits(MaxPixels = 297L))).PageCount 3 "exactly at the budget reads"

            for name, pixels in [ "jpeg_rgb.jpg", 192L; "gif_color.gif", 192L; "png_gray16.png", 140L ] do
                let tight = ImageLimits(MaxPixels = pixels - 1L)

                let m =
                    messageOf<ImageTooLargeException> (fun () -> ImageFile.Read(fixture name, tight) |> ignore)

                Expect.stringContains m name $"{name} refused by name"
                Expect.isNotNull (ImageFile.Read(fixture name, ImageLimits(MaxPixels = pixels))) $"{name} read at its size"

            Expect.equal ImageLimits.Default.MaxPixels (1L <<< 28) "default 2^28"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> ImageLimits(MaxPixels = 0L) |> ignore) "a zero budget"
        }

        test "a budget refusal is an ImageFormatException, so callers that skip bad files skip it too" {
            Expect.isTrue (typeof<ImageFormatException>.IsAssignableFrom typeof<ImageTooLargeException>) "subclass"
            Expect.isTrue (typeof<ImageFormatException>.IsAssignableFrom typeof<PngException>) "PNG errors too"
        }
    ]

[<Tests>]
let damaged =
    testList "ImageIo.Damaged" [
        for name, format in
            [
                "truncated.jpg", "JPEG"
                "truncated_header.jpg", "JPEG"
                "truncated.gif", "GIF"
                "corrupt.tif", "TIFF"
            ] do
            test $"{name} gives one ImageFormatException naming the file" {
                let file = fixture name
                let m = imageError (fun () -> ImageFile.Read file |> ignore)
                Expect.stringStarts m $"{format} {file}: " "format and file first"
                Expect.isTrue (m.Contains "truncated" || m.Contains "corrupt") $"says what is wrong: {m}"
                printfn "    %s" m
            }

        test "a TIFF cut short inside its pixel data is refused, not returned with zeros" {
            let d = tempDir ()
            let bytes = File.ReadAllBytes(fixture "tiff_gray16.tif")
            let file = Path.Combine(d, "cut.tif")
            File.WriteAllBytes(file, bytes[.. bytes.Length - 60])
            let m = imageError (fun () -> ImageFile.Read file |> ignore)
            Expect.stringContains m "cut.tif" "names the file"
        }
    ]

[<Tests>]
let writing =
    testList "ImageIo.TiffWriter" [
        test "16-bit and float32 stacks read back exactly, page by page" {
            let d = tempDir ()
            let w, h = 37, 23
            let rng = Random 5
            let u16 = [| for _ in 1..4 -> Array.init (w * h) (fun _ -> uint16 (rng.Next 65536)) |]

            let f32 = [|
                for _ in 1..2 -> Array.init (w * h) (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0) * 1000f)
            |]

            let a = Path.Combine(d, "volume16.tif")
            let b = Path.Combine(d, "volume32.tif")
            TiffWriter.WriteStack16(a, u16, w, h)
            TiffWriter.WriteStackFloat(b, f32, w, h)
            let ra = ImageFile.Read a

            Expect.equal
                (ra.PageCount, ra.BitDepth, ra.SampleType, ra.Width, ra.Height)
                (4, 16, SampleType.UnsignedInteger, w, h)
                "16-bit header"

            for p in 0..3 do
                Expect.equal ra.Pages[p] (Array.map float32 u16[p]) $"16-bit page {p}"

            let rb = ImageFile.Read b
            Expect.equal (rb.PageCount, rb.BitDepth, rb.SampleType) (2, 32, SampleType.Float) "float header"

            for p in 0..1 do
                Expect.equal rb.Pages[p] f32[p] $"float page {p}"

            Expect.throwsT<ArgumentException> (fun () -> TiffWriter.WriteStack16(a, [| [| 1us |] |], w, h)) "wrong page length"
        }
    ]

/// A depth-1 U-Net (widths 4, 8).
let private tinyNet () =
    UNet.Create(CropCat.Architecture.UNetOptions(Widths = [| 4; 8 |]))

[<Tests>]
let folders =
    let copy (name: string) (target: string) =
        Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore
        File.Copy(fixture name, target)

    testList "ImageIo.Folders" [
        test "FolderDataset reads a JPEG image with its GIF mask, paired by name without extension" {
            let d = tempDir ()
            copy "jpeg_rgb.jpg" (Path.Combine(d, "images", "car.jpg"))
            copy "gif_mask.gif" (Path.Combine(d, "masks", "car.gif"))
            copy "tiff_gray8.tif" (Path.Combine(d, "images", "scan.tif"))
            copy "tiff_packbits8.tif" (Path.Combine(d, "masks", "scan.png.tif"))
            File.Move(Path.Combine(d, "masks", "scan.png.tif"), Path.Combine(d, "masks", "scan.tiff"))
            // scan.tif is 14x10, its mask 12x10: named as a size mismatch once the JPEG pair has loaded.
            let m =
                messageOf<DatasetException> (fun () -> FolderDataset.Load(d, LabelSchema.Binary255, channels = 3) |> ignore)

            Expect.stringContains m "scan" "the TIFF pair is read (and its sizes compared)"
            File.Delete(Path.Combine(d, "images", "scan.tif"))
            File.Delete(Path.Combine(d, "masks", "scan.tiff"))
            let s = FolderDataset.Load(d, LabelSchema.Binary255, channels = 3) |> Seq.exactlyOne
            let e = expected.Value["jpeg_rgb.jpg"]
            Expect.equal (s.Name, s.Width, s.Height, s.Channels) ("car.jpg", 16, 12, 3) "sample"

            let maxDiff =
                Array.map2 (fun (a: float32) b -> abs (a * 255f - b)) s.Image e.Values
                |> Array.max

            Expect.isLessThanOrEqual maxDiff e.Tolerance "R, G, B planes in [0, 1] from the JPEG"

            let mask =
                expected.Value["gif_mask.gif"].Values
                |> Array.map (fun v -> if v = 255f then 1 else 0)

            Expect.equal s.Classes mask "mask 255 -> class 1"
            Expect.equal (s.Instances |> Array.max) 1 "one instance"
            let gray = FolderDataset.Load(d, LabelSchema.Binary255) |> Seq.exactlyOne
            Expect.equal gray.Channels 1 "1-channel read of the same pair"
        }

        test "FolderDataset names a corrupt JPEG, an unpaired mask and two files sharing a name" {
            let d = tempDir ()
            copy "truncated.jpg" (Path.Combine(d, "images", "a.jpg"))
            copy "gif_mask.gif" (Path.Combine(d, "masks", "a.gif"))

            let m =
                messageOf<DatasetException> (fun () -> FolderDataset.Load(d, LabelSchema.Binary255) |> ignore)

            Expect.stringContains m "a.jpg" "corrupt image named"
            Expect.stringContains m "truncated" "and why"
            File.Delete(Path.Combine(d, "images", "a.jpg"))
            copy "jpeg_rgb.jpg" (Path.Combine(d, "images", "a.jpg"))
            copy "gif_mask.gif" (Path.Combine(d, "masks", "a.png.gif"))

            let m =
                messageOf<DatasetException> (fun () -> FolderDataset.Load(d, LabelSchema.Binary255) |> ignore)

            Expect.stringContains m "a.png.gif has no image" "unpaired mask"
            File.Delete(Path.Combine(d, "masks", "a.png.gif"))
            copy "png_gray16.png" (Path.Combine(d, "masks", "a.png"))

            let m =
                messageOf<DatasetException> (fun () -> FolderDataset.Load(d, LabelSchema.Binary255) |> ignore)

            Expect.stringContains m "share the name a" "a.gif and a.png"
        }

        testCase "FolderPredictor segments JPEG, GIF and TIFF inputs into PNGs and skips a truncated JPEG by name"
        <| fun () ->
            init ()
            use _ = torch.NewDisposeScope()
            torch.manual_seed 3L |> ignore
            use net = tinyNet ()
            net.eval ()
            let input = tempDir ()
            copy "jpeg_rgb.jpg" (Path.Combine(input, "a.jpg"))
            copy "truncated.jpg" (Path.Combine(input, "b.jpg"))
            copy "gif_color.gif" (Path.Combine(input, "c.gif"))
            copy "tiff_gray16.tif" (Path.Combine(input, "d.tiff"))
            copy "png_gray16.png" (Path.Combine(input, "a.png"))
            File.WriteAllText(Path.Combine(input, "notes.txt"), "not an input")
            let out = tempDir ()
            let log = new StringWriter()

            let report =
                FolderPredictor(net, LabelSchema.Binary255, TileOptions(TileSize = 60), false, log).Run(input, out)

            let written = report.Written |> Seq.map Path.GetFileName |> List.ofSeq
            Expect.equal written [ "a.png"; "c.png"; "d.png" ] "a.png (from a.jpg), c.gif and d.tiff segmented"

            let skipped =
                report.Skipped |> Seq.map (fun s -> Path.GetFileName s.File) |> List.ofSeq

            Expect.equal skipped [ "a.png"; "b.jpg" ] "the clashing a.png and the truncated b.jpg skipped"
            Expect.stringContains (log.ToString()) "b.jpg: truncated" "the truncated JPEG is named with the reason"
            Expect.stringContains (log.ToString()) "already written for" "the name clash is explained"
            Expect.equal report.ExitCode PredictionReport.SkippedExitCode "exit code 5"
            let mask = PngReader.Read(Path.Combine(out, "d.png"))
            Expect.equal (mask.Width, mask.Height) (14, 10) "mask of the TIFF's size"
            Expect.isFalse (File.Exists(Path.Combine(out, "b.png"))) "nothing for the skipped file"
    ]
