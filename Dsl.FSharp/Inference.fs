/// Shape inference over a description, before a single tensor exists.
namespace CropCat.Dsl

open CropCat.Layers
open CropCat.Shapes

/// Why a description refuses: the layer's path and what is wrong there.
type InferError = {
    /// The refusing layer, e.g. "level 2 / down".
    Path: string
    /// What is wrong, naming the offending size or channel count.
    Reason: string
} with

    /// "path: reason", as the core's ShapeException says it.
    member e.Message = $"{e.Path}: {e.Reason}"

/// What one crop-and-cat merge does for a given input: it centre-crops its skip input `Source`
/// to the body's `Target` size.
type CropMargin = {
    /// The merge's path, e.g. "level 1 / merge".
    Path: string
    /// The skip input (the encoder feature) before cropping.
    Source: Shape
    /// The size it is cropped to (the decoder feature).
    Target: Shape
} with

    /// Rows cut away above (floor of half the margin, `ShapeRules.CropOffset`).
    member m.Top = ShapeRules.CropOffset(m.Source.Height, m.Target.Height)

    /// Rows cut away below (the other half; one more than `Top` when the margin is odd).
    member m.Bottom = m.Source.Height - m.Target.Height - m.Top

    /// Columns cut away on the left.
    member m.Left = ShapeRules.CropOffset(m.Source.Width, m.Target.Width)

    /// Columns cut away on the right.
    member m.Right = m.Source.Width - m.Target.Width - m.Left

/// The result of inference for one input shape.
type Inferred = {
    /// The input shape.
    Input: Shape
    /// One row per layer in execution order (conv blocks give one row per convolution), exactly as
    /// `CropCat.Layers.Layer.Infer` would give for the built network.
    Rows: ShapeTrace list
    /// Every crop-and-cat merge with its source and target size.
    Crops: CropMargin list
    /// The network's output shape.
    Output: Shape
} with

    /// Trainable parameters of the whole description.
    member i.Parameters = i.Rows |> List.sumBy (fun r -> r.Parameters)

