/// TensorBoard event files read back by a decoder written here, independent of the writer: TFRecord framing
/// (uint64 length, masked CRC-32C of it, data, masked CRC-32C of the data) with a table-driven CRC-32C, and the
/// Event / Summary / Value / Image protobuf fields decoded by hand from their field numbers in TensorFlow's
/// event.proto and summary.proto. Checked against what the trainer reported.
module CropCat.Tests.TensorBoardTests

open System
open System.IO
open Expecto
open FsCheck.FSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open TorchSharp

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), byte at a time from a table.
let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n

        for _ in 1..8 do
            c <-
                if c &&& 1u <> 0u then
                    0x82F63B78u ^^^ (c >>> 1)
                else
                    c >>> 1

        c)

let private crc32c (bytes: byte[]) =
    let mutable c = 0xFFFFFFFFu

    for b in bytes do
        c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)

    ~~~c

let private masked (bytes: byte[]) =
    let c = crc32c bytes
    ((c >>> 15) ||| (c <<< 17)) + 0xa282ead8u

/// Every record's data, the framing and both CRCs checked.
let private records (path: string) =
    let bytes = File.ReadAllBytes path
    let mutable at = 0

    [
        while at < bytes.Length do
            if bytes.Length - at < 12 then
                failwith $"{path}: {bytes.Length - at} stray bytes at offset {at}"

            let lengthBytes = bytes[at .. at + 7]
            let length = BitConverter.ToUInt64(lengthBytes, 0) |> int

            if BitConverter.ToUInt32(bytes, at + 8) <> masked lengthBytes then
                failwith $"{path}: bad length CRC at offset {at}"

            let data = bytes[at + 12 .. at + 12 + length - 1]

            if BitConverter.ToUInt32(bytes, at + 12 + length) <> masked data then
                failwith $"{path}: bad data CRC at offset {at}"

            yield data
            at <- at + 12 + length + 4
    ]

/// A protobuf field: number and value (varint as uint64, fixed64/fixed32 raw bits, length-delimited bytes).
type private Field =
    | Varint of int * uint64
    | Fixed64 of int * uint64
    | Fixed32 of int * uint32
    | Bytes of int * byte[]

let private fields (b: byte[]) =
    let mutable i = 0

    let varint () =
        let mutable v = 0UL
        let mutable shift = 0
        let mutable go = true

        while go do
            let x = b[i]
            i <- i + 1
            v <- v ||| (uint64 (x &&& 0x7Fuy) <<< shift)
            shift <- shift + 7
            go <- x &&& 0x80uy <> 0uy

        v

    [
        while i < b.Length do
            let key = varint ()
            let number = int (key >>> 3)

            match int (key &&& 7UL) with
            | 0 -> yield Varint(number, varint ())
            | 1 ->
                yield Fixed64(number, BitConverter.ToUInt64(b, i))
                i <- i + 8
            | 2 ->
                let n = int (varint ())
                yield Bytes(number, b[i .. i + n - 1])
                i <- i + n
            | 5 ->
                yield Fixed32(number, BitConverter.ToUInt32(b, i))
                i <- i + 4
            | w -> failwith $"wire type {w} in a TensorBoard event"
    ]

/// What the hand decoder reads from one Event.
type private Decoded = {
    WallTime: float
    Step: int64
    FileVersion: string option
    /// (tag, simple_value) of scalar values.
    Scalars: (string * float32) list
    /// (tag, height, width, encoded bytes) of image values.
    Images: (string * int * int * byte[]) list
}

let private decodeEvent (data: byte[]) =
    let fs = fields data

    let summary =
        fs
        |> List.tryPick (function
            | Bytes(5, s) -> Some s
            | _ -> None)

    let values =
        match summary with
        | Some s ->
            fields s
            |> List.choose (function
                | Bytes(1, v) -> Some(fields v)
                | _ -> None)
        | None -> []

    let tag v =
        v
        |> List.pick (function
            | Bytes(1, t) -> Some(Text.Encoding.UTF8.GetString t)
            | _ -> None)

    {
        WallTime =
            fs
            |> List.pick (function
                | Fixed64(1, w) -> Some(BitConverter.UInt64BitsToDouble w)
                | _ -> None)
        Step =
            fs
            |> List.tryPick (function
                | Varint(2, s) -> Some(int64 s)
                | _ -> None)
            |> Option.defaultValue 0L
        FileVersion =
            fs
            |> List.tryPick (function
                | Bytes(3, v) -> Some(Text.Encoding.UTF8.GetString v)
                | _ -> None)
        Scalars =
            values
            |> List.choose (fun v ->
                v
                |> List.tryPick (function
                    | Fixed32(2, x) -> Some(tag v, BitConverter.UInt32BitsToSingle x)
                    | _ -> None))
        Images =
            values
            |> List.choose (fun v ->
                v
                |> List.tryPick (function
                    | Bytes(4, img) ->
                        let f = fields img

                        let int n =
                            f
                            |> List.pick (function
                                | Varint(k, x) when k = n -> Some(int x)
                                | _ -> None)

                        let png =
                            f
                            |> List.pick (function
                                | Bytes(4, p) -> Some p
                                | _ -> None)

                        Some(tag v, int 1, int 2, png)
                    | _ -> None))
    }

let private eventsIn (dir: string) =
    match Directory.GetFiles(dir, "events.out.tfevents.*") with
    | [| one |] -> records one |> List.map decodeEvent
    | files -> failwith $"{dir}: expected one event file, found {files.Length}"

let private cells first n = [
    for i in 0 .. n - 1 ->
        SyntheticCells.Generate(first + i, SyntheticCellsOptions(Height = 36, Width = 36, MinRadius = 5.0, MaxRadius = 9.0))
]

