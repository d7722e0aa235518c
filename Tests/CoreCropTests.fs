/// Centre crop: sizes and values at the documented offset.
module CropCat.Tests.CoreCropTests

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Layers
open CropCat.Shapes
open CropCat.Tests.TestUtil

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 60
}

let private genCrop =
    gen {
        let! h = Gen.choose (1, 30)
        let! w = Gen.choose (1, 30)
        let! th = Gen.choose (1, h)
        let! tw = Gen.choose (1, w)
        return h, w, th, tw
    }

[<Tests>]
let tests =
    testList "Core.Crop" [
        testPropertyWithConfig config "values equal the slice at offset floor((H-h)/2), floor((W-w)/2)"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen genCrop) (fun (h, w, th, tw) ->
                use scope = torch.NewDisposeScope()
                let x = torch.arange(int64 (2 * h * w)).reshape (1L, 2L, int64 h, int64 w)
                let y = Crop.Center(x, int64 th, int64 tw)
                let oy, ox = (h - th) / 2, (w - tw) / 2
                let mutable ok = y.shape = [| 1L; 2L; int64 th; int64 tw |]

                for c in 0L .. 1L do
                    for i in 0 .. th - 1 do
                        for j in 0 .. tw - 1 do
                            let expected = x.[0L, c, int64 (oy + i), int64 (ox + j)].item<int64> ()
                            ok <- ok && y.[0L, c, int64 i, int64 j].item<int64> () = expected

                ok)

        testPropertyWithConfig config "a crop of a crop is one crop"
        <| fun () ->
            init ()

            let gen =
                gen {
                    let! h = Gen.choose (1, 30)
                    let! w = Gen.choose (1, 30)
                    // The first margin even: then floor offsets compose exactly (odd first margins shift by one).
                    let! kh = Gen.choose (0, (h - 1) / 2)
                    let! kw = Gen.choose (0, (w - 1) / 2)
                    let th, tw = h - 2 * kh, w - 2 * kw
                    let! uh = Gen.choose (1, th)
                    let! uw = Gen.choose (1, tw)
                    return h, w, th, tw, uh, uw
                }

            Prop.forAll (Arb.fromGen gen) (fun (h, w, th, tw, uh, uw) ->
                use scope = torch.NewDisposeScope()
                let x = torch.randn ([| 1L; 1L; int64 h; int64 w |])
                let twice = Crop.Center(Crop.Center(x, int64 th, int64 tw), int64 uh, int64 uw)
                let once = Crop.Center(x, int64 uh, int64 uw)
                twice.allclose (once))

        testCase "cropping to a larger size is refused with both sizes"
        <| fun () ->
            init ()
            use x = torch.zeros (1L, 1L, 10L, 10L)

            try
                Crop.Center(x, 12L, 4L) |> ignore
                failtest "expected a ShapeException"
            with :? ShapeException as e ->
                Expect.stringContains e.Message "cannot crop height 10 to the larger 12" "message"
    ]
