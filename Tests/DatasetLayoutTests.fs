/// The dataset layouts of the Kaggle U-Net homework (issue #10) through Datasets.Open, on the tiny fixtures of
/// Tests/fixtures/layouts (written by Pillow, ImageMagick and tifffile, see make_layouts.py): each layout's
/// entries, sizes, classes and instances against expected.json; ImageFile.Probe against the writers' headers
/// and against Read; and the refusals, each one message naming the file.
module CropCat.Tests.DatasetLayoutTests

open System
open System.IO
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Data
open CropCat.Imaging
open CropCat.Tests.TestUtil

let private root () =
    committedDir "fixtures/layouts" "expected.json"

let private fixture (parts: string list) =
    Path.Combine(Array.ofList (root () :: parts))

/// What make_layouts.py recorded for one entry.
type private Expected = {
    Name: string
    Height: int
    Width: int
    Foreground: int
    Instances: int option
    Components: int option
    Gray: (int * int * float32) list
    Red: (int * int * float32) list
}

let private expectedDoc =
    lazy (JsonDocument.Parse(File.ReadAllText(fixture [ "expected.json" ])))

let private optInt (e: JsonElement) (name: string) =
    let mutable v = Unchecked.defaultof<JsonElement>

    if e.TryGetProperty(name, &v) then
        Some(v.GetInt32())
    else
        None

let private points (e: JsonElement) (name: string) =
    let mutable v = Unchecked.defaultof<JsonElement>

    if e.TryGetProperty(name, &v) then
        [
            for p in v.EnumerateArray() ->
                p.GetProperty("x").GetInt32(), p.GetProperty("y").GetInt32(), float32 (p.GetProperty("value").GetDouble())
        ]
    else
        []

let private expectedEntries (layout: string) = [
    for e in expectedDoc.Value.RootElement.GetProperty("layouts").GetProperty(layout).GetProperty("entries").EnumerateArray() ->
        {
            Name = e.GetProperty("name").GetString()
            Height = e.GetProperty("height").GetInt32()
            Width = e.GetProperty("width").GetInt32()
            Foreground = e.GetProperty("foreground").GetInt32()
            Instances = optInt e "instances"
            Components = optInt e "components"
            Gray = points e "gray"
            Red = points e "red"
        }
]

let private schema (layout: string) =
    LabelSchema.FromJson(expectedDoc.Value.RootElement.GetProperty("layouts").GetProperty(layout).GetProperty("schema").GetRawText())

let private options layout channels = LoadOptions(schema layout, channels)

let private close = { absolute = 1e-6; relative = 1e-6 }

/// Checks the opened entries against the script's record: names in order, sizes, foreground counts, gray values.
let private expectEntries (layout: string) (entries: DatasetEntry seq) =
    let entries = List.ofSeq entries
    let expected = expectedEntries layout
    Expect.equal (entries |> List.map _.Name) (expected |> List.map _.Name) "entry names, in order"

    for e, x in List.zip entries expected do
        Expect.equal (e.Height, e.Width) (x.Height, x.Width) $"{e.Name}: size from the header"
        let s = e.Load()
        Expect.equal s.Name x.Name $"{e.Name}: sample name"
        Expect.equal (s.Classes |> Array.filter (fun c -> c <> 0) |> Array.length) x.Foreground $"{e.Name}: foreground pixels"
        Expect.isTrue (s.Classes |> Array.forall (fun c -> c = 0 || c = 1)) $"{e.Name}: classes are 0/1"

        for xx, yy, v in x.Gray do
            if s.Channels = 1 then
                Expect.floatClose close (float s.Image[yy * s.Width + xx]) (float v) $"{e.Name}: gray at {xx},{yy}"

        for xx, yy, v in x.Red do
            if s.Channels = 3 then
                Expect.floatClose close (float s.Image[yy * s.Width + xx]) (float v) $"{e.Name}: red at {xx},{yy}"

let private opened (source: DatasetSource) layout channels =
    Datasets.Open(source, options layout channels)

let private distinctInstances (s: Sample) =
    s.Instances |> Array.filter (fun i -> i <> 0) |> Array.distinct |> Array.length

/// Copies a fixture folder to a fresh temp folder, for the refusal tests that break it.
let private copyOf (parts: string list) =
    let source = fixture parts
    let target = Path.Combine(tempDir (), List.last parts)

    for d in Directory.GetDirectories(source, "*", SearchOption.AllDirectories) do
        Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, d)))
        |> ignore

    Directory.CreateDirectory target |> ignore

    for f in Directory.GetFiles(source, "*", SearchOption.AllDirectories) do
        File.Copy(f, Path.Combine(target, Path.GetRelativePath(source, f)))

    target

