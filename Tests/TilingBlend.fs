/// Gaussian blending for padded ("same") nets: weights normalise, and the result is close to a whole-image pass.
module CropCat.Tests.TilingBlend

open Expecto
open CropCat.Inference
open CropCat.Nets
open CropCat.Shapes
open TorchSharp
open CropCat.Tests.TilingSupport

let private same = CropCat.Shapes.Padding.Same

/// Largest |a - b| over the pixels at least `border` px away from the image's edges.
let private interiorGap (border: int64) (a: torch.Tensor) (b: torch.Tensor) =
    let h, w = a.shape[1], a.shape[2]

    let inner (t: torch.Tensor) =
        t.narrow(1L, border, h - 2L * border).narrow (2L, border, w - 2L * border)

    maxAbsDiff (inner a) (inner b)

/// Whole-image probabilities of a padded net (the image size must be a valid input).
let private wholeProbabilities (net: Network) (image: torch.Tensor) =
    use _ = torch.no_grad ()
    net.forward(image.unsqueeze 0L).softmax(1L).squeeze 0L

[<Tests>]
let tests =
    testList "Tiling.Blend" [
        test "the importance map peaks at 1 in the centre and falls to exp(-8) at the edge midpoints" {
            use scope = torch.NewDisposeScope()
            let m = GaussianImportance.Map(33, 0.125)
            Expect.sequenceEqual m.shape [| 1L; 33L; 33L |] "(1, size, size)"
            Expect.floatClose Accuracy.high (m[0L, 16L, 16L].item<float32> () |> float) 1.0 "peak"
            // Half a tile from the centre is 4 sigma: exp(-16/2).
            Expect.floatClose Accuracy.medium (m[0L, 16L, 0L].item<float32> () |> float) (exp (-8.0 * (16.0 / 33.0 * 2.0) ** 2.0)) "edge"
            Expect.equal (maxAbsDiff m (m.flip ([| 1L |]))) 0.0 "symmetric"
        }

        test "a net with constant output gives exactly that output: the weights sum correctly" {
            use scope = torch.NewDisposeScope()
            let net = tinyNet 11 [ 2; 4; 8 ] same UpMode.Transposed 1 2

            using (torch.no_grad ()) (fun _ ->
                for p in net.parameters () do
                    p.zero_ () |> ignore

                let bias =
                    net.named_parameters ()
                    |> Seq.find (fun struct (n, _) -> n = "head.bias")
                    |> fun struct (_, p) -> p

                bias.copy_ (torch.tensor [| 1.0f; 3.0f |]) |> ignore)

            let image = torch.rand (1L, 70L, 53L)
            let tiler = OverlapTile(net, TileOptions(TileSize = 32))
            Expect.equal (tiler.Plan(70, 53).Mode) TileMode.Gaussian "padded nets blend by default"
            let probs = tiler.Predict image

            let expected =
                torch.tensor([| 1.0f; 3.0f |]).softmax(0L).reshape(2L, 1L, 1L).expand (2L, 70L, 53L)

            Expect.isLessThanOrEqual (maxAbsDiff probs expected) 1e-6 "softmax([1, 3]) everywhere"
        }

        test "blended tiles are close to the whole image away from its borders, closer than non-overlapping tiles" {
            use scope = torch.NewDisposeScope()

            // 8 random depth-2 nets x 3 image sizes, 64 px tiles; a 64 px tile of this net sees most of its
            // receptive field, and random weights make it sensitive. Gaps are in probability, over the pixels
            // at least 8 px inside the image. Measured: reference case 0.0100, largest 0.141, median 0.037;
            // non-overlapping tiles 4.9-37x worse.
            let gaps = [
                for netSeed in 12..19 do
                    for h, w in [ 128, 128; 100, 140; 96, 80 ] do
                        let net = tinyNet netSeed [ 4; 8; 16 ] same UpMode.Transposed 1 2
                        torch.manual_seed (int64 netSeed + 1L) |> ignore
                        let image = torch.rand (1L, int64 h, int64 w)
                        let whole = wholeProbabilities net image
                        let blended = OverlapTile(net, TileOptions(TileSize = 64)).Predict image

                        let seams =
                            OverlapTile(net, TileOptions(TileSize = 64, Mode = TileMode.Exact)).Predict image

                        (netSeed, h, w), interiorGap 8L blended whole, interiorGap 8L seams whole
            ]

            let blendedGaps = gaps |> List.map (fun (_, b, _) -> b) |> List.sort
            let median = (blendedGaps[11] + blendedGaps[12]) / 2.0
            let _, reference, _ = gaps.Head
            Expect.isLessThan reference 0.0125 "the reference case (net 12, 128x128) within 0.0125 (measured 0.0100)"
            Expect.isLessThan (List.max blendedGaps) 0.16 $"every case within 0.16 (measured 0.141): %A{gaps}"
            Expect.isLessThan median 0.045 "median within 0.045 (measured 0.037)"

            for case, gb, gs in gaps do
                Expect.isLessThan (4.0 * gb) gs $"%A{case}: non-overlapping tiles are far worse at their seams"
        }
    ]
