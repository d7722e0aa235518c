/// Images larger than memory: TIFFs read region by region (TiffRegionReader, on fixtures written by tifffile and
/// tiffcp, see Tests/fixtures/bigtiff/make_fixtures.py), masks written tile by tile (TiffTiledWriter, read back by
/// the libtiff-based TiffDecoder), and streamed overlap-tile prediction, which must equal the in-memory tiler bit
/// for bit and give the in-memory path's masks.
module CropCat.Tests.BigTiffTests

open System
open System.IO
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.Imaging
open CropCat.Inference
open CropCat.Numerics
open CropCat.Shapes
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Tests.TilingSupport

let private fixtureDir () =
    committedDir "fixtures/bigtiff" "expected.json"

let private fixture name = Path.Combine(fixtureDir (), name)

/// What make_fixtures.py recorded for one fixture (from numpy's arrays, not from any CropCat code).
type private Expected = {
    Width: int
    Height: int
    Channels: int
    BitDepth: int
    Sum: float
    WeightedSum: float
    Probes: (int * int * int * float) list
}

let private expected =
    lazy
        (use doc = JsonDocument.Parse(File.ReadAllText(fixture "expected.json"))

         [
             for p in doc.RootElement.EnumerateObject() ->
                 let e = p.Value

                 p.Name,
                 {
                     Width = e.GetProperty("width").GetInt32()
                     Height = e.GetProperty("height").GetInt32()
                     Channels = e.GetProperty("channels").GetInt32()
                     BitDepth = e.GetProperty("bitDepth").GetInt32()
                     Sum = e.GetProperty("sum").GetDouble()
                     WeightedSum = e.GetProperty("weightedSum").GetDouble()
                     Probes = [
                         for q in e.GetProperty("probes").EnumerateArray() ->
                             let v = q.EnumerateArray() |> Seq.map _.GetDouble() |> Array.ofSeq
                             int v[0], int v[1], int v[2], v[3]
                     ]
                 }
         ]
         |> Map.ofList)

/// The whole image as (C, H, W) raw samples, decoded by the in-memory TIFF reader.
let private whole (file: string) : torch.Tensor =
    let img = ImageFile.Read file
    torch.tensor(img.Pages[0]).reshape ([| int64 img.Channels; int64 img.Height; int64 img.Width |])

let private regionTensor (values: float32[]) (c: int) (h: int) (w: int) =
    torch.tensor(values).reshape ([| int64 c; int64 h; int64 w |])

