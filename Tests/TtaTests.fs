/// Test-time augmentation: its transforms invert exactly, and the tiled TTA prediction equals the average of
/// the whole-image passes over the transformed images (each copy keeps the overlap-tile law).
module CropCat.Tests.TtaTests

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Architecture
open CropCat.Inference
open CropCat.Shapes
open CropCat.Tests.TilingSupport

[<Tests>]
let tests =
    testList "Inference.tta" [
        testProperty "every transform inverts exactly, on non-square images and volumes"
        <| fun (h0: PositiveInt) (w0: PositiveInt) (volume: bool) ->
            CropCat.Runtime.NativeRuntime.EnsureLoaded()
            use _ = torch.NewDisposeScope()
            let h, w = h0.Get % 7 + 1, w0.Get % 9 + 1
            let dims = if volume then 3 else 2

            let x =
                if volume then
                    torch.randn (2L, 3L, int64 h, int64 w)
                else
                    torch.randn (2L, int64 h, int64 w)

            let modes =
                if volume then
                    [ TtaMode.Flips ]
                else
                    [ TtaMode.Flips; TtaMode.D4 ]

            modes
            |> List.forall (fun m ->
                TestTimeAugmentation.Transforms(m, dims)
                |> Seq.forall (fun t -> (t.Invert(t.Apply x)).allclose (x, 0.0, 0.0)))

        test "flips are 4 in 2-D and 8 in 3-D, d4 is the 8 distinct symmetries of the square, and 2-D only" {
            CropCat.Runtime.NativeRuntime.EnsureLoaded()
            use _ = torch.NewDisposeScope()
            Expect.equal (TestTimeAugmentation.Transforms(TtaMode.Flips, 2)).Count 4 "2-D flips"
            Expect.equal (TestTimeAugmentation.Transforms(TtaMode.Flips, 3)).Count 8 "3-D flips"
            let x = torch.arange(9.0f).reshape (1L, 3L, 3L)

            let images =
                TestTimeAugmentation.Transforms(TtaMode.D4, 2)
                |> Seq.map (fun t -> (t.Apply x).data<float32>().ToArray() |> List.ofArray)
                |> Set.ofSeq

            Expect.equal images.Count 8 "eight different images of one asymmetric square"
            Expect.throwsT<System.ArgumentException> (fun () -> TestTimeAugmentation.Transforms(TtaMode.D4, 3) |> ignore) "refused in 3-D"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 12
            }
            "tiled TTA equals the mean of the whole-image passes of the transformed images"
        <| fun (h0: PositiveInt) (w0: PositiveInt) (seed: int) (d4: bool) ->
            use _ = torch.NewDisposeScope()
            use net = tinyNet 3 [ 2; 4 ] Padding.Valid UpMode.Transposed 1 2
            let h, w = h0.Get % 40 + 5, w0.Get % 40 + 5
            torch.manual_seed (int64 seed) |> ignore
            let image = torch.randn (1L, int64 h, int64 w)
            let mode = if d4 then TtaMode.D4 else TtaMode.Flips
            // A small tile, so the image is cut into several.
            let tiler =
                OverlapTile(net, TileOptions(TileSize = 36, Output = TileOutput.Probabilities))

            let tta = TestTimeAugmentation.Predict(tiler, image, mode)
            let transforms = TestTimeAugmentation.Transforms(mode, 2)

            let expected =
                transforms
                |> Seq.map (fun t -> t.Invert((wholeImageLogits net (t.Apply image)).softmax 0L))
                |> Seq.reduce (fun a b -> a + b)

            maxAbsDiff tta (expected / float transforms.Count) < 1e-5

        test "TTA composes with Gaussian blending of a padded net: the mean of each copy's blended prediction" {
            use _ = torch.NewDisposeScope()
            use net = tinyNet 4 [ 2; 4 ] Padding.Same UpMode.Transposed 1 2
            let image = torch.randn (1L, 70L, 53L)

            let options =
                TileOptions(TileSize = 32, Mode = TileMode.Gaussian, Output = TileOutput.Probabilities)

            let tiler = OverlapTile(net, options)
            let tta = TestTimeAugmentation.Predict(tiler, image, TtaMode.D4)
            let transforms = TestTimeAugmentation.Transforms(TtaMode.D4, 2)

            let expected =
                transforms
                |> Seq.map (fun t -> t.Invert(tiler.Predict(t.Apply(image).contiguous ())))
                |> Seq.reduce (fun a b -> a + b)

            Expect.isLessThan (maxAbsDiff tta (expected / float transforms.Count)) 1e-6 "the average of the blended copies"
            Expect.isLessThan (maxAbsDiff (tta.sum 0L) (torch.ones (70L, 53L))) 1e-5 "still probabilities"
        }
    ]
