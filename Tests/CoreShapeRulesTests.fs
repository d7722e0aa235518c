/// Every description kind's shape rule against the real TorchSharp output, in 2-D and 3-D.
module CropCat.Tests.CoreShapeRulesTests

open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Architecture
open CropCat.Shapes
open CropCat.Layers
open CropCat.Tests.TestUtil

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 40
}

/// The runtime layer of one spec for `c` input channels over `dims` axes.
let private layerOf (spec: Spec) c dims = spec.Build(Naming.Name spec, c, dims)

/// Runs the layer on a random input (channels `c`, spatial `extents`) and returns the output shape
/// (channels :: extents), or None when libtorch refuses.
let private forward (layer: Layer) (c: int) (extents: int list) =
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()

    try
        let y =
            layer.Forward(torch.randn (Array.ofList (1L :: int64 c :: (extents |> List.map int64))))

        Some(y.shape |> Array.skip 1 |> Array.map int |> List.ofArray)
    with :? System.Runtime.InteropServices.ExternalException ->
        None

/// The spec's rule for that input, as channels :: extents, or None when it refuses.
let private rule (spec: Spec) c (extents: int list) =
    let o = NetSpec(c, spec, List.length extents).TryInfer(Array.ofList extents)

    if o.IsOk then
        Some(o.Value.Output.Channels :: List.ofSeq o.Value.Output.Extents)
    else
        None

let private chans = Gen.choose (1, 4)

/// 2-D sizes up to 40, or 3-D sizes up to 14 (3-D convolutions are costly).
let private genExtents =
    gen {
        let! dims = Gen.elements [ 2; 3 ]
        let top = if dims = 2 then 40 else 14
        return! Gen.listOfLength dims (Gen.choose (1, top))
    }

let private agree (spec: Spec) c extents =
    let r = rule spec c extents
    let t = forward (layerOf spec c (List.length extents)) c extents
    r = t |> Prop.label $"{spec} c={c} {extents}: rule {r}, torch {t}"