let private readerTests =
    testList "reader" [
        test "every fixture read as one region has tifffile's values (sums, weighted sums, probes)" {
            for KeyValue(name, e) in expected.Value do
                use r = TiffRegionReader.Open(fixture name)
                Expect.equal (r.Width, r.Height, r.Channels, r.BitDepth) (e.Width, e.Height, e.Channels, e.BitDepth) $"{name}: header"
                let v = r.ReadRegion(0, 0, r.Width, r.Height)
                let n = r.Width * r.Height
                let mutable sum = 0.0
                let mutable weighted = 0.0

                for c in 0 .. r.Channels - 1 do
                    for y in 0 .. r.Height - 1 do
                        for x in 0 .. r.Width - 1 do
                            let s = float (v[c * n + y * r.Width + x])
                            sum <- sum + s
                            weighted <- weighted + s * float ((31 * x + 17 * y + 7 * c) % 101)

                Expect.equal sum e.Sum $"{name}: sum of samples"
                Expect.equal weighted e.WeightedSum $"{name}: position-weighted sum"

                for x, y, c, value in e.Probes do
                    Expect.equal (float (v[c * n + y * r.Width + x])) value $"{name}: sample ({x}, {y}, channel {c})"
        }

        test "regions and mirrored windows (inside, across the border, larger than the image) equal the whole decode cut by Mirror" {
            let rng = Random 11

            for KeyValue(name, _) in expected.Value do
                use scope = torch.NewDisposeScope()
                let all = whole (fixture name)
                let h, w, c = int all.shape[1], int all.shape[2], int all.shape[0]
                // A cache of one byte keeps no block between reads: every read decodes what it needs again.
                for cache in [ 1L; TiffRegionReader.DefaultCacheBytes ] do
                    use r = TiffRegionReader.Open(fixture name, cache)

                    for _ in 1..12 do
                        let ww, hh = rng.Next(1, w + 60), rng.Next(1, h + 60)
                        let x, y = rng.Next(-40, w), rng.Next(-40, h)
                        let got = regionTensor (r.ReadMirrored(int64 x, int64 y, ww, hh)) c hh ww
                        use want = Mirror.Window(all, int64 y, int64 x, hh, ww)
                        Expect.equal (maxAbsDiff got want) 0.0 $"{name}: window {ww}x{hh} at {x},{y}, cache {cache}"

                    let x, y = rng.Next(0, w / 2), rng.Next(0, h / 2)
                    let got = regionTensor (r.ReadRegion(x, y, w - x, h - y)) c (h - y) (w - x)

                    use want =
                        all.narrow(1L, int64 y, int64 (h - y)).narrow (2L, int64 x, int64 (w - x))

                    Expect.equal (maxAbsDiff got want) 0.0 $"{name}: region at {x},{y}"
        }

        test "ReadPlanes gives PlanarImage.ToPlanes's intensities: luma for gray nets, R, G, B for RGB nets" {
            for name in [ "rgb8_tiled.tif"; "gray16_striped.tif" ] do
                let img = ImageFile.Read(fixture name)
                use r = TiffRegionReader.Open(fixture name)

                for channels in [ 1; 3 ] do
                    match img.ToPlanes channels, r.ReadPlanes(0L, 0L, r.Width, r.Height, channels) with
                    | null, got -> Expect.isNull got $"{name}: {channels} channel(s) refused alike"
                    | want, got -> Expect.sequenceEqual got want $"{name}: {channels} channel(s)"
        }

        test
            "a TIFF tile source's windows are bit for bit the in-memory path's standardised input (FolderPredictor.InputTensor) cut by Mirror" {
            use scope = torch.NewDisposeScope()

            for name, channels in [ "rgb8_tiled.tif", 3; "rgb8_separate.tif", 1; "gray16_striped.tif", 1 ] do
                let file = fixture name
                use all = FolderPredictor.InputTensor(ImageFile.Read file, channels, file)
                use r = TiffRegionReader.Open file
                let source = TiffTileSource.Create(r, channels)

                for top, left, size in [ -5L, -7L, 64; 30L, 40L, 50; -100L, -90L, 300 ] do
                    let got = regionTensor (source.ReadWindow(top, left, size)) channels size size
                    use want = Mirror.Window(all, top, left, size, size)
                    Expect.equal (maxAbsDiff got want) 0.0 $"{name}, {channels} channel(s): window {size} at {left},{top}"
        }

        test "each strip or tile is decoded once while one row of them fits the cache; rows of strips too" {
            use r = TiffRegionReader.Open(fixture "gray8_striped.tif")
            // 141 rows in strips of 7: 21 strips, read row by row.
            for y in 0 .. r.Height - 1 do
                r.ReadRegion(0, y, r.Width, 1) |> ignore

            Expect.equal r.BlocksDecoded 21L "21 strips, each decoded once"
            use t = TiffRegionReader.Open(fixture "rgb8_tiled_lzw.tif")

            for y in 0..10 .. t.Height - 1 do
                t.ReadRegion(0, y, t.Width, min 10 (t.Height - y)) |> ignore

            Expect.equal t.BlocksDecoded (7L * 7L) "300x200 in tiles of 48x32: 7 x 7 tiles, each decoded once"
            use one = TiffRegionReader.Open(fixture "rgb8_tiled_lzw.tif")
            one.ReadRegion(40, 40, 40, 20) |> ignore

            Expect.equal
                one.BlocksDecoded
                2L
                "a 40x20 region at 40,40 touches two tiles (columns 0-47 and 48-95 of rows 32-63) and decodes those only"
        }

        test "one uncompressed strip reads in libtiff's chopped strips; a compressed strip over the limit is refused with what to do" {
            use raw =
                TiffRegionReader.Open(fixture "gray8_onestrip_raw.tif", maxBlockBytes = 10000L)

            Expect.isLessThan raw.BlockHeight raw.Height "libtiff split the single uncompressed strip"
            let file = fixture "gray8_onestrip_zip.tif"

            let msg =
                messageOf<ImageFormatException> (fun () -> TiffRegionReader.Open(file, maxBlockBytes = 10000L).Dispose())

            Expect.stringContains msg file "names the file"
            Expect.stringContains msg "141 rows" "says the strip's rows"
            Expect.stringContains msg "tiffcp -t -w 256 -l 256" "says how to re-tile it"
            // Under the default limit the same file reads (its one strip is 24 KB).
            use ok = TiffRegionReader.Open(file)
            Expect.equal (ok.ReadRegion(5, 5, 3, 3).Length) 9 "read"
        }

        test "a stack, a truncated file and a PNG are refused with one message naming the file" {
            let stack = fixture "stack2.tif"

            let m1 =
                messageOf<ImageFormatException> (fun () -> TiffRegionReader.Open(stack).Dispose())

            Expect.stringContains m1 stack "names the stack"
            Expect.stringContains m1 "has 2 pages" "says why"
            let cut = fixture "truncated_tiled.tif"
            use r = TiffRegionReader.Open cut // the header is intact; the tile data is not

            let m2 =
                messageOf<ImageFormatException> (fun () -> r.ReadRegion(0, 0, r.Width, r.Height) |> ignore)

            Expect.stringContains m2 cut "names the file"
            Expect.stringContains m2 "corrupt or truncated" "says what"
            let png = fixture "../images/png_gray16.png"

            let m3 =
                messageOf<ImageFormatException> (fun () -> TiffRegionReader.Open(png).Dispose())

            Expect.stringContains m3 "is not a TIFF" "a PNG"
        }
    ]

