/// A torchinfo-like table of a description, computed from the shape algebra alone.
namespace CropCat.Dsl

/// Summaries of descriptions.
module Summary =
    /// The table for an inferred description: one row per layer (path, kind, output shape,
    /// parameters), then the total and the input -> output sizes.
    let renderInferred (i: CropCat.Architecture.Inferred) = CropCat.Nets.Summary.Render i

    /// The table of `net` for `size` on every axis, or the layer that refuses that size.
    let render (net: Net) (size: int) : Result<string, InferError> =
        ShapeCheck.infer net size |> Result.map renderInferred

    /// The table of `net` for the input `extents`, or the layer that refuses them.
    let renderAt (net: Net) (extents: int list) : Result<string, InferError> =
        ShapeCheck.inferAt net extents |> Result.map renderInferred
