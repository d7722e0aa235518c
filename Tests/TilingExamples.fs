/// Facts about the overlap-tile predictor: small and thin images, errors, plans, progress, modes.
module CropCat.Tests.TilingExamples

open System
open Expecto
open CropCat.Inference
open CropCat.Nets
open CropCat.Shapes
open TorchSharp
open CropCat.Tests.TilingSupport
open CropCat.Architecture

let private valid = CropCat.Shapes.Padding.Valid

/// Tiled logits of `image` and their gap to the whole-image reference.
let private gapOf (net: Network) (tileSize: int) (image: torch.Tensor) =
    tiledGap net (TileOptions(TileSize = tileSize, Output = TileOutput.Logits)) image

[<Tests>]
let tests =
    testList "Tiling.Examples" [
        test "the down-sampling factor comes from the description: the deepest path" {
            Expect.equal (UNet.Describe UNetOptions.Paper).DownsamplingFactor 16 "paper net: 2^4"
            Expect.equal (UNet.Describe(UNetOptions(Widths = [| 2; 4 |]))).Depth 1 "one down-step"

            let d (s: CropCat.Architecture.Spec) =
                CropCat.Architecture.NetSpec(1, s).Depth

            let open' = CropCat.Architecture.PoolSpec()
            let up = CropCat.Architecture.UpSpec(1)
            Expect.equal (d (CropCat.Architecture.ChainSpec(open', up, open', up))) 1 "[down; up; down; up] goes one step deep"
            Expect.equal (d (CropCat.Architecture.ChainSpec(open', open', up, up))) 2 "[down; down; up; up] two"
        }

        test "the paper net's plan: 572 tiles, 92 px margin, steps of 384 on the 16 px grid" {
            use scope = torch.NewDisposeScope()
            let net = UNet.Paper(torch.CPU)
            let plan = OverlapTile(net).Plan(1000, 700)
            Expect.equal (plan.TileSize, plan.OutputSize, plan.Margin, plan.Step) (572, 388, 92, 384) "geometry"
            Expect.equal plan.Mode TileMode.Exact "unpadded nets stitch exactly"
            Expect.sequenceEqual plan.Rows [ 0; 384; 768 ] "rows cover 1000"
            Expect.sequenceEqual plan.Columns [ 0; 384 ] "columns cover 700"
            Expect.equal (TilePlan.ChooseTileSize(net, 560).Tile) 572 "smallest valid input >= 560 (188 + 16k)"
            Expect.equal (TilePlan.ChooseTileSize(net, 1, 16).Tile) 204 "the first tile whose output spans the factor"
            let small = OverlapTile(net).Plan(20, 30)
            Expect.equal (small.TileSize, small.Count) (220, 1) "a small image gets one small tile covering it"
        }

        test "an image smaller than one tile is predicted exactly" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 3 [ 2; 4; 8 ] valid UpMode.Transposed 1 2
            torch.manual_seed 4L |> ignore
            let image = torch.rand (1L, 5L, 7L)
            Expect.isLessThanOrEqual (gapOf net 140 image) 1e-4 "one tile, then cropped to 5x7"
        }

        test "a one-pixel-high image works: its mirror extension repeats the row" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 5 [ 2; 4 ] valid UpMode.Transposed 1 3
            torch.manual_seed 6L |> ignore
            let image = torch.rand (1L, 1L, 57L)
            Expect.isLessThanOrEqual (gapOf net 24 image) 1e-4 "several tiles along the row"
            let column = torch.rand (1L, 43L, 1L)
            Expect.isLessThanOrEqual (gapOf net 24 column) 1e-4 "and one pixel wide"
        }

        test "a 2-D image is one channel; probabilities sum to one; the class map is their argmax" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 7 [ 2; 4 ] valid UpMode.Transposed 1 3
            let image = torch.rand (30L, 41L)

            let probs =
                OverlapTile(net, TileOptions(TileSize = 24, BatchSize = 4)).Predict image

            Expect.sequenceEqual probs.shape [| 3L; 30L; 41L |] "(classes, H, W)"
            Expect.isLessThanOrEqual (maxAbsDiff (probs.sum 0L) (torch.ones (30L, 41L))) 1e-5 "softmax over classes"
            let map = OverlapTile.ClassMap probs
            Expect.sequenceEqual map.shape [| 30L; 41L |] "(H, W)"
            let whole = wholeImageLogits net (image.unsqueeze 0L)
            Expect.equal (maxAbsDiff map (whole.argmax (0L, false))) 0.0 "argmax of the whole-image logits"
        }

        test "a channel mismatch names both counts" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 8 [ 2; 4 ] valid UpMode.Transposed 1 2

            let e =
                Expect.throwsC (fun () -> OverlapTile(net).Predict(torch.rand (3L, 20L, 20L)) |> ignore) id

            Expect.isTrue (e :? ArgumentException) "an argument error"
            Expect.stringContains e.Message "3 channel(s)" "the image's channels"
            Expect.stringContains e.Message "expects 1" "the net's channels"
        }

        test "a wrong rank and an empty image are refused with a clear message" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 8 [ 2; 4 ] valid UpMode.Transposed 1 2

            let rank =
                Expect.throwsC (fun () -> OverlapTile(net).Predict(torch.rand (1L, 1L, 20L, 20L)) |> ignore) id

            Expect.stringContains rank.Message "(C, H, W) or (H, W)" "rank"

            let empty =
                Expect.throwsC (fun () -> OverlapTile(net).Predict(torch.rand (1L, 0L, 20L)) |> ignore) id

            Expect.stringContains empty.Message "empty image" "empty"
        }

        test "progress reports every batch, ending at n of n; the net's training mode comes back" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 9 [ 2; 4 ] valid UpMode.Transposed 1 2
            net.train ()
            let seen = Collections.Generic.List<int * int>()

            let options =
                TileOptions(TileSize = 24, BatchSize = 3, Progress = Action<int, int>(fun i n -> seen.Add((i, n))))

            let tiler = OverlapTile(net, options)
            let plan = tiler.Plan(40, 40)
            tiler.Predict(torch.rand (1L, 40L, 40L)) |> ignore
            Expect.equal plan.Count 25 "5 x 5 tiles of output 8"

            Expect.sequenceEqual
                seen
                ([ for i in 3..3..24 -> (i, 25) ] @ [ (25, 25) ])
                "ceil(25 / 3) batches, the last one says all tiles are done"

            Expect.isTrue net.training "training mode restored"
        }

        test "bilinear (align-corners) up-sampling breaks the law: its sampling positions depend on the map's size" {
            // align_corners maps output pixel i to input position i (n - 1) / (2n - 1), which moves with n, so a
            // tile's up-sampled map is not a crop of the whole image's. Exactness holds for transposed up only.
            use scope = torch.NewDisposeScope()
            let net = tinyNet 21 [ 2; 4 ] valid UpMode.Bilinear 1 2
            torch.manual_seed 22L |> ignore
            let image = torch.rand (1L, 40L, 40L)
            Expect.isGreaterThan (gapOf net 24 image) 1e-3 "tiles differ from the whole image"
        }

        test "WholeImage.Predict is the law's right-hand side" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 23 [ 2; 4; 8 ] valid UpMode.Transposed 2 2
            let image = torch.rand (2L, 37L, 50L)
            let one = WholeImage.Predict(net, image, TileOutput.Logits)
            Expect.equal (maxAbsDiff one (wholeImageLogits net image)) 0.0 "same padding, same pass"
            let tiled = OverlapTile(net, TileOptions(TileSize = 48)).Predict image
            Expect.isLessThanOrEqual (maxAbsDiff tiled (WholeImage.Predict(net, image))) 1e-5 "probabilities agree too"
        }
    ]