/// A seekable stream that fails like a full disk once `limit` bytes have been written through it.
type private FullDisk(inner: Stream, limit: int64) =
    inherit Stream()
    let mutable written = 0L
    override _.CanRead = inner.CanRead
    override _.CanSeek = inner.CanSeek
    override _.CanWrite = true
    override _.Length = inner.Length

    override _.Position
        with get () = inner.Position
        and set v = inner.Position <- v

    override _.Flush() = inner.Flush()
    override _.Read(b, o, c) = inner.Read(b, o, c)
    override _.Seek(o, s) = inner.Seek(o, s)
    override _.SetLength v = inner.SetLength v

    override _.Write(buffer: byte[], offset: int, count: int) =
        if written + int64 count > limit then
            raise (IOException "No space left on device (injected)")

        inner.Write(buffer, offset, count)
        written <- written + int64 count

let private writerTests =
    testList "writer" [
        test "8- and 16-bit tiled masks written in uneven bands read back exactly (TiffDecoder), tiled, and nothing else is left" {
            let rng = Random 5

            for bits, w, h in [ 8, 300, 170; 16, 97, 33; 8, 16, 1 ] do
                let dir = tempDir ()
                let path = Path.Combine(dir, "m.tif")
                let max = (1 <<< bits) - 1
                let values = Array.init (w * h) (fun _ -> uint16 (rng.Next(0, max + 1)))
                use writer = TiffTiledWriter.Create(path, w, h, bits, 64)
                let mutable y = 0

                while y < h do
                    let k = min (rng.Next(1, 90)) (h - y)
                    writer.WriteRows(ReadOnlySpan(values, y * w, k * w), k)
                    y <- y + k

                Expect.isFalse (File.Exists path) "nothing under the name before the commit"
                writer.Commit()
                let back = ImageFile.Read path
                Expect.equal (back.Width, back.Height, back.BitDepth, back.Channels) (w, h, bits, 1) "header"
                Expect.sequenceEqual back.Pages[0] (values |> Array.map float32) "samples"
                use r = TiffRegionReader.Open path
                Expect.isTrue r.IsTiled "tiled"
                Expect.equal (r.BlockWidth, r.Compression) (64, "ADOBE_DEFLATE") "64 px tiles, Deflate"
                Expect.equal (Directory.GetFiles dir) [| path |] "no temporary file"
        }

        test "a writer disposed before its commit, or failing like a full disk, leaves no file and no temporary file" {
            let dir = tempDir ()
            let path = Path.Combine(dir, "m.tif")

            let abandon () =
                use w = TiffTiledWriter.Create(path, 50, 40, 8, 16)
                w.WriteRows(ReadOnlySpan(Array.zeroCreate<uint16> (50 * 20)), 20)

            abandon ()

            Expect.isEmpty (Directory.GetFiles dir) "abandoned: nothing left"

            let incomplete =
                messageOf<InvalidOperationException> (fun () ->
                    use w = TiffTiledWriter.Create(path, 50, 40, 8, 16)
                    w.WriteRows(ReadOnlySpan(Array.zeroCreate<uint16> (50 * 20)), 20)
                    w.Commit())

            Expect.stringContains incomplete "20 of 40 rows" "an incomplete file is not committed"
            Expect.isEmpty (Directory.GetFiles dir) "nothing left after the refused commit"
            AtomicFile.FaultInjection <- Func<Stream, Stream>(fun s -> new FullDisk(s, 2000L))

            try
                let noise = Array.init (300 * 300) (fun i -> uint16 ((i * 7919) % 251))

                let e =
                    Expect.throwsC
                        (fun () ->
                            use w = TiffTiledWriter.Create(path, 300, 300, 8, 64)
                            w.WriteRows(ReadOnlySpan noise, 300)
                            w.Commit())
                        id

                Expect.isTrue (e :? IOException) $"the disk error surfaces as an IOException: {e}"
            finally
                AtomicFile.FaultInjection <- null

            Expect.isEmpty (Directory.GetFiles dir) "no partial output, no temporary file"
        }
    ]

