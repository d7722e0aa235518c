/// Every core layer's shape rule against the real TorchSharp output over generated sizes.
module CropCat.Tests.CoreShapeRulesTests

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Shapes
open CropCat.Layers
open CropCat.Tests.TestUtil

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 40
}

/// Runs the layer on a random input and returns the output (C, H, W), or None when libtorch refuses.
let private forward (layer: Layer) (c: int) (h: int) (w: int) =
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()

    try
        let y = layer.Forward(randn 1 c h w)
        Some(chw y)
    with :? System.Runtime.InteropServices.ExternalException ->
        None

let private shapeOf (r: ShapeResult) =
    if r.IsOk then
        Some(r.Value.Channels, r.Value.Height, r.Value.Width)
    else
        None

let private sizes = Gen.choose (1, 40)
let private chans = Gen.choose (1, 4)

let private genConv =
    gen {
        let! c = chans
        let! o = chans
        let! h = sizes
        let! w = sizes
        let! pad = Gen.elements [ Padding.Valid; Padding.Same ]
        let! bn = Gen.elements [ false; true ]
        return c, o, h, w, pad, bn
    }

[<Tests>]
let tests =
    testList "Core.ShapeRules" [
        testPropertyWithConfig config "ConvBlock rule equals the real output shape, and refuses exactly when libtorch does"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen genConv) (fun (c, o, h, w, pad, bn) ->
                let block = ConvBlock("b", "b", c, o, pad, bn)

                let expected =
                    let a = ShapeRules.Conv3x3(Shape(c, h, w), c, o, pad)

                    if a.IsOk then
                        shapeOf (ShapeRules.Conv3x3(a.Value, o, o, pad))
                    else
                        None

                let actual = forward block c h w

                // Nothing is excused, batch norm included: libtorch itself does not refuse one value per
                // channel in training mode (that check is in PyTorch's Python layer), see the test below.
                expected = actual
                |> Prop.classify (bn && expected = Some(o, 1, 1)) "batch norm over one value per channel"
                |> Prop.label $"{c}->{o} {h}x{w} {pad} bn={bn}: rule {expected}, torch {actual}")

        testCase "training-mode batch norm over one value per channel (1x1, batch 1) runs in libtorch and matches the rule"
        <| fun () ->
            init ()
            // PyTorch's Python F.batch_norm refuses this case; libtorch, which CropCat calls, computes it. So
            // the property above needs no excuse for it, and the case is pinned here in both modes.
            for pad, n in [ Padding.Valid, 5; Padding.Same, 1 ] do
                let block = ConvBlock("b", "b", 2, 3, pad, true)

                let rule =
                    shapeOf (ShapeRules.Conv3x3(ShapeRules.Conv3x3(Shape(2, n, n), 2, 3, pad).Value, 3, 3, pad))

                Expect.equal rule (Some(3, 1, 1)) $"{pad} {n}x{n}: the rule gives 1x1"

                Expect.isTrue
                    (block.Modules |> Seq.forall (fun struct (_, _, m) -> m.training))
                    "a new block is in training mode, as in the property"

                Expect.equal (forward block 2 n n) rule $"{pad} {n}x{n}: training mode"

                for struct (_, _, m) in block.Modules do
                    m.eval ()

                Expect.equal (forward block 2 n n) rule $"{pad} {n}x{n}: eval mode"

        testPropertyWithConfig config "MaxPoolDown: floor mode equals libtorch; strict mode accepts exactly the even sizes"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen (Gen.zip3 chans sizes sizes)) (fun (c, h, w) ->
                let floor = shapeOf (ShapeRules.MaxPool2x2(Shape(c, h, w), PoolMode.Floor))
                let strict = shapeOf (ShapeRules.MaxPool2x2(Shape(c, h, w), PoolMode.Strict))
                let torchOut = forward (MaxPoolDown("p", PoolMode.Floor)) c h w
                let evenOk = h % 2 = 0 && w % 2 = 0

                floor = torchOut
                && (strict.IsSome = (evenOk && torchOut.IsSome))
                && (strict.IsNone || strict = torchOut))

        testPropertyWithConfig config "Up (transposed and bilinear) doubles sizes and sets channels as its rule says"
        <| fun () ->
            init ()

            Prop.forAll
                (Arb.fromGen (Gen.zip3 (Gen.zip chans chans) sizes (Gen.elements [ UpMode.Transposed; UpMode.Bilinear ])))
                (fun ((c, o), h, mode) ->
                    let up = Up("u", "u", c, o, mode)
                    shapeOf (ShapeRules.Up2x(Shape(c, h, h + 1), c, o)) = forward up c h (h + 1))

        testPropertyWithConfig config "Head maps channels to classes and keeps the size"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen (Gen.zip3 chans chans sizes)) (fun (c, k, h) ->
                shapeOf (ShapeRules.Head1x1(Shape(c, h, h), c, k)) = forward (Head("h", "h", c, k)) c h h)

        testPropertyWithConfig config "Skip merges: the rule equals the real output shape"
        <| fun () ->
            init ()

            let gen =
                gen {
                    let! c = chans
                    let! h = Gen.choose (6, 40)
                    let! merge = Gen.elements [ Merge.CropConcat; Merge.Concat; Merge.Add ]
                    let! pad = Gen.elements [ Padding.Valid; Padding.Same ]
                    return c, h, merge, pad
                }

            Prop.forAll (Arb.fromGen gen) (fun (c, h, merge, pad) ->
                let skip = Skip("s", ConvBlock("b", "b", c, c, pad), merge)

                let rule =
                    try
                        Some(let s = skip.Infer(Shape(c, h, h)) in s.Channels, s.Height, s.Width)
                    with :? ShapeException ->
                        None
                // Concat/Add of unequal sizes would fail in libtorch too; only compare accepted cases there.
                match rule with
                | Some _ -> rule = forward skip c h h
                | None -> merge <> Merge.CropConcat && pad = Padding.Valid)

        testCase "channel mismatch is refused with the layer path and both counts"
        <| fun () ->
            init ()
            let block = ConvBlock("level 3 / enc", "enc3", 8, 16)

            try
                block.Infer(Shape(4, 30, 30)) |> ignore
                failtest "expected a ShapeException"
            with :? ShapeException as e ->
                Expect.equal e.Message "level 3 / enc / conv1: 3x3 convolution expects 8 input channels, got 4" "message"

        testCase "the crop offset is floor((source - target) / 2)"
        <| fun () ->
            Expect.equal (ShapeRules.CropOffset(568, 392)) 88 "paper level 1"
            Expect.equal (ShapeRules.CropOffset(7, 4)) 1 "odd margin: the extra pixel goes to the far end"
            Expect.equal (ShapeRules.CropOffset(5, 5)) 0 "no crop"
    ]
