/// Shape inference over a description, before a single tensor exists, as F# Results.
namespace CropCat.Dsl

open CropCat.Architecture

/// Checks and infers shapes with the core's description records (the one definition of every rule).
module ShapeCheck =
    let private result (o: InferOutcome) : Result<Inferred, InferError> =
        match o.Value, o.Error with
        | NonNull v, _ -> Ok v
        | Null, NonNull e -> Error e
        | Null, Null -> failwith "unreachable: an inference outcome has a value or an error"

    /// Refuses a description that cannot work at any size (zero channels, bad dropout, residual add of
    /// unequal channels), naming the layer; returns its named form otherwise.
    let check (net: Net) : Result<Named, InferError> =
        match net.Check() with
        | null -> Ok net.Named
        | e -> Error e

    /// Every layer's output for an input of `extents` (one size per spatial axis), or the first layer
    /// that refuses (its path and why). Also refuses what `check` refuses, and empty inputs.
    let inferAt (net: Net) (extents: int list) : Result<Inferred, InferError> =
        net.TryInfer(Array.ofList extents) |> result

    /// Inference for a 2-D input of `height` x `width`.
    let inferHW (net: Net) (height: int) (width: int) = inferAt net [ height; width ]

    /// Inference for `size` on every axis (a square, or a cube for 3-D nets).
    let infer (net: Net) (size: int) =
        inferAt net (List.ofArray (net.Cube size))

    /// The output shape for `size` on every axis, or the refusing layer.
    let output (net: Net) (size: int) =
        infer net size |> Result.map (fun i -> i.Output)

    /// Trainable parameters of the description (size-independent), or the refusing layer.
    let parameters (net: Net) : Result<int64, InferError> =
        check net |> Result.map (fun _ -> net.Parameters)