/// The one DatasetException `f` raises; its message must name every string of `names`.
let private refusal (names: string list) (f: unit -> obj) =
    let e = Expect.throwsC (f >> ignore) id
    Expect.isTrue (e :? DatasetException) $"a DatasetException, got {e.GetType().Name}: {e.Message}"

    for n in names do
        Expect.stringContains e.Message n "the message names it"

    e.Message

[<Tests>]
let layouts =
    testList "layouts" [
        test "Carvana: train/*.jpg with train_masks/{name}_mask.gif, palette GIF masks read as 0/255" {
            let d =
                opened
                    (DatasetSource(
                        Images = fixture [ "carvana"; "train" ],
                        Masks = fixture [ "carvana"; "train_masks" ],
                        MaskPattern = "{name}_mask.gif"
                    ))
                    "carvana"
                    3

            Expect.equal d.Layout "pairs" "layout"
            expectEntries "carvana" d.Entries

            let mask =
                ImageFile.Read(fixture [ "carvana"; "train_masks"; "0cdf5b5d0ce1_01_mask.gif" ])

            Expect.equal
                (mask.ToLabelValues() |> Array.distinct |> Array.sort)
                [| 0; 255 |]
                "a palette 0/1 black/white GIF gives label values 0 and 255"
        }

        test "TGS: train/images + train/masks with 16-bit 0/65535 masks open as the folder layout" {
            let d = opened (DatasetSource(Data = fixture [ "tgs" ])) "tgs" 1
            Expect.equal d.Layout "folder" "layout"
            expectEntries "tgs" d.Entries
        }

        test "TGS: train.csv's run-length masks equal the PNG masks, pixel for pixel" {
            let tgs = fixture [ "tgs" ]

            let csv =
                opened (DatasetSource(Images = Path.Combine(tgs, "train", "images"), RleCsv = Path.Combine(tgs, "train.csv"))) "tgs" 1

            Expect.equal csv.Layout "tgs-csv" "layout"
            expectEntries "tgs" csv.Entries
            let png = FolderDataset.Entries(Path.Combine(tgs, "train"), options "tgs" 1)

            for c, p in Seq.zip csv.Entries png do
                Expect.equal (c.Load().Classes) (p.Load().Classes) $"{c.Name}: CSV and PNG masks"
        }

        test "TGS: images/ with train.csv and no masks/ is detected as tgs-csv" {
            let d = tempDir ()
            let images = Path.Combine(d, "images")
            Directory.CreateDirectory images |> ignore

            for f in Directory.GetFiles(fixture [ "tgs"; "train"; "images" ]) do
                File.Copy(f, Path.Combine(images, Path.GetFileName f))

            File.Copy(fixture [ "tgs"; "train.csv" ], Path.Combine(d, "train.csv"))
            let o = opened (DatasetSource(Data = d)) "tgs" 1
            Expect.equal o.Layout "tgs-csv" "layout"
            expectEntries "tgs" o.Entries
        }

        test "TGS: the 0/255 schema refuses a 16-bit mask naming the file and the value 65535" {
            let e =
                Expect.throwsC
                    (fun () ->
                        (Datasets.Open(DatasetSource(Data = fixture [ "tgs" ]), LoadOptions(LabelSchema.Binary255))).Entries[0].Load()
                        |> ignore)
                    id

            Expect.isTrue (e :? LabelSchemaException) "a label schema error"
            Expect.stringContains e.Message "65535" "the value"
            Expect.stringContains e.Message "000e218f21.png" "the mask"
        }

        test "DSB: instances are the mask files, touching nuclei stay distinct; stage1_train or its parent" {
            for data in [ fixture [ "dsb" ]; fixture [ "dsb"; "stage1_train" ] ] do
                let d = opened (DatasetSource(Data = data)) "dsb" 1
                Expect.equal d.Layout "dsb" "layout"
                expectEntries "dsb" d.Entries

            let d = opened (DatasetSource(Data = fixture [ "dsb" ])) "dsb" 3
            expectEntries "dsb" d.Entries

            for e, x in Seq.zip d.Entries (expectedEntries "dsb") do
                let s = e.Load()
                Expect.equal s.Channels 3 "RGB of the RGBA image"
                Expect.equal (distinctInstances s) x.Instances.Value $"{e.Name}: one instance per mask file"
                Expect.equal (Array.max s.Instances) x.Instances.Value $"{e.Name}: ids 1..K"
                let merged = Components.OfClasses(s.Classes, s.Height, s.Width) |> Array.max
                Expect.equal merged x.Components.Value $"{e.Name}: the union's connected components, as the script counts them"

            let touching = d.Entries |> Seq.find (fun e -> e.Name = "1a2b3c4d.png")
            let s = touching.Load()

            Expect.isLessThan
                (Components.OfClasses(s.Classes, s.Height, s.Width) |> Array.max)
                (distinctInstances s)
                "components merge the touching nuclei; the instances do not"
        }

        test "DSB: the border weight map sees touching nuclei apart, and equals the components' where none touch" {
            let d = opened (DatasetSource(Data = fixture [ "dsb" ])) "dsb" 1

            for e in d.Entries do
                let s = e.Load()
                let byInstances = CropCat.Training.WeightMap.Compute s

                let byComponents =
                    CropCat.Training.WeightMap.Compute(s.Classes, Components.OfClasses(s.Classes, s.Height, s.Width), s.Height, s.Width)

                if e.Name = "1a2b3c4d.png" then
                    Expect.notEqual byInstances byComponents $"{e.Name}: the touching pair adds border weight"
                else
                    Expect.equal byInstances byComponents $"{e.Name}: no nuclei touch"
        }

        test "ISBI: each page of train-volume.tif is an entry; cells are the components between membranes" {
            let d = opened (DatasetSource(Data = fixture [ "isbi" ])) "isbi" 1
            Expect.equal d.Layout "isbi" "layout"
            expectEntries "isbi" d.Entries

            for e, x in Seq.zip d.Entries (expectedEntries "isbi") do
                Expect.equal (distinctInstances (e.Load())) x.Components.Value $"{e.Name}: cells"
        }

        test "manifest: CSV (quoted path with a comma) and JSON give the same entries, named by their paths" {
            for m in [ "manifest.csv"; "manifest.json" ] do
                let d = opened (DatasetSource(Data = fixture [ "manifest"; m ])) "manifest" 1
                Expect.equal d.Layout "manifest" m
                expectEntries "manifest" d.Entries
        }

        test "FolderDataset.Entries loads what FolderDataset.Load loads" {
            let train = fixture [ "tgs"; "train" ]
            let eager = FolderDataset.Load(train, schema "tgs")
            let lazyOnes = FolderDataset.Entries(train, options "tgs" 1)
            Expect.equal (lazyOnes |> Seq.map _.Name |> List.ofSeq) (eager |> Seq.map _.Name |> List.ofSeq) "names"

            for e, s in Seq.zip lazyOnes eager do
                let l = e.Load()
                Expect.equal l.Image s.Image $"{e.Name}: image"
                Expect.equal l.Classes s.Classes $"{e.Name}: classes"
                Expect.equal l.Instances s.Instances $"{e.Name}: instances"
        }

        test "stack slices sort by page number" {
            let names = [ "s.tif#10"; "s.tif#2"; "r.png"; "s.tif#0" ]

            Expect.equal
                (List.sortWith (fun a b -> EntryOrder.Instance.Compare(a, b)) names)
                [ "r.png"; "s.tif#0"; "s.tif#2"; "s.tif#10" ]
                "order"
        }

        test "mask patterns: {name} without the extension, {ext} without the dot; malformed ones are refused" {
            Expect.equal (MaskPattern("{name}_mask.gif").MaskName("a.b.jpg")) "a.b_mask.gif" "name"
            Expect.equal (MaskPattern("{name}.{ext}").MaskName("x.tif")) "x.tif" "ext"
            Expect.throwsT<ArgumentException> (fun () -> MaskPattern("mask.gif") |> ignore) "no {name}"
            Expect.throwsT<ArgumentException> (fun () -> MaskPattern("{nam}_{name}.gif") |> ignore) "unknown brace"
            Expect.throwsT<ArgumentException> (fun () -> MaskPattern("m/{name}.gif") |> ignore) "a folder"
        }

        test "CSV: header, quoted fields with commas, doubled quotes and line breaks, CRLF" {
            let f = Path.Combine(tempDir (), "t.csv")
            File.WriteAllText(f, "id,rle_mask\r\n\"a,b\",\"1 2\"\r\n\"say \"\"hi\"\"\",\"3\n4\"\r\nc,\r\n")
            let t = CsvTable.Read f
            Expect.equal t.Header [| "id"; "rle_mask" |] "header"
            Expect.equal [ for _, r in t.Rows -> List.ofArray r ] [ [ "a,b"; "1 2" ]; [ "say \"hi\""; "3\n4" ]; [ "c"; "" ] ] "fields"
            Expect.equal [ for l, _ in t.Rows -> l ] [ 2; 3; 5 ] "the line each row starts on"
        }
    ]

