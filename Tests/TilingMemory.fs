/// The memory-budget tile choice: the predicted activation peak grows with the tile, and the chosen tile is
/// valid, fits and is the largest that fits.
module CropCat.Tests.TilingMemory

open System
open Expecto
open FsCheck
open CropCat.Inference
open CropCat.Nets
open CropCat.Shapes
open CropCat.Tests.TilingSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 40
}

/// Unpadded tiny nets of depth 1-3 (their valid sizes step by 2, 4 or 8).
let private nets =
    lazy
        [|
            tinyNet 1 [ 4; 8 ] Padding.Valid UpMode.Transposed 1 2
            tinyNet 2 [ 4; 8; 16 ] Padding.Valid UpMode.Transposed 3 2
            tinyNet 3 [ 2; 4; 8; 16 ] Padding.Valid UpMode.Transposed 1 3
        |]

/// The valid tile edges of a net from its smallest on, `count` of them (the test's own search).
let private validTiles (net: Network) count =
    Seq.unfold (fun n -> let t = smallestValidAtLeast net n in Some(t, t + 1)) 1
    |> Seq.take count
    |> List.ofSeq

[<Tests>]
let tests =
    testList "Tiling memory budget" [
        testPropertyWithConfig config "the predicted peak grows with the tile, and the tensor peak is linear in the batch"
        <| fun (which: int) (batch: byte) ->
            let net = nets.Value[abs which % 3]
            let batch = 1 + int batch % 4

            let peaks =
                validTiles net 12 |> List.map (fun t -> TileMemory.PeakBytes(net, t, batch))

            peaks |> List.pairwise |> List.forall (fun (a, b) -> a < b)
            && validTiles net 12
               |> List.forall (fun t -> TileMemory.TensorPeakBytes(net, t, batch) = int64 batch * TileMemory.TensorPeakBytes(net, t, 1))

        testPropertyWithConfig config "the chosen tile is valid, fits the budget and is the largest valid tile that does"
        <| fun (which: int) (budgetKiB: PositiveInt) ->
            let net = nets.Value[abs which % 3]
            let budget = int64 (budgetKiB.Get % 20000) * 1024L
            let tiles = validTiles net 200

            let fitting =
                tiles |> List.filter (fun t -> TileMemory.PeakBytes(net, t, 1) <= budget)

            match
                TileMemory.LargestFitting(net, budget, maxTile = List.last tiles)
                |> Option.ofNullable
            with
            | None -> List.isEmpty fitting
            | Some c ->
                List.contains c.Tile tiles
                && TileMemory.PeakBytes(net, c.Tile, 1) <= budget
                && c.Tile = List.max fitting
                && c.Output = net.Infer(c.Tile, c.Tile)

        test "a plan with a memory budget uses the budget's tile, and a budget too small is refused with the sizes" {
            let net = nets.Value[1]
            let budget = 3L * 1024L * 1024L

            let expected =
                (TileMemory.LargestFitting(net, budget, minOutput = net.Spec.DownsamplingFactor)).Value.Tile

            let plan = TilePlan.For(net, 5000, 5000, TileOptions(MemoryBudget = budget))
            Expect.equal plan.TileSize expected "tile from the budget"
            Expect.isLessThanOrEqual (TileMemory.PeakBytes(net, plan.TileSize, 1)) budget "fits"
            Expect.isTrue (plan.MarginFraction > 0.0 && plan.MarginFraction < 1.0) "a margin fraction"

            let message =
                try
                    TilePlan.For(net, 500, 500, TileOptions(MemoryBudget = 100L)) |> ignore
                    ""
                with :? ArgumentException as e ->
                    e.Message

            Expect.stringContains message "memory budget" "a budget below the smallest tile is refused, saying why"
            Expect.stringContains message "budget of 100 B" "the budget in a unit that does not round it to 0"
            Expect.equal (TileMemory.FormatBytes(3L <<< 19)) "1.5 MiB" "a fractional MiB reads as such"
        }

        test "byte counts parse with binary and decimal units and refuse junk" {
            Expect.equal (TileMemory.ParseBytes "2GiB") (2L <<< 30) "GiB"
            Expect.equal (TileMemory.ParseBytes "1.5 MiB") (3L <<< 19) "fractional MiB"
            Expect.equal (TileMemory.ParseBytes "800MB") 800_000_000L "MB"
            Expect.equal (TileMemory.ParseBytes "4096") 4096L "bare bytes"

            for bad in [ "two GiB"; "-1GiB"; "3 parsecs"; "" ] do
                Expect.throwsT<FormatException> (fun () -> TileMemory.ParseBytes bad |> ignore) bad
        }

        test "the default budget is a fraction of memory that is there" {
            let b = TileMemory.DefaultBudget()
            Expect.isGreaterThan b 0L "positive"

            match TileMemory.AvailableBytes() |> Option.ofNullable with
            | Some a -> Expect.isLessThanOrEqual b a "at most what is available"
            | None -> ()
        }
    ]
