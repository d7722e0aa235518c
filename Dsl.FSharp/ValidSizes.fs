/// The input sizes a description accepts, in closed form (the core's solver, per axis).
namespace CropCat.Dsl

open CropCat.Architecture

/// F# access to `CropCat.Architecture.ValidSizes`: each axis' valid sizes as progressions.
module ValidSizes =
    /// Solves `net`, or says why it cannot be solved (no size works, or it is outside the solver's form).
    let solve (net: Net) : Result<Solution, InferError> =
        let o = CropCat.Architecture.ValidSizes.Solve net

        match o.Value, o.Error with
        | NonNull v, _ -> Ok v
        | Null, NonNull e -> Error e
        | Null, Null -> failwith "unreachable: a solve outcome has a value or an error"

    /// Whether `n` is a valid size of an axis.
    let contains (s: Solution) n = s.Contains n

    /// The smallest valid size.
    let smallest (s: Solution) = s.Smallest

    /// The output size for input `n`, or None when `n` is not valid.
    let outputOf (s: Solution) n = Option.ofNullable (s.OutputOf n)

    /// The largest valid size <= n, if any.
    let below (s: Solution) n = Option.ofNullable (s.Below n)

    /// The smallest valid size >= n.
    let above (s: Solution) n = s.Above n

    /// The valid size nearest to `n`; on a tie the larger one (it keeps more context).
    let nearest (s: Solution) n = s.Nearest n

    /// The smallest input whose output is at least `wanted` pixels, with that output.
    let inputFor (s: Solution) wanted =
        let r = s.InputFor wanted

        if r.HasValue then
            let struct (input, output) = r.Value
            Some(input, output)
        else
            None

    /// How many pixels each crop-and-cat merge cuts away per side for `n` on every axis.
    let cropMargins (net: Net) n =
        ShapeCheck.infer net n |> Result.map (fun i -> List.ofSeq i.Crops)