[<Tests>]
let tests =
    testList "Core.ShapeRules" [
        testPropertyWithConfig
            config
            "conv blocks (2-D and 3-D): the rule equals the real output shape, and refuses exactly when libtorch does"
        <| fun () ->
            init ()

            let gen =
                gen {
                    let! c = chans
                    let! o = chans
                    let! mid = Gen.frequency [ 3, Gen.constant None; 1, chans |> Gen.map Some ]
                    let! pad = Gen.elements [ Padding.Valid; Padding.Same ]
                    let! bn = Gen.elements [ false; true ]
                    let! e = genExtents
                    return BlockSpec(o, pad, bn, 0.0, Option.toNullable mid) :> Spec, c, e
                }

            // Nothing is excused, batch norm included: libtorch itself does not refuse one value per
            // channel in training mode (that check is in PyTorch's Python layer), see the test below.
            Prop.forAll (Arb.fromGen gen) (fun (spec, c, e) -> agree spec c e)

        testCase "training-mode batch norm over one value per channel (1x1, batch 1) runs in libtorch and matches the rule"
        <| fun () ->
            init ()
            // PyTorch's Python F.batch_norm refuses this case; libtorch, which CropCat calls, computes it. So
            // the property above needs no excuse for it, and the case is pinned here in both modes.
            for pad, n in [ Padding.Valid, 5; Padding.Same, 1 ] do
                let spec = BlockSpec(3, pad, true) :> Spec
                let block = layerOf spec 2 2
                let r = rule spec 2 [ n; n ]
                Expect.equal r (Some [ 3; 1; 1 ]) $"{pad} {n}x{n}: the rule gives 1x1"

                Expect.isTrue
                    (block.Modules |> Seq.forall (fun struct (_, _, m) -> m.training))
                    "a new block is in training mode, as in the property"

                Expect.equal (forward block 2 [ n; n ]) r $"{pad} {n}x{n}: training mode"

                for struct (_, _, m) in block.Modules do
                    m.eval ()

                Expect.equal (forward block 2 [ n; n ]) r $"{pad} {n}x{n}: eval mode"

        testPropertyWithConfig config "max-pool (2-D and 3-D): floor mode equals libtorch; strict mode accepts exactly the even sizes"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen (Gen.zip chans genExtents)) (fun (c, e) ->
                let floor = rule (PoolSpec(PoolMode.Floor)) c e
                let strict = rule (PoolSpec(PoolMode.Strict)) c e
                let torchOut = forward (layerOf (PoolSpec(PoolMode.Floor)) c (List.length e)) c e
                let evenOk = e |> List.forall (fun n -> n % 2 = 0)

                floor = torchOut
                && (strict.IsSome = (evenOk && torchOut.IsSome))
                && (strict.IsNone || strict = torchOut))

        testPropertyWithConfig
            config
            "up-steps (transposed, linear + 1x1, interpolation; 2-D and 3-D) double sizes and set channels as their rule says"
        <| fun () ->
            init ()

            let gen =
                Gen.zip3 (Gen.zip chans chans) genExtents (Gen.elements [ UpMode.Transposed; UpMode.Bilinear; UpMode.Interpolate ])

            Prop.forAll (Arb.fromGen gen) (fun ((c, o), e, mode) -> agree (UpSpec(o, mode)) c e)

        testPropertyWithConfig config "the head maps channels to classes and keeps the size (2-D and 3-D)"
        <| fun () ->
            init ()
            Prop.forAll (Arb.fromGen (Gen.zip3 chans chans genExtents)) (fun (c, k, e) -> agree (HeadSpec(k)) c e)

        testPropertyWithConfig
            config
            "skip merges (crop-and-cat, concat, pad-and-cat, add, attention-gated; 2-D and 3-D): the rule equals the real output shape"
        <| fun () ->
            init ()

            let gen =
                gen {
                    let! c = chans
                    let! dims = Gen.elements [ 2; 3 ]
                    let! e = Gen.listOfLength dims (Gen.choose (6, (if dims = 2 then 40 else 12)))
                    let! merge = Gen.elements [ Merge.CropConcat; Merge.Concat; Merge.PadConcat; Merge.Add ]
                    let! pad = Gen.elements [ Padding.Valid; Padding.Same ]
                    let! gated = Gen.elements [ false; true ]

                    let gate =
                        if gated && merge <> Merge.Add && merge <> Merge.PadConcat then
                            GateSpec(2)
                        else
                            null

                    let! floorDown = Gen.elements [ false; true ]
                    // A body that down- and up-samples, so pad-and-cat meets a smaller body at odd sizes.
                    let body: Spec =
                        if floorDown then
                            ChainSpec(PoolSpec(PoolMode.Floor), BlockSpec(c, Padding.Same), UpSpec(c, UpMode.Transposed))
                        else
                            BlockSpec(c, pad)

                    return SkipSpec(merge, body, gate) :> Spec, c, e, merge, pad, floorDown
                }

            Prop.forAll (Arb.fromGen gen) (fun (spec, c, e, merge, pad, floorDown) ->
                let r = rule spec c e
                // Concat/Add of unequal sizes would fail in libtorch too; only compare accepted cases there.
                match r with
                | Some _ -> agree spec c e
                | None ->
                    (merge <> Merge.CropConcat
                     && merge <> Merge.PadConcat
                     && (pad = Padding.Valid || floorDown))
                    |> Prop.ofTestable)

        testCase "channel mismatch is refused with the layer path and both counts"
        <| fun () ->
            init ()

            use net =
                new CropCat.Nets.Network(NetSpec(8, ChainSpec(BlockSpec(16), HeadSpec(2))))

            try
                net.forward (torch.zeros (1L, 4L, 30L, 30L)) |> ignore
                failtest "expected a ShapeException"
            with :? ShapeException as e ->
                Expect.equal e.Message "input: the network expects 8 input channels, got 4" "message"

        testCase "a 3-D pool names the axis: depth 57 is odd"
        <| fun () ->
            let net =
                NetSpec(
                    1,
                    ChainSpec(BlockSpec(2), SkipSpec(Merge.CropConcat, ChainSpec(PoolSpec(), BlockSpec(4), UpSpec(2))), BlockSpec(2)),
                    3
                )

            let o = net.TryInfer([| 61; 64; 64 |])
            Expect.equal o.Error.Message "level 1 / down: depth 57 is odd; 2x2x2 max-pool needs even sizes" "message"

        testCase "the crop offset is floor((source - target) / 2)"
        <| fun () ->
            Expect.equal (ShapeRules.CropOffset(568, 392)) 88 "paper level 1"
            Expect.equal (ShapeRules.CropOffset(7, 4)) 1 "odd margin: the extra pixel goes to the far end"
            Expect.equal (ShapeRules.CropOffset(5, 5)) 0 "no crop"
    ]