[<Tests>]
let refusals =
    testList "layouts.refusals" [
        test "an image without its mask names both" {
            let d = copyOf [ "carvana" ]
            File.Delete(Path.Combine(d, "train_masks", "0cdf5b5d0ce1_02_mask.gif"))

            refusal
                [
                    "0cdf5b5d0ce1_02.jpg"
                    Path.Combine(d, "train_masks", "0cdf5b5d0ce1_02_mask.gif")
                ]
                (fun () ->
                    FolderPairs.Entries(Path.Combine(d, "train"), Path.Combine(d, "train_masks"), "{name}_mask.gif", options "carvana" 3))
            |> ignore
        }

        test "a mask that belongs to no image is named" {
            let d = copyOf [ "carvana" ]
            File.Copy(Path.Combine(d, "train_masks", "0cdf5b5d0ce1_01_mask.gif"), Path.Combine(d, "train_masks", "ffff_01_mask.gif"))

            refusal [ Path.Combine(d, "train_masks", "ffff_01_mask.gif") ] (fun () ->
                FolderPairs.Entries(Path.Combine(d, "train"), Path.Combine(d, "train_masks"), "{name}_mask.gif", options "carvana" 3))
            |> ignore
        }

        test "a CSV id without an image names the CSV, its line and the id; an image without a row names both" {
            let d = copyOf [ "tgs" ]
            let csv = Path.Combine(d, "train.csv")
            let images = Path.Combine(d, "train", "images")
            File.AppendAllText(csv, "deadbeef00,1 3\n")

            refusal [ csv; "line 6"; "deadbeef00" ] (fun () -> RleCsvDataset.Entries(images, csv, PixelOrder.ColumnMajor, options "tgs" 1))
            |> ignore

            File.WriteAllLines(
                csv,
                File.ReadAllLines(csv)
                |> Array.filter (fun l -> not (l.StartsWith "0a17" || l.StartsWith "deadbeef"))
            )

            refusal [ csv; Path.Combine(images, "0a1742c740.png") ] (fun () ->
                RleCsvDataset.Entries(images, csv, PixelOrder.ColumnMajor, options "tgs" 1))
            |> ignore
        }

        test "a run past the last pixel is refused when the entry loads, naming the CSV line" {
            let d = copyOf [ "tgs" ]
            let csv = Path.Combine(d, "train.csv")

            File.WriteAllLines(
                csv,
                File.ReadAllLines(csv)
                |> Array.map (fun l -> if l.StartsWith "0a17" then "0a1742c740,10200 5" else l)
            )

            let entries =
                RleCsvDataset.Entries(Path.Combine(d, "train", "images"), csv, PixelOrder.ColumnMajor, options "tgs" 1)

            let e = entries |> Seq.find (fun e -> e.Name = "0a1742c740.png")
            refusal [ csv; "line 4" ] (fun () -> e.Load()) |> ignore
        }

        test "ISBI stacks of different page counts name both files and both counts" {
            let d = fixture [ "isbi_mismatch" ]

            refusal
                [
                    Path.Combine(d, "train-volume.tif")
                    Path.Combine(d, "train-labels.tif")
                    "4 page(s)"
                    "has 3"
                ]
                (fun () -> Datasets.Open(DatasetSource(Data = d), options "isbi" 1))
            |> ignore
        }

        test "overlapping DSB masks are refused naming both files and the pixel" {
            let d = copyOf [ "dsb" ]
            let masks = Path.Combine(d, "stage1_train", "5e6f7a8b", "masks")
            let first = Directory.GetFiles masks |> Array.sort |> Array.head
            let copy = Path.Combine(masks, "zz_copy.png")
            File.Copy(first, copy)

            let e =
                (opened (DatasetSource(Data = d)) "dsb" 1).Entries
                |> Seq.find (fun e -> e.Name = "5e6f7a8b.png")

            refusal [ first; copy; "overlap" ] (fun () -> e.Load()) |> ignore
        }

        test "an undetectable folder gets one message listing what was looked for" {
            let d = tempDir ()
            File.WriteAllText(Path.Combine(d, "notes.txt"), "no images")

            refusal
                [
                    d
                    "images/"
                    "masks/"
                    "train.csv"
                    "train-volume.tif"
                    "stage1_train"
                    "manifest"
                ]
                (fun () -> Datasets.Open(DatasetSource(Data = d), options "tgs" 1))
            |> ignore
        }

        test "a 3-channel net refuses a gray stack when it opens, naming the file" {
            let v = fixture [ "isbi"; "train-volume.tif" ]

            refusal [ v; "gray"; "3 channels" ] (fun () -> Datasets.Open(DatasetSource(Data = fixture [ "isbi" ]), options "isbi" 3))
            |> ignore
        }

        test "conflicting sources are refused" {
            refusal [ "not both" ] (fun () ->
                Datasets.Open(DatasetSource(Data = fixture [ "tgs" ], Images = fixture [ "tgs"; "train"; "images" ]), options "tgs" 1))
            |> ignore
        }
    ]

