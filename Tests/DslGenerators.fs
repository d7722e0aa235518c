/// FsCheck generators and shrinkers for DSL descriptions and input sizes.
module CropCat.Tests.DslGenerators

open FsCheck
open FsCheck.FSharp
open CropCat.Shapes
open CropCat.Architecture
open CropCat.Dsl

/// A U-Net-like description of depth 1..maxDepth with widths 1..4, valid or same padding, per-level
/// transposed/bilinear up and merge (concat only where it is legal, except rarely, to exercise refusals),
/// batch norm on/off (else rarely instance or group norm), ReLU or rarely leaky ReLU / ELU / SiLU, optional bottom
/// dropout, rarely floor pooling, sometimes a residual add block first.
let genNet maxDepth : Gen<Net> =
    gen {
        let! depth = Gen.choose (1, maxDepth)
        let! widths = Gen.listOfLength (depth + 1) (Gen.choose (1, 4))
        let! inChannels = Gen.choose (1, 3)
        let! classes = Gen.choose (1, 3)
        let! padding = Gen.elements [ Padding.Valid; Padding.Same ]

        let! pool = Gen.frequency [ 9, Gen.constant PoolMode.Strict; 1, Gen.constant PoolMode.Floor ]

        let! batchNorm = Gen.elements [ false; true ]
        // Instance and group norm (one group: every width divides it) rarely, only where batch norm is off.
        let! norm =
            if batchNorm then
                Gen.constant CropCat.Layers.BlockNorm.None
            else
                Gen.frequency [
                    6, Gen.constant CropCat.Layers.BlockNorm.None
                    1, Gen.constant CropCat.Layers.BlockNorm.Instance
                    1, Gen.constant CropCat.Layers.BlockNorm.Group
                ]

        let! activation =
            Gen.frequency [
                5, Gen.constant CropCat.Layers.BlockActivation.ReLU
                1, Gen.constant CropCat.Layers.BlockActivation.LeakyReLU
                1, Gen.constant CropCat.Layers.BlockActivation.ELU
                1, Gen.constant CropCat.Layers.BlockActivation.SiLU
            ]

        let! dropout = Gen.elements [ 0.0; 0.5 ]
        let! ups = Gen.listOfLength depth (Gen.elements [ UpMode.Transposed; UpMode.Bilinear ])

        let legalMerge =
            if padding = Padding.Same then
                Gen.elements [ Merge.CropConcat; Merge.Concat ]
            else
                Gen.frequency [ 12, Gen.constant Merge.CropConcat; 1, Gen.constant Merge.Concat ]

        let! merges = Gen.listOfLength depth legalMerge
        let! residual = Gen.frequency [ 4, Gen.constant None; 1, Gen.choose (1, 4) |> Gen.map Some ]

        let! gate = Gen.frequency [ 5, Gen.constant 0; 1, Gen.choose (1, 3) ]

        let form =
            UNet.paperForm.With(
                inChannels = inChannels,
                classes = classes,
                padding = padding,
                pool = pool,
                batchNorm = batchNorm,
                bottomDropout = dropout,
                gate = gate,
                norm = norm,
                groups = 1,
                activation = activation
            )

        let levels = List.zip3 (List.take depth widths) ups merges

        let bottom: Spec =
            BlockSpec(List.last widths, padding, batchNorm, dropout, Norm = norm, Groups = 1, Activation = activation)

        let u =
            List.foldBack
                (fun (w, up, merge) inner -> UNet.level (form.With(up = System.Nullable up, merge = System.Nullable merge)) w inner)
                levels
                bottom

        let body =
            match residual with
            | None -> chain [ u; head classes ]
            | Some r ->
                chain [
                    BlockSpec(r, padding, batchNorm, 0.0)
                    skip add (BlockSpec(r, Padding.Same, batchNorm, 0.0))
                    u
                    head classes
                ]

        return NetSpec(inChannels, body)
    }

