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

let private genCase =
    gen {
        let! seed = Gen.choose (0, 10000)
        let! widths = Gen.elements [ [ 2; 4 ]; [ 2; 4; 8 ]; [ 2; 4; 8; 16 ] ]
        let! inChannels = Gen.choose (1, 2)
        let! classes = Gen.choose (1, 3)
        let! height = Gen.choose (1, 110)
        let! width = Gen.choose (1, 110)
        let! tile = Gen.choose (40, 140)
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

[<Tests>]
let tests =
    testList "Tiling.Law" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 20
            }
            "tiled logits equal the whole mirror-padded image's (transposed up)"
        <| Prop.forAll (Arb.fromGen genCase) (fun c ->
            let gap = lawGap UpMode.Transposed c
            (gap <= 1e-4) |> Prop.label (sprintf "max abs difference %g" gap))
    ]