/// One generated case of the streamed = in-memory property.
type StreamCase = {
    Seed: int
    Widths: int list
    InChannels: int
    Classes: int
    Height: int
    Width: int
    Tile: int
    Batch: int
    Padded: bool
}

let private genStreamCase =
    gen {
        let! seed = Gen.choose (0, 10000)
        let! widths = Gen.elements [ [ 2; 4 ]; [ 2; 4; 8 ] ]
        let! inChannels = Gen.choose (1, 3)
        let! classes = Gen.choose (1, 3)
        let! tile = Gen.choose (20, 90)
        let! height = Gen.frequency [ 1, Gen.constant 1; 6, Gen.choose (2, 150) ]
        let! width = Gen.frequency [ 1, Gen.constant 1; 6, Gen.choose (2, 150) ]
        let! batch = Gen.choose (1, 4)
        let! padded = Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ]

        return {
            Seed = seed
            Widths = widths
            InChannels = inChannels
            Classes = classes
            Height = height
            Width = width
            Tile = tile
            Batch = batch
            Padded = padded
        }
    }

/// Streamed rows stitched back into one (classes, H, W) tensor, and the in-memory tiler's result.
let private streamedAndInMemory (c: StreamCase) (output: TileOutput) =
    let padding =
        if c.Padded then
            CropCat.Shapes.Padding.Same
        else
            CropCat.Shapes.Padding.Valid

    let net = tinyNet c.Seed c.Widths padding UpMode.Transposed c.InChannels c.Classes
    torch.manual_seed (int64 c.Seed + 1L) |> ignore
    let image = torch.rand (int64 c.InChannels, int64 c.Height, int64 c.Width)
    let options = TileOptions(TileSize = c.Tile, BatchSize = c.Batch, Output = output)
    let inMemory = OverlapTile(net, options).Predict image

    let streamed =
        torch.zeros ([| inMemory.shape[0]; int64 c.Height; int64 c.Width |], dtype = torch.ScalarType.Float32)

    let mutable next = 0
    use source = new TensorTileSource(image)

    let summary =
        StreamingOverlapTile(net, options)
            .Predict(
                source,
                fun top rows ->
                    if top <> next then
                        failwith $"rows handed out of order: {top} after {next}"

                    let n = int rows.shape[1]
                    use dst = streamed.narrow (1L, int64 top, int64 n)
                    dst.copy_ rows |> ignore
                    next <- top + n
            )

    Expect.equal next c.Height "every row handed on exactly once"
    streamed, inMemory, summary

let private streamingTests =
    testList "streaming" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 40
            }
            "streamed tiles equal the in-memory tiler bit for bit (exact and Gaussian mode, any batch)"
        <| Prop.forAll (Arb.fromGen genStreamCase) (fun c ->
            use scope = torch.NewDisposeScope()
            let streamed, inMemory, summary = streamedAndInMemory c TileOutput.Logits
            let gap = maxAbsDiff streamed inMemory

            (gap = 0.0)
            |> Prop.classify (summary.TileRows > 1) "several rows of tiles"
            |> Prop.classify c.Padded "Gaussian (padded net)"
            |> Prop.label (sprintf "%A: max abs difference %g, %d tile rows" c gap summary.TileRows))

        test "probabilities too, and the band holds one tile output of rows, not the image" {
            use scope = torch.NewDisposeScope()

            let c = {
                Seed = 3
                Widths = [ 2; 4; 8 ]
                InChannels = 1
                Classes = 2
                Height = 300
                Width = 41
                Tile = 60
                Batch = 2
                Padded = false
            }

            let streamed, inMemory, summary = streamedAndInMemory c TileOutput.Probabilities
            Expect.equal (maxAbsDiff streamed inMemory) 0.0 "equal"
            Expect.isGreaterThan summary.TileRows 3 "several rows of tiles"
            Expect.equal summary.BandRows summary.Plan.OutputSize "band: one tile output high"
        }
    ]

