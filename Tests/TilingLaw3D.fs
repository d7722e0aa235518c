/// The overlap-tile law in 3-D: stitched cube tiles of a volume equal one pass over the whole
/// mirror-padded volume, for unpadded 3-D U-Nets of depth 1 and 2.
module CropCat.Tests.TilingLaw3D

open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Architecture
open CropCat.Inference
open CropCat.Nets
open CropCat.Shapes
open TorchSharp
open CropCat.Tests.TilingSupport

/// A tiny unpadded 3-D U-Net in eval mode with a fixed seed.
let private tinyNet3d (seed: int) (widths: int list) (inChannels: int) (classes: int) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore

    let net =
        UNet.Create(UNetOptions(InChannels = inChannels, Classes = classes, Widths = Array.ofList widths, Dims = 3), torch.CPU)

    net.eval ()
    net

/// numpy's "reflect" index, written here independently of CropCat.Inference.Mirror.
let private reflect (i: int) (n: int) =
    if n = 1 then
        0
    else
        let period = 2 * (n - 1)
        let j = ((i % period) + period) % period
        if j < n then j else period - j

/// The law's right-hand side: the whole volume mirror-padded by the margin before each axis and up to a
/// valid size after it, one forward pass, cropped back. Returns (classes, D, H, W) logits.
let private wholeVolumeLogits (net: Network) (volume: torch.Tensor) =
    let sizes = ValidSizes.Solve(net.Spec).OrThrow()
    let first = sizes.Smallest
    let m = (first - sizes.OutputOf(first).Value) / 2
    let extents = [ for a in 1..3 -> int volume.shape[a] ]
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    let mutable padded = volume

    for a, n in List.indexed extents do
        let total = sizes.Above(n + 2 * m)
        let idx = Array.init total (fun k -> int64 (reflect (k - m) n))
        padded <- padded.index_select (int64 (a + 1), torch.tensor idx)

    let y = net.forward(padded.unsqueeze 0L).squeeze 0L

    let mutable cropped = y

    for a, n in List.indexed extents do
        cropped <- cropped.narrow (int64 (a + 1), 0L, int64 n)

    cropped.clone().MoveToOuterDisposeScope()

/// One generated case: a tiny 3-D net, a volume size, a requested tile size and a batch size.
type Case3D = {
    Seed: int
    Widths: int list
    InChannels: int
    Classes: int
    Extents: int list
    Tile: int
    Batch: int
}

let private genCase =
    gen {
        let! seed = Gen.choose (0, 10000)
        let! widths = Gen.elements [ [ 2; 3 ]; [ 2; 3; 4 ] ]
        let! inChannels = Gen.choose (1, 2)
        let! classes = Gen.choose (1, 2)
        let! tile = Gen.choose (16, 48)
        let! extents = Gen.listOfLength 3 (Gen.frequency [ 1, Gen.constant 1; 6, Gen.choose (2, 40) ])
        let! batch = Gen.choose (1, 2)

        return {
            Seed = seed
            Widths = widths
            InChannels = inChannels
            Classes = classes
            Extents = extents
            Tile = tile
            Batch = batch
        }
    }

let private gap (c: Case3D) =
    use scope = torch.NewDisposeScope()
    use net = tinyNet3d c.Seed c.Widths c.InChannels c.Classes
    torch.manual_seed (int64 c.Seed + 1L) |> ignore

    let volume =
        torch.rand (Array.ofList (int64 c.InChannels :: (c.Extents |> List.map int64)))

    let options =
        TileOptions(TileSize = c.Tile, BatchSize = c.Batch, Output = TileOutput.Logits)

    let tiler = OverlapTile(net, options)
    let plan = tiler.Plan(Array.ofList c.Extents)
    let tiled = tiler.Predict volume
    let whole = wholeVolumeLogits net volume
    Expect.sequenceEqual tiled.shape whole.shape "tiled and whole-volume outputs have the volume's shape"
    maxAbsDiff tiled whole, plan.Count

[<Tests>]
let tests =
    testList "Tiling.Law 3-D" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 15
            }
            "tiled 3-D logits equal the whole mirror-padded volume's (depth 1-2, random sizes and tiles)"
        <| Prop.forAll (Arb.fromGen genCase) (fun c ->
            let g, tiles = gap c

            (g <= 1e-4)
            |> Prop.classify (tiles > 1) "multi-tile"
            |> Prop.classify (List.contains 1 c.Extents) "1 voxel axis"
            |> Prop.label (sprintf "%A: max abs difference %g over %d tiles" c g tiles))

        test "a 3-D plan steps on the down-sampling grid on every axis" {
            use net = tinyNet3d 1 [ 2; 3; 4 ] 1 1
            let plan = OverlapTile(net, TileOptions(TileSize = 44)).Plan(30, 50, 70)
            Expect.equal plan.Offsets.Count 3 "three axes"
            Expect.equal plan.Factor 4 "depth 2: 2^2 per axis"

            for axis in plan.Offsets do
                for o in axis do
                    Expect.equal (o % plan.Factor) 0 "offsets on the factor grid"

            Expect.isGreaterThan plan.Count 1 "several tiles"
        }

        test "a 3-D net's whole-volume prediction equals the tiled one" {
            use net = tinyNet3d 3 [ 2; 3 ] 1 2
            torch.manual_seed 4L |> ignore
            let v = torch.rand (9L, 21L, 17L)

            let tiled =
                OverlapTile(net, TileOptions(TileSize = 20, Output = TileOutput.Logits)).Predict v

            let whole = WholeImage.Predict(net, v, TileOutput.Logits)
            Expect.sequenceEqual whole.shape [| 2L; 9L; 21L; 17L |] "(classes, D, H, W)"
            Expect.isLessThanOrEqual (maxAbsDiff tiled whole) 1e-4 "whole == tiled"
        }
    ]
