/// Mirror extrapolation: numpy 'reflect' facts and the repeated-reflection law.
module CropCat.Tests.TilingMirror

open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Inference
open TorchSharp
open CropCat.Numerics

/// Mirror-pads one axis the slow way: reflect the current array (without its edge pixel) as often as needed.
let rec private reflectChunks (n0: int) (xs: int list) (before: int) (after: int) =
    if before = 0 && after = 0 then
        xs
    else
        let n = List.length xs
        let arr = Array.ofList xs
        // Chunks of at most n0 - 1 pixels: each reflection is about an edge pixel of the original's pattern
        // (numpy pads in such chunks). A single pixel has no mirror axis: numpy repeats it.
        let take k = if n0 = 1 then k else min (n0 - 1) k
        let b = take before
        let a = take after

        let left =
            if n0 = 1 then
                List.replicate b arr[0]
            else
                [ for k in b .. -1 .. 1 -> arr[k] ]

        let right =
            if n0 = 1 then
                List.replicate a arr[n - 1]
            else
                [ for k in 1..a -> arr[n - 1 - k] ]

        reflectChunks n0 (left @ xs @ right) (before - b) (after - a)

/// Mirror-pads one axis the slow way: reflect (without the edge pixel) chunk by chunk until the margins are filled.
let private reflectPad (xs: int list) before after =
    reflectChunks (List.length xs) xs before after

[<Tests>]
let tests =
    testList "Tiling.Mirror" [
        test "matches numpy's reflect for margins larger than the image" {
            // np.pad(np.arange(3), 7, 'reflect'), np.pad(np.arange(1), 3, 'reflect'), np.pad(np.arange(2), 5, 'reflect')
            Expect.equal
                (Mirror.Indices(-7L, 17, 3) |> List.ofArray)
                [ 1L; 2L; 1L; 0L; 1L; 2L; 1L; 0L; 1L; 2L; 1L; 0L; 1L; 2L; 1L; 0L; 1L ]
                "n = 3"

            Expect.equal (Mirror.Indices(-3L, 7, 1) |> List.ofArray) (List.replicate 7 0L) "n = 1 repeats"
            Expect.equal (Mirror.Indices(-5L, 12, 2) |> List.ofArray) [ 1L; 0L; 1L; 0L; 1L; 0L; 1L; 0L; 1L; 0L; 1L; 0L ] "n = 2"
        }

        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 200
            }
            "equals repeated reflection without the edge pixel"
        <| Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 9)) (Gen.choose (0, 30)) (Gen.choose (0, 30)))) (fun (n, before, after) ->
            let expected = reflectPad [ 0 .. n - 1 ] before after |> List.map int64
            let actual = Mirror.Indices(int64 -before, n + before + after, n) |> List.ofArray
            actual = expected)

        test "Pad keeps the image in the centre and mirrors a 2-D tensor on both axes" {
            use scope = torch.NewDisposeScope()
            let img = torch.arange(12L, dtype = torch.ScalarType.Float32).reshape (1L, 3L, 4L)
            let p = Mirror.Pad(img, 2, 1, 3, 0)
            Expect.sequenceEqual p.shape [| 1L; 6L; 7L |] "shape"
            Expect.equal (TilingSupport.maxAbsDiff (p.narrow(1L, 2L, 3L).narrow (2L, 3L, 4L)) img) 0.0 "centre is the image"
            // Row -1 is row 1, column -1 is column 1: pixel (-1, -1) is img[1, 1] = 5.
            Expect.equal (p[0L, 1L, 2L].item<float32> ()) 5.0f "corner reflects on both axes"
        }
    ]
