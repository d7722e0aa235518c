/// Streamed training: output-window tiles with mirror padding and ignored padding pixels, the bounded image
/// cache, prefetching that changes nothing but speed, and resuming a streamed run.
module CropCat.Tests.StreamingTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.IO
open CropCat.Nets
open CropCat.Numerics
open CropCat.Runtime
open CropCat.Shapes
open CropCat.Training
open TorchSharp

/// An image whose every value is its own planar index, so a tile shows where each pixel came from.
let private indexed (h: int) (w: int) (channels: int) =
    let classes = Array.init (h * w) (fun i -> i % 3)

    Sample(
        "s",
        h,
        w,
        Array.init (channels * h * w) float32,
        classes,
        Array.init (h * w) (fun i -> i + 1),
        Array.init (h * w) float32,
        channels
    )

/// Depth 1, widths [2; 4]: a 36 px tile gives a 20 px output.
let private tinyNet seed =
    NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore
    UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)

/// Entries over synthetic cells of various sizes, some smaller than the 20 px output window.
let private entries (sizes: (int * int) list) =
    sizes
    |> List.mapi (fun i (h, w) ->
        let s =
            SyntheticCells.Generate(300 + i, SyntheticCellsOptions(Height = h, Width = w, MinRadius = 3.0, MaxRadius = 6.0))

        let named = Sample($"img{i}", s.Height, s.Width, s.Image, s.Classes, s.Instances)
        DatasetEntry(named.Name, $"synthetic {i}", h, w, fun () -> named))
    |> ResizeArray

let private stateOf (net: Network) =
    net.state_dict ()
    |> Seq.map (fun kv -> kv.Key, kv.Value.detach().cpu().contiguous().to_type(torch.ScalarType.Float64).data<float>().ToArray())
    |> List.ofSeq

let private options prefetch (path: string) maxSteps =
    TrainerOptions(
        Epochs = 2,
        Optimizer = OptimizerKind.Adam,
        LearningRate = 1e-3,
        Loss = LossKind.WeightedCrossEntropyPlusDice,
        Seed = 5,
        Prefetch = prefetch,
        MaxSteps = maxSteps,
        CheckpointPath = path,
        Progress = null
    )

let private streamed (es: ResizeArray<DatasetEntry>) =
    let wm = WeightMapOptions()
    StreamingTiles(es, 36, 20, 20, (fun s -> FolderTraining.Prepare(s, wm)), 1L <<< 30)