/// Smaller variants of a spec, largest simplifications first: drop an item, replace a skip by its
/// body, then simplify leaves (1 channel, valid padding, no batch norm, no dropout, transposed up).
let rec shrinkSpec (spec: Spec) : seq<Spec> =
    seq {
        match spec with
        | :? ChainSpec as c ->
            let items = List.ofSeq c.Items

            if List.length items = 1 then
                yield items.Head

            for i in 0 .. items.Length - 1 do
                yield chain (List.removeAt i items)

            for i in 0 .. items.Length - 1 do
                for s in shrinkSpec items[i] do
                    yield chain (List.updateAt i s items)
        | :? SkipSpec as k ->
            yield k.Body

            if not (isNull k.Gate) then
                yield SkipSpec(k.Merge, k.Body)

            if k.Merge <> Merge.CropConcat then
                yield SkipSpec(Merge.CropConcat, k.Body, k.Gate)

            for b in shrinkSpec k.Body do
                yield SkipSpec(k.Merge, b, k.Gate)
        | :? BlockSpec as b ->
            if b.Width > 1 then
                yield b.With(width = 1)

            if b.Width > 2 then
                yield b.With(width = b.Width - 1)

            if b.Padding = Padding.Same then
                yield b.With(padding = Padding.Valid)

            if b.BatchNorm then
                yield b.With(batchNorm = false)

            if b.Dropout > 0.0 then
                yield b.With(dropout = 0.0)
        | :? UpSpec as u ->
            if u.Width > 1 then
                yield UpSpec(1, u.Mode)

            if u.Mode <> UpMode.Transposed then
                yield UpSpec(u.Width, UpMode.Transposed)
        | :? HeadSpec as h ->
            if h.Classes > 1 then
                yield HeadSpec(1)
        | :? PoolSpec as p when p.Mode = PoolMode.Floor -> yield PoolSpec(PoolMode.Strict)
        | _ -> ()
    }

/// Smaller variants of a description: fewer input channels, then a smaller body.
let shrinkNet (net: Net) : seq<Net> =
    seq {
        if net.InChannels > 1 then
            yield NetSpec(1, net.Body, net.Dims)

        for b in shrinkSpec net.Body do
            yield NetSpec(net.InChannels, b, net.Dims)
    }

/// Descriptions of depth 1..maxDepth, with the shrinker.
let arbNet maxDepth =
    Arb.fromGenShrink (genNet maxDepth, shrinkNet)

/// A description with an input size up to `maxSize`: half the time a size the solver lists (when it
/// has one that small), otherwise any size, so refusals are exercised too.
let genNetAndSize maxDepth maxSize : Gen<Net * int> =
    gen {
        let! net = genNet maxDepth

        let valid =
            match ValidSizes.solve net with
            | Ok s -> [ 1..maxSize ] |> List.filter (ValidSizes.contains s)
            | Error _ -> []

        let! size =
            if List.isEmpty valid then
                Gen.choose (1, maxSize)
            else
                Gen.oneof [ Gen.elements valid; Gen.choose (1, maxSize) ]

        return net, size
    }

/// Shrinks the description (keeping the size), then the size.
let shrinkNetAndSize ((net, size): Net * int) : seq<Net * int> =
    seq {
        for n in shrinkNet net do
            yield n, size

        if size > 1 then
            yield net, size / 2
            yield net, size - 1
    }

/// Descriptions with sizes, with the shrinker.
let arbNetAndSize maxDepth maxSize =
    Arb.fromGenShrink (genNetAndSize maxDepth maxSize, shrinkNetAndSize)

/// Number of leaves (blocks, pools, ups, heads) and skips in a spec: a measure of its size.
let rec leaves (spec: Spec) =
    match spec with
    | Seq items -> List.sumBy leaves items
    | Skip(_, body) -> 1 + leaves body
    | _ -> 1

/// The same description over 3 spatial axes (volumes).
let in3d (net: Net) = NetSpec(net.InChannels, net.Body, 3)