/// A tiny net for the file tests: random weights, 2 classes, valid convolutions. The seeds (18 gray, 20 RGB) were
/// picked so that every fixture's mask holds both classes (some seeds give one class everywhere: nothing to compare).
let private fileNet (inChannels: int) =
    tinyNet (17 + inChannels) [ 2; 4; 8 ] CropCat.Shapes.Padding.Valid UpMode.Transposed inChannels 2

/// Runs FolderPredictor on one file with the given streaming mode; returns the report.
let private predictFile (net: CropCat.Nets.Network) (file: string) (mode: StreamMode) (limits: ImageLimits) (out: string) =
    let options =
        FolderPredictorOptions(Tiles = TileOptions(TileSize = 64, BatchSize = 3), Stream = mode, Limits = limits)

    FolderPredictor(net, LabelSchema.Binary255, options).Run(file, out)

let private fileTests =
    testList "predict" [
        test "streamed masks (NAME_mask.tif) equal the in-memory PNG masks: tiled and striped, 8- and 16-bit, gray and RGB nets" {
            use scope = torch.NewDisposeScope()

            for name, channels in
                [
                    "rgb8_tiled.tif", 3
                    "rgb8_separate.tif", 3
                    "rgb8_tiled_lzw.tif", 1
                    "gray16_striped.tif", 1
                    "gray8_striped.tif", 1
                    "gray8_onestrip_raw.tif", 1
                ] do
                use net = fileNet channels
                let a, b = tempDir (), tempDir ()

                let streamed =
                    predictFile net (fixture name) StreamMode.Always ImageLimits.Default a

                let inMemory = predictFile net (fixture name) StreamMode.Never ImageLimits.Default b
                Expect.equal streamed.Streamed.Count 1 $"{name}: streamed"
                Expect.equal inMemory.Streamed.Count 0 $"{name}: in memory"
                let mask = Path.Combine(a, Path.GetFileNameWithoutExtension name + "_mask.tif")
                Expect.sequenceEqual streamed.Written [ mask ] $"{name}: the tiled mask is the one output"
                let tiff = ImageFile.Read mask

                let png =
                    ImageFile.Read(Path.Combine(b, Path.GetFileNameWithoutExtension name + ".png"))

                Expect.equal (tiff.Width, tiff.Height, tiff.BitDepth) (png.Width, png.Height, 8) $"{name}: size, 8 bits"
                Expect.sequenceEqual tiff.Pages[0] png.Pages[0] $"{name}: the same mask"
                let values = set tiff.Pages[0]
                Expect.equal values (set [ 0.0f; 255.0f ]) $"{name}: both classes occur (a mask worth comparing)"
                use r = TiffRegionReader.Open mask
                Expect.isTrue r.IsTiled $"{name}: the mask is tiled"
        }

        test "with probabilities, the streamed 16-bit probability TIFF equals the in-memory 16-bit PNG" {
            use scope = torch.NewDisposeScope()
            use net = fileNet 1
            let name = "gray8_striped.tif"
            let a, b = tempDir (), tempDir ()

            let run mode out =
                let options =
                    FolderPredictorOptions(Tiles = TileOptions(TileSize = 64), Stream = mode, Probabilities = true)

                FolderPredictor(net, LabelSchema.Binary255, options).Run(fixture name, out)
                |> ignore

            run StreamMode.Always a
            run StreamMode.Never b
            let tiff = ImageFile.Read(Path.Combine(a, "probabilities", "gray8_striped.tif"))
            let png = ImageFile.Read(Path.Combine(b, "probabilities", "gray8_striped.png"))
            Expect.equal (tiff.BitDepth, png.BitDepth) (16, 16) "16-bit both"
            Expect.sequenceEqual tiff.Pages[0] png.Pages[0] "the same probabilities"
        }

        test
            "over the pixel budget a single-page TIFF streams by itself; a PNG and a stack are still refused by the budget; --stream refuses a PNG by name" {
            use scope = torch.NewDisposeScope()
            use net = fileNet 1
            let tiny = ImageLimits(MaxPixels = 1000L)
            let out = tempDir ()
            let r = predictFile net (fixture "gray8_striped.tif") StreamMode.Auto tiny out
            Expect.equal r.Streamed.Count 1 "streamed without being asked"
            Expect.isTrue (File.Exists(Path.Combine(out, "gray8_striped_mask.tif"))) "NAME_mask.tif"
            let png = fixture "../images/png_gray16.png"
            let stack = fixture "stack2.tif"

            for file in [ png; stack ] do
                let s =
                    predictFile net file StreamMode.Auto (ImageLimits(MaxPixels = 10L)) (tempDir ())

                Expect.equal s.Skipped.Count 1 $"{file}: skipped"
                Expect.stringContains s.Skipped[0].Reason "pixel budget" $"{file}: by the budget"

            let s = predictFile net png StreamMode.Always ImageLimits.Default (tempDir ())
            Expect.stringContains s.Skipped[0].Reason "png_gray16.png: streamed prediction (--stream) reads TIFF files" "names the file"
            let cutOut = tempDir ()

            let cut =
                predictFile net (fixture "truncated_tiled.tif") StreamMode.Always ImageLimits.Default cutOut

            Expect.stringContains cut.Skipped[0].Reason "truncated_tiled.tif" "a truncated file is skipped by name"

            Expect.isEmpty
                (Directory.GetFileSystemEntries cutOut)
                "and leaves no output (the statistics pass reads every block before a mask is started)"

            let resumed =
                FolderPredictor(
                    net,
                    LabelSchema.Binary255,
                    FolderPredictorOptions(Tiles = TileOptions(TileSize = 64), Limits = tiny, Resume = true)
                )
                    .Run(fixture "gray8_striped.tif", out)

            Expect.sequenceEqual resumed.AlreadyDone [ Path.Combine(out, "gray8_striped_mask.tif") ] "--resume finds the streamed mask"
            Expect.isEmpty resumed.Written "and writes nothing again"
            let st = predictFile net stack StreamMode.Always ImageLimits.Default (tempDir ())
            Expect.stringContains st.Skipped[0].Reason "stack2.tif" "names the stack"
            Expect.stringContains st.Skipped[0].Reason "has 2 pages" "says why"
        }

        test "cropcat predict --stream prints the tile, the rows and the peak RSS, and writes the mask the in-memory run writes" {
            use scope = torch.NewDisposeScope()
            let model = CliTests.trainTiny (syntheticFolder 900 3 100)
            let input = fixture "gray16_striped.tif"
            let a, b = tempDir (), tempDir ()

            let code, out, err =
                CliTests.cropcat [
                    "predict"
                    "--model"
                    model
                    "--input"
                    input
                    "--output"
                    a
                    "--stream"
                    "--tile"
                    "100"
                ]

            Expect.equal code 0 $"exit 0 ({err})"
            Expect.stringContains out "streamed" "reports the streamed file"
            Expect.stringContains out "tile 100 px" "the tile"
            Expect.stringContains out "rows of tiles" "the rows"
            Expect.stringContains out "peak RSS" "the peak RSS"

            let code2, _, err2 =
                CliTests.cropcat [
                    "predict"
                    "--model"
                    model
                    "--input"
                    input
                    "--output"
                    b
                    "--tile"
                    "100"
                ]

            Expect.equal code2 0 $"in memory: exit 0 ({err2})"
            let tiff = ImageFile.Read(Path.Combine(a, "gray16_striped_mask.tif"))
            let png = ImageFile.Read(Path.Combine(b, "gray16_striped.png"))
            Expect.sequenceEqual tiff.Pages[0] png.Pages[0] "the same mask"

            let code3, _, err3 =
                CliTests.cropcat [
                    "predict"
                    "--model"
                    model
                    "--input"
                    fixture "stack2.tif"
                    "--output"
                    a
                    "--stream"
                ]

            Expect.equal code3 5 "a refused input exits 5"
            Expect.stringContains err3 "stack2.tif" "names the file"
            let codeH, outH, _ = CliTests.cropcat [ "predict"; "--help" ]
            Expect.equal codeH 0 "help"
            Expect.stringContains outH "--stream" "help on stdout names --stream"
            Expect.stringContains outH "slide_mask.tif" "with an example"
        }
    ]

[<Tests>]
let tests =
    testList "BigTiff" [ readerTests; writerTests; streamingTests; fileTests ]