/// Checks and infers shapes with the core's `ShapeRules` (the one definition of every rule).
module Inference =
    let private fail path reason = Error { Path = path; Reason = reason }

    /// Parameters of a 1x1 head (weights plus one bias per class), as `CropCat.Layers.Head` holds them.
    let headParameters inChannels classes =
        int64 inChannels * int64 classes + int64 classes

    /// The row kind the core's Skip reports for each merge.
    let mergeKind merge =
        match merge with
        | Merge.CropConcat -> "CropCat"
        | Merge.Concat -> "Concat"
        | _ -> "Add"

    /// The size-independent checks: channels >= 1 everywhere, dropout in [0, 1), residual adds of
    /// equal channels. Returns the output channels of each named node's input, folded left to right.
    let rec private channels (inC: int) (node: Named) : Result<int, InferError> =
        match node with
        | NBlock(p, _, w, _, _, d) ->
            if w < 1 then
                fail p $"a conv block needs at least 1 output channel, got {w}"
            elif not (d >= 0.0 && d < 1.0) then
                fail p $"dropout must be in [0, 1), got {d}"
            else
                Ok w
        | NDown _ -> Ok inC
        | NUp(p, _, w, _) ->
            if w < 1 then
                fail p $"up-sampling needs at least 1 output channel, got {w}"
            else
                Ok w
        | NHead(p, _, k) ->
            if k < 1 then
                fail p $"the head needs at least 1 class, got {k}"
            else
                Ok k
        | NSkip(p, merge, body) ->
            channels inC body
            |> Result.bind (fun b ->
                match merge with
                | Merge.Add when b <> inC -> fail p $"add needs equal channels, got skip {inC} and body {b}"
                | Merge.Add -> Ok b
                | _ -> Ok(inC + b))
        | NSeq(_, items) ->
            items
            |> List.fold (fun acc n -> acc |> Result.bind (fun c -> channels c n)) (Ok inC)

    /// Refuses a description that cannot work at any size (zero channels, bad dropout, residual add of
    /// unequal channels), naming the layer; returns its named form otherwise.
    let check (net: Net) : Result<Named, InferError> =
        let named = Naming.name net.Body

        if net.InChannels < 1 then
            fail "input" $"the input needs at least 1 channel, got {net.InChannels}"
        else
            channels net.InChannels named |> Result.map (fun _ -> named)

    let private rule path (r: ShapeResult) =
        match r.Error with
        | null -> Ok r.Value
        | reason -> fail path reason

    /// Folds `input` through the named description, collecting rows and crops in execution order.
    let rec private fold (rows: ResizeArray<ShapeTrace>) (crops: ResizeArray<CropMargin>) (s: Shape) node =
        let row path kind (out: Shape) pars =
            rows.Add(ShapeTrace(path, kind, out, pars))

        match node with
        | NBlock(p, _, w, pad, bn, _) ->
            rule $"{p} / conv1" (ShapeRules.Conv3x3(s, s.Channels, w, pad))
            |> Result.bind (fun a ->
                row $"{p} / conv1" "Conv3x3+ReLU" a (ConvBlock.ConvParameters(s.Channels, w, bn))

                rule $"{p} / conv2" (ShapeRules.Conv3x3(a, w, w, pad))
                |> Result.map (fun b ->
                    row $"{p} / conv2" "Conv3x3+ReLU" b (ConvBlock.ConvParameters(w, w, bn))
                    b))
        | NDown(p, pool) ->
            rule p (ShapeRules.MaxPool2x2(s, pool))
            |> Result.map (fun y ->
                row p "MaxPool2x2" y 0L
                y)
        | NUp(p, _, w, mode) ->
            rule p (ShapeRules.Up2x(s, s.Channels, w))
            |> Result.map (fun y ->
                row
                    p
                    (if mode = UpMode.Transposed then
                         "UpConv2x2"
                     else
                         "Bilinear2x+1x1")
                    y
                    (Up.Parameters(s.Channels, w, mode))

                y)
        | NHead(p, _, k) ->
            rule p (ShapeRules.Head1x1(s, s.Channels, k))
            |> Result.map (fun y ->
                row p "Head1x1" y (headParameters s.Channels k)
                y)
        | NSkip(p, merge, body) ->
            fold rows crops s body
            |> Result.bind (fun b ->
                rule p (ShapeRules.MergeShapes(s, b, merge))
                |> Result.map (fun y ->
                    if merge = Merge.CropConcat then
                        crops.Add { Path = p; Source = s; Target = b }

                    row p (mergeKind merge) y 0L
                    y))
        | NSeq(_, items) ->
            items
            |> List.fold (fun acc n -> acc |> Result.bind (fun x -> fold rows crops x n)) (Ok s)

    /// Inference that also says, on refusal, how many layers passed before it (to pick the most
    /// telling refusal among several sizes).
    let internal attempt (net: Net) (height: int) (width: int) : Result<Inferred, InferError * int> =
        match check net with
        | Error e -> Error(e, 0)
        | Ok _ when height < 1 || width < 1 ->
            Error(
                {
                    Path = "input"
                    Reason = $"size {height}x{width} is empty"
                },
                0
            )
        | Ok named ->
            let input = Shape(net.InChannels, height, width)
            let rows = ResizeArray()
            let crops = ResizeArray()

            match fold rows crops input named with
            | Error e -> Error(e, rows.Count)
            | Ok out ->
                Ok {
                    Input = input
                    Rows = List.ofSeq rows
                    Crops = List.ofSeq crops
                    Output = out
                }

    /// Infers every layer's output for an input of `height` x `width` pixels, or the first layer that
    /// refuses (its path and why). Also refuses what `check` refuses, and empty inputs.
    let inferHW (net: Net) (height: int) (width: int) : Result<Inferred, InferError> =
        attempt net height width |> Result.mapError fst

    /// Inference for a square `size` x `size` input.
    let infer (net: Net) (size: int) = inferHW net size size

    /// The output shape for a square input, or the refusing layer.
    let output (net: Net) (size: int) =
        infer net size |> Result.map (fun i -> i.Output)

    /// Trainable parameters of the description (size-independent), or the refusing layer.
    let parameters (net: Net) : Result<int64, InferError> =
        // Parameter counts depend on channels only; fold the channels with a size every rule takes.
        let rec count inC node =
            match node with
            | NBlock(_, _, w, _, bn, _) -> ConvBlock.ConvParameters(inC, w, bn) + ConvBlock.ConvParameters(w, w, bn), w
            | NDown _ -> 0L, inC
            | NUp(_, _, w, mode) -> Up.Parameters(inC, w, mode), w
            | NHead(_, _, k) -> headParameters inC k, k
            | NSkip(_, merge, body) ->
                let p, b = count inC body
                p, (if merge = Merge.Add then b else inC + b)
            | NSeq(_, items) ->
                items
                |> List.fold
                    (fun (total, c) n ->
                        let p, c' = count c n
                        total + p, c')
                    (0L, inC)

        check net |> Result.map (fun named -> fst (count net.InChannels named))