[<Tests>]
let tiles =
    testList "Training.streaming.windows" [
        testProperty "a tile is the mirror extension of its image; classes outside the image are ignored"
        <| fun (h0: PositiveInt) (w0: PositiveInt) (t0: PositiveInt) (o0: NonNegativeInt) (dy: int) (dx: int) (rgb: bool) ->
            let h, w = h0.Get % 30 + 1, w0.Get % 30 + 1
            let t = t0.Get % 24 + 1
            let o = o0.Get % t + 1
            let oy, ox = dy % (h + o + 2), dx % (w + o + 2)
            let channels = if rgb then 3 else 1
            let s = indexed h w channels
            let tile = TileWindow.Cut(s, oy, ox, t, o, o)
            let top, left = oy - ShapeRules.CropOffset(t, o), ox - ShapeRules.CropOffset(t, o)

            seq {
                for y in 0 .. t - 1 do
                    for x in 0 .. t - 1 do
                        let sy, sx = Mirror.Index(int64 (top + y), h), Mirror.Index(int64 (left + x), w)
                        let inside = top + y >= 0 && top + y < h && left + x >= 0 && left + x < w

                        for c in 0 .. channels - 1 do
                            yield tile.Image[c * t * t + y * t + x] = float32 (c * h * w + sy * w + sx)

                        let j = (top + y) * w + left + x
                        yield tile.Classes[y * t + x] = (if inside then s.Classes[j] else TileWindow.Ignore)
                        yield tile.Instances[y * t + x] = (if inside then s.Instances[j] else 0)
                        yield tile.Weights[y * t + x] = (if inside then s.Weights[j] else 0.0f)
            }
            |> Seq.forall id

        testProperty "grid windows cover every pixel of the axis; random windows stay inside it or cover all of it"
        <| fun (n0: PositiveInt) (o0: PositiveInt) (seed: int) ->
            let n, o = n0.Get % 200 + 1, o0.Get % 60 + 1
            let starts = TileWindow.GridStarts(n, o)
            let covered = Array.zeroCreate n

            for s in starts do
                for p in max 0 s .. min n (s + o) - 1 do
                    covered[p] <- true

            let rng = Random seed
            let r = TileWindow.RandomStart(rng, n, o)

            let randomOk =
                if n >= o then
                    r >= 0 && r + o <= n
                else
                    r <= 0 && r + o >= n

            Array.forall id covered
            && randomOk
            && (n < o || starts |> Seq.forall (fun s -> s >= 0 && s + o <= n))

        testProperty "ignored pixels change no loss: any target there gives the same cross-entropy and Dice"
        <| fun (seed: int) ->
            NativeRuntime.EnsureLoaded()
            use _ = torch.NewDisposeScope()
            torch.manual_seed (int64 seed) |> ignore
            let logits = torch.randn (2L, 3L, 5L, 6L)

            let valid =
                torch.rand(2L, 5L, 6L).gt(torch.tensor 0.4).to_type torch.ScalarType.Float32

            let t1 = torch.randint (3L, [| 2L; 5L; 6L |])

            let t2 =
                torch.where (valid.gt (torch.tensor 0.5), t1, torch.randint (3L, [| 2L; 5L; 6L |]))

            let w = torch.rand (2L, 5L, 6L) * valid

            [
                LossKind.WeightedCrossEntropy
                LossKind.Dice
                LossKind.WeightedCrossEntropyPlusDice
            ]
            |> List.forall (fun k ->
                let a = Losses.Compute(k, logits, t1, w, valid).item<float32> ()
                let b = Losses.Compute(k, logits, t2, w, valid).item<float32> ()
                abs (a - b) < 1e-6f)

        test "ignored pixels count in no score" {
            let m = ConfusionMatrix 2
            m.Add([| 0; 1; TileWindow.Ignore; TileWindow.Ignore |], [| 0; 1; 1; 0 |])
            Expect.equal (m[0, 0], m[1, 1], m[0, 1], m[1, 0]) (1L, 1L, 0L, 0L) "only the two real pixels"
        }
    ]