/// Every committed image file of both fixture folders.
let private imageFiles () =
    [
        for dir in [ root (); ImageIoTests.fixtureDir () ] do
            for f in Directory.GetFiles(dir, "*", SearchOption.AllDirectories) do
                if ImageFormats.HasImageExtension f then
                    f
    ]
    |> List.sort

let private outcome (f: unit -> 'a) =
    try
        Ok(f ())
    with :? ImageFormatException as e ->
        Error(e.GetType().Name, e.Message)

[<Tests>]
let probing =
    testList "layouts.probe" [
        test "Probe gives the header the writing tool recorded" {
            for p in expectedDoc.Value.RootElement.GetProperty("headers").EnumerateObject() do
                let h = ImageFile.Probe(fixture [ p.Name ])
                let x = p.Value

                Expect.equal
                    (h.Format.ToString(), h.Width, h.Height, h.Channels, h.Pages)
                    (x.GetProperty("format").GetString(),
                     x.GetProperty("width").GetInt32(),
                     x.GetProperty("height").GetInt32(),
                     x.GetProperty("channels").GetInt32(),
                     x.GetProperty("pages").GetInt32())
                    p.Name
        }

        testProperty "Probe agrees with Read on every fixture; a header Probe refuses, Read refuses with the same message"
        <| Prop.forAll (Arb.fromGen (Gen.elements (imageFiles ()))) (fun f ->
            let limits = ImageLimits(MaxPixels = 1048576L)

            match outcome (fun () -> ImageFile.Probe(f, limits)), outcome (fun () -> ImageFile.Read(f, limits)) with
            | Ok h, Ok r -> h = ImageHeader(r.Format, r.Width, r.Height, r.Channels, r.PageCount)
            | Error e, Error r -> e = r
            | Ok _, Error _ -> true // damage past the header: only Read decodes that far
            | Error _, Ok _ -> false)

        test "Probe refuses a header over the budget before reading pixels, as Read does" {
            let png = Path.Combine(ImageIoTests.fixtureDir (), "huge_ihdr.png")
            let e = Expect.throwsC (fun () -> ImageFile.Probe png |> ignore) id
            Expect.isTrue (e :? ImageTooLargeException) "too large"
            Expect.stringContains e.Message png "names the file"
        }

        testProperty "ReadPage k is page k of Read, for every page of every TIFF stack"
        <| Prop.forAll
            (Arb.fromGen (
                Gen.elements (
                    imageFiles ()
                    |> List.filter (fun f -> f.EndsWith ".tif" && (outcome (fun () -> ImageFile.Read f)).IsOk)
                )
            ))
            (fun f ->
                let all = ImageFile.Read f

                [ 0 .. all.PageCount - 1 ]
                |> List.forall (fun k ->
                    let one = ImageFile.ReadPage(f, k)

                    one.PageCount = 1
                    && one.Pages[0] = all.Pages[k]
                    && one.BitDepth = all.BitDepth
                    && one.Channels = all.Channels))

        test "ReadPage refuses a page the stack does not have, naming the file" {
            let f = fixture [ "isbi"; "train-volume.tif" ]
            let e = Expect.throwsC (fun () -> ImageFile.ReadPage(f, 4) |> ignore) id
            Expect.isTrue (e :? ImageFormatException) "an image format error"
            Expect.stringContains e.Message f "the file"
            Expect.stringContains e.Message "4 page(s)" "the page count"
        }
    ]
