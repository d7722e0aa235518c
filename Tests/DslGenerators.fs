/// FsCheck generators and shrinkers for DSL descriptions and input sizes.
module CropCat.Tests.DslGenerators

open FsCheck
open FsCheck.FSharp
open CropCat.Shapes
open CropCat.Dsl

/// A U-Net-like description of depth 1..maxDepth with widths 1..4, valid or same padding, per-level
/// transposed/bilinear up and merge (concat only where it is legal, except rarely, to exercise refusals),
/// batch norm on/off, optional bottom dropout, rarely floor pooling, sometimes a residual add block first.
let genNet maxDepth : Gen<Net> =
    gen {
        let! depth = Gen.choose (1, maxDepth)
        let! widths = Gen.listOfLength (depth + 1) (Gen.choose (1, 4))
        let! inChannels = Gen.choose (1, 3)
        let! classes = Gen.choose (1, 3)
        let! padding = Gen.elements [ Padding.Valid; Padding.Same ]

        let! pool = Gen.frequency [ 9, Gen.constant PoolMode.Strict; 1, Gen.constant PoolMode.Floor ]

        let! batchNorm = Gen.elements [ false; true ]
        let! dropout = Gen.elements [ 0.0; 0.5 ]
        let! ups = Gen.listOfLength depth (Gen.elements [ UpMode.Transposed; UpMode.Bilinear ])

        let legalMerge =
            if padding = Padding.Same then
                Gen.elements [ Merge.CropConcat; Merge.Concat ]
            else
                Gen.frequency [ 12, Gen.constant Merge.CropConcat; 1, Gen.constant Merge.Concat ]

        let! merges = Gen.listOfLength depth legalMerge
        let! residual = Gen.frequency [ 4, Gen.constant None; 1, Gen.choose (1, 4) |> Gen.map Some ]

        let form = {
            UNet.paperForm with
                InChannels = inChannels
                Classes = classes
                Padding = padding
                Pool = pool
                BatchNorm = batchNorm
                BottomDropout = dropout
        }

        let levels = List.zip3 (List.take depth widths) ups merges
        let bottom = Block(List.last widths, padding, batchNorm, dropout)

        let u =
            List.foldBack (fun (w, up, merge) inner -> UNet.level { form with Up = up; Merge = merge } w inner) levels bottom

        let body =
            match residual with
            | None -> Seq [ u; Head classes ]
            | Some r ->
                Seq [
                    Block(r, padding, batchNorm, 0.0)
                    Skip(Merge.Add, Block(r, Padding.Same, batchNorm, 0.0))
                    u
                    Head classes
                ]

        return { InChannels = inChannels; Body = body }
    }

/// Smaller variants of a spec, largest simplifications first: drop an item, replace a skip by its
/// body, then simplify leaves (1 channel, valid padding, no batch norm, no dropout, transposed up).
let rec shrinkSpec (spec: Spec) : seq<Spec> =
    seq {
        match spec with
        | Seq items ->
            if List.length items = 1 then
                yield items.Head

            for i in 0 .. items.Length - 1 do
                yield Seq(List.removeAt i items)

            for i in 0 .. items.Length - 1 do
                for s in shrinkSpec items[i] do
                    yield Seq(List.updateAt i s items)
        | Skip(merge, body) ->
            yield body

            if merge <> Merge.CropConcat then
                yield Skip(Merge.CropConcat, body)

            for b in shrinkSpec body do
                yield Skip(merge, b)
        | Block(w, pad, bn, d) ->
            if w > 1 then
                yield Block(1, pad, bn, d)

            if w > 2 then
                yield Block(w - 1, pad, bn, d)

            if pad = Padding.Same then
                yield Block(w, Padding.Valid, bn, d)

            if bn then
                yield Block(w, pad, false, d)

            if d > 0.0 then
                yield Block(w, pad, bn, 0.0)
        | Up(w, mode) ->
            if w > 1 then
                yield Up(1, mode)

            if mode = UpMode.Bilinear then
                yield Up(w, UpMode.Transposed)
        | Head k ->
            if k > 1 then
                yield Head 1
        | Down PoolMode.Floor -> yield Down PoolMode.Strict
        | Down _ -> ()
    }

/// Smaller variants of a description: fewer input channels, then a smaller body.
let shrinkNet (net: Net) : seq<Net> =
    seq {
        if net.InChannels > 1 then
            yield { net with InChannels = 1 }

        for b in shrinkSpec net.Body do
            yield { net with Body = b }
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