[<Tests>]
let streaming =
    testList "Training.streaming.set" [
        test "an epoch has one draw per grid window; draws are reproducible and stay with their image" {
            let es = entries [ 40, 30; 12, 15; 20, 20 ]
            let set = streamed es
            // 40x30 with 20 px windows: 2 x 2; 12x15: 1; 20x20: 1.
            Expect.equal set.Count 6 "4 + 1 + 1 draws"
            Expect.equal [ for i in 0..5 -> set.EntryOf i ] [ 0; 0; 0; 0; 1; 2 ] "draws map to images in order"
            let a, b = set.Draw(1, 42L), set.Draw(1, 42L)
            Expect.equal a.Image b.Image "the same draw and seed give the same tile"
            Expect.stringStarts a.Name "img0@" "named after its image"
            let small = set.Draw(4, 7L)
            let real = small.Classes |> Array.filter (fun c -> c <> TileWindow.Ignore)
            // The 20 px window covers the 12x15 image wholly: its output part holds all 180 image pixels.
            let inOutput =
                Crops.Center(small.Classes, 36, 36, 20, 20)
                |> Array.filter (fun c -> c <> TileWindow.Ignore)

            Expect.equal inOutput.Length (12 * 15) "the whole small image is in the loss"
            Expect.isGreaterThanOrEqual real.Length inOutput.Length "and nothing else of it is lost"
        }

        test "the cache holds at most its bound and decodes each image once when everything fits" {
            let es = entries [ 30, 30; 30, 30; 30, 30 ]
            let loads = Collections.Generic.List<int>()
            let one = SampleCache.SizeOf(es[0].Load())

            let small =
                SampleCache(
                    (fun i ->
                        loads.Add i
                        es[i].Load()),
                    one * 2L
                )

            for i in [ 0; 1; 2; 0; 1; 2 ] do
                small.Get i |> ignore
                Expect.isLessThanOrEqual small.Bytes small.MaxBytes "within the bound"

            Expect.equal small.Loads 6L "a two-image cache over three images in turn decodes every time (LRU)"
            let big = SampleCache((fun i -> es[i].Load()), one * 3L)

            for i in [ 0; 1; 2; 0; 1; 2 ] do
                big.Get i |> ignore

            Expect.equal (big.Loads, big.Hits) (3L, 3L) "everything fits: one decode per image"
        }

        test "prefetching changes nothing: the same weights with prefetch 0 and 3" {
            let es = entries [ 40, 30; 12, 15; 25, 25 ]

            let run prefetch =
                use net = tinyNet 1
                use t = new Trainer(net, LabelSchema.Binary255, options prefetch null 0L)

                let r =
                    t.Fit(
                        streamed es,
                        StreamingTiles.GridTiles(es |> Seq.take 1, 36, 20, 20, (fun s -> FolderTraining.Prepare(s, WeightMapOptions())))
                    )

                stateOf net, r

            let (a, ra), (b, _) = run 0, run 3
            Expect.equal a b "identical weights"
            Expect.equal ra.Steps 18L "two epochs of 4 + 1 + 4 draws"
            Expect.isFalse (Double.IsNaN ra.History[1].ValidationLoss) "validated on the lazy grid"
        }

        test "an image that cannot be decoded is reported once and skipped; draws go to the next readable image" {
            let es = entries [ 30, 30; 30, 30; 30, 30 ]

            let bad =
                DatasetEntry(
                    "bad.jpg",
                    "images/bad.jpg",
                    30,
                    30,
                    fun () -> raise (DatasetException "cannot read images/bad.jpg: truncated")
                )

            es.Insert(1, bad)
            let warnings = Collections.Generic.List<string>()
            let wm = WeightMapOptions()

            let set =
                StreamingTiles(es, 36, 20, 20, (fun s -> FolderTraining.Prepare(s, wm)), 1L <<< 30, Warning = Action<string>(warnings.Add))

            let tiles = [ for i in 0 .. set.Count - 1 -> set.Draw(i, int64 i) ]

            Expect.equal
                (List.ofSeq warnings)
                [ "skipping images/bad.jpg: cannot read images/bad.jpg: truncated" ]
                "one message naming the file"

            Expect.equal (List.ofSeq set.Skipped.Keys) [ "bad.jpg" ] "listed"
            Expect.isTrue (tiles |> List.forall (fun t -> not (t.Name.StartsWith "bad"))) "no tile from it"
            Expect.equal (set.EntryOf 4) 1 "draw 4 belongs to the bad image"
            Expect.stringStarts tiles[4].Name "img1@" "its draws went to the next image (img1 follows it)"
            let none = StreamingTiles(ResizeArray [ bad ], 36, 20, 20, id, 0L)
            let m = TestUtil.messageOf<DatasetException> (fun () -> none.Draw(0, 0L) |> ignore)
            Expect.stringContains m "none of the 1 training images can be read" "says so when nothing is readable"
        }

        test "a streamed run stopped mid-epoch resumes to the uninterrupted run's weights" {
            let es = entries [ 40, 30; 12, 15; 25, 25 ]
            let dir = TestUtil.tempDir ()
            let whole = tinyNet 1

            do
                use t =
                    new Trainer(whole, LabelSchema.Binary255, options 2 (Path.Combine(dir, "whole.safetensors")) 0L)

                t.Fit(streamed es) |> ignore

            let path = Path.Combine(dir, "part.safetensors")
            let first = tinyNet 1

            do
                use t = new Trainer(first, LabelSchema.Binary255, options 2 path 4L)
                t.Fit(streamed es) |> ignore

            let resumed = tinyNet 99

            do
                use t = new Trainer(resumed, LabelSchema.Binary255, options 2 path 0L)
                t.Resume path |> ignore
                t.Fit(streamed es) |> ignore

            Expect.equal (stateOf resumed) (stateOf whole) "the resumed run ends where the uninterrupted one does"
            let other = entries [ 40, 30; 12, 15 ]
            let again = tinyNet 2
            use t = new Trainer(again, LabelSchema.Binary255, options 2 path 0L)
            t.Resume path |> ignore

            let m =
                TestUtil.messageOf<CheckpointMismatchException> (fun () -> t.Fit(streamed other) |> ignore)

            Expect.stringContains m "training data" "other images are refused"
        }
    ]
