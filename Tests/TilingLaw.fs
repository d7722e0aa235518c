/// The overlap-tile law: for unpadded nets, stitched tiles equal one pass over the whole mirror-padded image.
module CropCat.Tests.TilingLaw

open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Inference
open CropCat.Shapes
open TorchSharp
open CropCat.Tests.TilingSupport

/// One generated case: a tiny unpadded net, an image size, a requested tile size and a batch size.
type LawCase = {
    Seed: int
    Widths: int list
    InChannels: int
    Classes: int
    Height: int
    Width: int
    Tile: int
    Batch: int
}

/// One net per width list, for planning only: the plan depends on the layer tree, not the weights or channels.
let private planners =
    System.Collections.Concurrent.ConcurrentDictionary<int list, CropCat.Nets.Network>()

let private plan (widths: int list) tile h w =
    let net =
        planners.GetOrAdd(widths, fun ws -> tinyNet 0 ws CropCat.Shapes.Padding.Valid UpMode.Transposed 1 1)

    OverlapTile(net, TileOptions(TileSize = tile)).Plan(h, w)

/// Number of tiles the tiler plans for a case.
let tileCount (c: LawCase) =
    (plan c.Widths c.Tile c.Height c.Width).Count

let private genCase =
    gen {
        let! seed = Gen.choose (0, 10000)
        let! widths = Gen.elements [ [ 2; 4 ]; [ 2; 4; 8 ]; [ 2; 4; 8; 16 ] ]
        let! inChannels = Gen.choose (1, 2)
        let! classes = Gen.choose (1, 3)
        let! tile = Gen.choose (40, 140)
        // Edges relative to one tile's output o: two thirds of them longer (up to 2 o + 16 px, so the
        // case stays cheap), so most images stitch several tiles; the rest fit into one tile along that
        // axis, 1 px rows and columns included.
        let o = (plan widths tile tile tile).OutputSize

        let edge =
            Gen.frequency [
                1, Gen.constant 1
                3, Gen.choose (2, o)
                8, Gen.choose (o + 1, min 128 (2 * o + 16))
            ]

        let! height = edge
        let! width = edge
        let! batch = Gen.choose (1, 3)

        return {
            Seed = seed
            Widths = widths
            InChannels = inChannels
            Classes = classes
            Height = height
            Width = width
            Tile = tile
            Batch = batch
        }
    }

/// How a case is classified in the property's report.
let private kind (c: LawCase) =
    if tileCount c = 1 then "single tile" else "multi-tile"

/// Tiled logits minus whole-image logits, largest absolute value.
let lawGap (up: UpMode) (c: LawCase) =
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()

    let net =
        tinyNet c.Seed c.Widths CropCat.Shapes.Padding.Valid up c.InChannels c.Classes

    torch.manual_seed (int64 c.Seed + 1L) |> ignore
    let image = torch.rand (int64 c.InChannels, int64 c.Height, int64 c.Width)

    let options =
        TileOptions(TileSize = c.Tile, BatchSize = c.Batch, Output = TileOutput.Logits)

    tiledGap net options image

/// Generated cases of the law. A case costs little once libtorch has seen its shapes; the first pass
/// over new tile and image shapes dominates (0.1-1 s per case on a busy 2-core machine).
let lawCases = 60

[<Tests>]
let tests =
    testList "Tiling.Law" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = lawCases
            }
            "tiled logits equal the whole mirror-padded image's (transposed up)"
        <| Prop.forAll (Arb.fromGen genCase) (fun c ->
            let gap = lawGap UpMode.Transposed c

            (gap <= 1e-4)
            |> Prop.classify true (kind c)
            |> Prop.classify (c.Height = 1 || c.Width = 1) "1 px row or column"
            |> Prop.label (sprintf "%A: max abs difference %g" c gap))

        test "the law's generated cases are mostly multi-tile, and single-tile and 1 px cases still occur" {
            let cases = Gen.sample 1000 genCase

            let share p =
                float (cases |> Array.filter p |> Array.length) / float cases.Length

            let multi = share (fun c -> tileCount c > 1)
            let thin = share (fun c -> c.Height = 1 || c.Width = 1)
            // The earlier generator (edges 1-110 px whatever the tile) gave about 0.7; this one about 0.89.
            Expect.isGreaterThan multi 0.8 $"multi-tile share {multi}"
            Expect.isGreaterThan (1.0 - multi) 0.05 $"single-tile share {1.0 - multi}"
            Expect.isGreaterThan thin 0.005 $"1 px share {thin}"
        }
    ]