[<Tests>]
let tests =
    testList "TensorBoard" [
        test "a short run's event file decodes by hand to the steps, losses, metrics and overlays training reported" {
            NativeRuntime.EnsureLoaded()
            torch.manual_seed 3L |> ignore
            use net = UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)
            let dir = TestUtil.tempDir ()
            let valSet = cells 900 2
            let board = new CropCat.Cli.TensorBoard.Writer(dir, net, List.truncate 1 valSet)
            let stepLosses = ResizeArray()

            let options =
                TrainerOptions(
                    Epochs = 3,
                    StepsPerEpoch = 2,
                    Optimizer = OptimizerKind.Adam,
                    LearningRate = 1e-3,
                    Schedule = LearningRateSchedule.Parse "cosine",
                    Seed = 5,
                    Progress = null,
                    StepDone =
                        Action<int64, float>(fun s l ->
                            stepLosses.Add((s, l))
                            board.StepDone.Invoke(s, l)),
                    EpochDone = board.EpochDone
                )

            use trainer = new Trainer(net, LabelSchema.Binary255, options)
            board.Trainer <- Some trainer
            let before = float (DateTimeOffset.UtcNow.ToUnixTimeSeconds())
            let result = trainer.Fit(ResizeArray(cells 700 4), ResizeArray valSet)
            (board :> IDisposable).Dispose()
            let events = eventsIn dir
            Expect.equal events.Head.FileVersion (Some "brain.Event:2") "the first record names the file version"

            for e in events do
                Expect.isTrue (e.WallTime >= before - 1.0 && e.WallTime < before + 600.0) $"wall time {e.WallTime} is seconds since 1970"

            let scalars tag = [
                for e in events do
                    for t, v in e.Scalars do
                        if t = tag then
                            yield e.Step, v
            ]

            Expect.equal
                (scalars CropCat.Cli.TensorBoard.StepLossTag)
                [ for s, l in stepLosses -> s, float32 l ]
                "every step's loss at its step"

            let history = List.ofSeq result.History
            Expect.equal history.Length 3 "three epochs"

            for tag, pick in
                [
                    "loss/train", (fun (h: EpochRecord) -> h.TrainLoss)
                    "loss/validation", (fun h -> h.ValidationLoss)
                    "validation/iou_foreground", (fun h -> h.ValidationIoU[1])
                    "validation/dice_foreground", (fun h -> h.ValidationDice[1])
                    "train/learning_rate", (fun h -> h.LearningRate)
                ] do
                Expect.equal (scalars tag) [ for h in history -> h.Step, float32 (pick h) ] $"{tag} per epoch, at the epoch's last step"

            let images = [
                for e in events do
                    for t, h, w, png in e.Images -> e.Step, t, h, w, png
            ]

            Expect.equal
                (images |> List.map (fun (s, t, _, _, _) -> s, t))
                [ for h in history -> h.Step, "overlay/1" ]
                "one overlay per epoch"

            for _, _, h, w, png in images do
                let decoded = CropCat.Imaging.PngReader.Decode(png, "overlay")
                Expect.equal (decoded.Width, decoded.Height) (w, h) "the Image message's size is the PNG's"
        }

        testProperty "the writer's masked CRC-32C is the table-driven one"
        <| fun (bytes: byte[]) -> TensorBoardLog.MaskedCrc(ReadOnlySpan bytes) = masked bytes

        test "cropcat train --tensorboard logs each epoch's train loss as its epoch line prints it" {
            let data = TestUtil.syntheticFolder 710 4 100
            let out, board = TestUtil.tempDir (), TestUtil.tempDir ()

            let code, _, err =
                CliTests.cropcat [
                    "train"
                    "--data"
                    data
                    "--out"
                    out
                    "--widths"
                    "4,8"
                    "--epochs"
                    "2"
                    "--steps-per-epoch"
                    "2"
                    "--threads"
                    "1"
                    "--tensorboard"
                    board
                ]

            Expect.equal code 0 err

            let printed =
                err.Split '\n'
                |> Array.choose (fun l ->
                    let m =
                        Text.RegularExpressions.Regex.Match(l, @"^epoch (\d+)/2 .* train loss ([0-9.]+)")

                    if m.Success then Some(float m.Groups[2].Value) else None)
                |> List.ofArray

            let logged = [
                for e in eventsIn board do
                    for t, v in e.Scalars do
                        if t = "loss/train" then
                            yield e.Step, float v
            ]

            Expect.equal (logged |> List.map fst) [ 2L; 4L ] "at steps 2 and 4"
            Expect.equal printed.Length 2 "two epoch lines"

            for (_, v), p in List.zip logged printed do
                // The line prints 4 decimals of the double; the log holds it as float32.
                Expect.isLessThanOrEqual (abs (v - p)) 5.1e-5 $"logged {v} prints as {p}"

            // The held-out image's tiles are shown each epoch: labels beside predictions, as PNG images.
            let overlays = [
                for e in eventsIn board do
                    for t, h, w, png in e.Images -> e.Step, t, h, w, png
            ]

            Expect.equal
                (overlays
                 |> List.filter (fun (_, t, _, _, _) -> t = "overlay/1")
                 |> List.map (fun (s, _, _, _, _) -> s))
                [ 2L; 4L ]
                "a validation overlay at each epoch's last step"

            for _, _, h, w, png in overlays do
                let decoded = CropCat.Imaging.PngReader.Decode(png, "overlay")
                Expect.equal (decoded.Width, decoded.Height) (w, h) "the Image message's size is the PNG's"
                Expect.isGreaterThan w h "two panels side by side"

            Expect.isTrue (File.Exists(Path.Combine(out, "curves.png"))) "curves.png beside the checkpoint"
        }
    ]
