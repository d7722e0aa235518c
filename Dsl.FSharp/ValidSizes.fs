/// The input sizes a description accepts, in closed form.
namespace CropCat.Dsl

open CropCat.Shapes

/// The sizes First, First + Period, First + 2 Period, ... with an affine output size:
/// the k-th size gives output FirstOutput + k * OutputStep (per axis, square inputs).
type Progression = {
    /// The smallest size of the progression.
    First: int
    /// The distance between sizes: 2^D for a net with D down-steps.
    Period: int
    /// The output size for `First`.
    FirstOutput: int
    /// How much the output grows per step of the progression.
    OutputStep: int
} with

    /// Whether `n` is one of the sizes.
    member p.Contains n =
        n >= p.First && (n - p.First) % p.Period = 0

    /// The output size for a size `n` of the progression.
    member p.OutputOf n =
        p.FirstOutput + p.OutputStep * ((n - p.First) / p.Period)

    /// "188 + 16k -> 4 + 16k (output = input - 184)".
    override p.ToString() =
        let shift = p.FirstOutput - p.First

        let rel =
            if p.OutputStep = p.Period then
                if shift = 0 then " (output = input)"
                elif shift < 0 then $" (output = input - {-shift})"
                else $" (output = input + {shift})"
            else
                ""

        $"{p.First} + {p.Period}k -> {p.FirstOutput} + {p.OutputStep}k{rel}"

/// The valid input sizes of one description.
type Solution = {
    /// 2^D, D = the number of down-steps; validity depends only on n mod Period and a lower bound.
    Period: int
    /// The valid sizes as progressions, ordered by their first size.
    Progressions: Progression list
    /// The largest size the solver's checks reached (sizes beyond it follow the same closed form).
    Limit: int
}

/// Solves for the valid (square) input sizes of a description without scanning sizes.
///
/// Why a closed form exists: let D be the number of down-steps and P = 2^D. Along the class
/// n = r + P t (fixed r in [0, P)) every feature size is affine in t with a positive slope (each
/// 3x3 conv subtracts a constant, each pool halves a slope that is still even, each up doubles), so
/// the odd-size refusals of strict pools do not depend on t, and every other rule (size >= 3, >= 2,
/// crop source >= target, equal sizes for concat/add) is an affine inequality or equation in t. When
/// no skip body up-samples more often than it down-samples, none of those can turn false as t grows,
/// so the valid t of a class form a half-line [t0, inf) (or nothing). The solver asks the inference
/// oracle at the largest t below `Limit` whether the class is valid at all, binary-searches t0, and
/// reads the output map from two evaluations, checked against a third and the largest. A skip body
/// with more up- than down-steps can make the valid set bounded; the solver refuses such
/// descriptions (naming the skip) instead of guessing.
module ValidSizes =
    /// Sizes the solver checks up to (per axis), before accounting for up-steps outside skips.
    let baseLimit = 1 <<< 20

    let rec private downs spec =
        match spec with
        | Down _ -> 1
        | Skip(_, b) -> downs b
        | Seq items -> List.sumBy downs items
        | _ -> 0

    /// Net scale exponent (ups - downs) of a named node, refusing unbalanced skip bodies.
    let rec private scale (node: Named) : Result<int * int, InferError> =
        // Returns (net exponent, largest running exponent reached inside).
        match node with
        | NDown _ -> Ok(-1, 0)
        | NUp _ -> Ok(1, 1)
        | NSkip(p, merge, body) ->
            scale body
            |> Result.bind (fun (e, peak) ->
                if e > 0 then
                    let consequence =
                        if merge = Merge.CropConcat then
                            "so beyond the smallest sizes it must crop its skip input to a larger size"
                        else
                            "so its size can equal the skip input's at one size at most"

                    Error {
                        Path = p
                        Reason =
                            $"the skip body has {e} more up- than down-steps, {consequence}; the valid-size solver only takes skip bodies that do not up-sample overall"
                    }
                else
                    Ok(e, peak))
        | NSeq(_, items) ->
            items
            |> List.fold
                (fun acc n ->
                    acc
                    |> Result.bind (fun (e, peak) -> scale n |> Result.map (fun (e', p') -> e + e', max peak (e + p'))))
                (Ok(0, 0))
        | _ -> Ok(0, 0)

    /// Solves `net`, or says why it cannot be solved: the description refuses every size (the most
    /// telling refusal is given, at the size that got furthest), or it is outside the solver's form.
    let solve (net: Net) : Result<Solution, InferError> =
        Inference.check net
        |> Result.bind (fun named -> scale named)
        |> Result.bind (fun (_, peak) ->
            let d = downs net.Body

            if d > 12 then
                Error {
                    Path = "net"
                    Reason = $"{d} down-steps; the valid-size solver handles at most 12"
                }
            elif peak > 10 then
                Error {
                    Path = "net"
                    Reason = $"sizes grow by 2^{peak} inside the net; the valid-size solver handles at most 2^10"
                }
            else
                let period = 1 <<< d
                let limit = baseLimit >>> peak
                let sizeAt r t = r + period * t
                let attempt n = Inference.attempt net n n

                let valid n = n >= 1 && Result.isOk (attempt n)

                let outputAt n =
                    match attempt n with
                    | Ok i -> i.Output.Height
                    | Error _ -> failwith $"unreachable: size {n} was checked valid"

                let classes = [
                    for r in 0 .. period - 1 do
                        let tMax = (limit - r) / period

                        if tMax >= 0 && valid (sizeAt r tMax) then
                            // Smallest valid t: validity is monotone in t on this class.
                            let mutable lo, hi = 0, tMax

                            while lo < hi do
                                let mid = lo + (hi - lo) / 2
                                if valid (sizeAt r mid) then hi <- mid else lo <- mid + 1

                            let n0 = sizeAt r lo
                            let o0 = outputAt n0
                            let step = if lo < tMax then outputAt (sizeAt r (lo + 1)) - o0 else 0
                            yield r, lo, tMax, n0, o0, step
                ]

                let notAffine =
                    classes
                    |> List.tryPick (fun (r, lo, tMax, n0, o0, step) ->
                        [ lo + 2; tMax ]
                        |> List.filter (fun t -> t <= tMax)
                        |> List.tryFind (fun t -> outputAt (sizeAt r t) <> o0 + step * (t - lo))
                        |> Option.map (fun t -> {
                            Path = "net"
                            Reason =
                                $"the output size is not affine on the sizes {n0} + {period}k (it differs at {sizeAt r t}); the valid-size solver cannot describe this net"
                        }))

                match notAffine with
                | Some e -> Error e
                | None when List.isEmpty classes ->
                    // Every class refuses: report the refusal that got furthest through the net.
                    let worst =
                        // Probe each class near the paper's 572 and at the limit; on a tie the
                        // smaller size reads better in the message.
                        [
                            for r in 0 .. period - 1 do
                                for t in [ max 0 ((572 - r) / period); (limit - r) / period ] do
                                    let n = sizeAt r t

                                    match attempt n with
                                    | Error(e, reached) -> yield reached, n, e
                                    | Ok _ -> ()
                        ]
                        |> List.sortBy (fun (_, n, _) -> n)
                        |> List.maxBy (fun (reached, _, _) -> reached)

                    let _, n, e = worst

                    Error {
                        e with
                            Reason = $"no input size works; at {n}x{n}: {e.Reason}"
                    }
                | None ->
                    Ok {
                        Period = period
                        Limit = limit
                        Progressions =
                            classes
                            |> List.map (fun (_, _, _, n0, o0, step) -> {
                                First = n0
                                Period = period
                                FirstOutput = o0
                                OutputStep = step
                            })
                            |> List.sortBy (fun p -> p.First)
                    })

    /// Whether `n` x `n` is a valid input.
    let contains (s: Solution) n =
        s.Progressions |> List.exists (fun p -> p.Contains n)

    /// The smallest valid size.
    let smallest (s: Solution) =
        s.Progressions |> List.map (fun p -> p.First) |> List.min

    /// The output size for input `n`, or None when `n` is not valid.
    let outputOf (s: Solution) n =
        s.Progressions
        |> List.tryFind (fun p -> p.Contains n)
        |> Option.map (fun p -> p.OutputOf n)

    /// The largest valid size <= n, if any.
    let below (s: Solution) n =
        s.Progressions
        |> List.choose (fun p ->
            if n < p.First then
                None
            else
                Some(p.First + (n - p.First) / p.Period * p.Period))
        |> List.sortDescending
        |> List.tryHead

    /// The smallest valid size >= n.
    let above (s: Solution) n =
        s.Progressions
        |> List.map (fun p ->
            if n <= p.First then
                p.First
            else
                p.First + (n - p.First + p.Period - 1) / p.Period * p.Period)
        |> List.min

    /// The valid size nearest to `n`; on a tie the larger one (it keeps more context).
    let nearest (s: Solution) n =
        match below s n with
        | Some b when n - b < above s n - n -> b
        | _ -> above s n

    /// The smallest input whose output is at least `wanted` pixels, with that output. Because every
    /// size rule is monotone, the output grows with the input, so when some input gives exactly
    /// `wanted` this is the smallest such input (the output then equals `wanted`).
    let inputFor (s: Solution) wanted =
        s.Progressions
        |> List.choose (fun p ->
            if p.FirstOutput >= wanted then
                Some p.First
            elif p.OutputStep <= 0 then
                None
            else
                let k = (wanted - p.FirstOutput + p.OutputStep - 1) / p.OutputStep
                Some(p.First + k * p.Period))
        |> List.sort
        |> List.tryHead
        |> Option.map (fun n -> n, (outputOf s n).Value)

    /// How many pixels each crop-and-cat merge cuts away per side for an `n` x `n` input.
    let cropMargins (net: Net) n =
        Inference.infer net n |> Result.map (fun i -> i.Crops)
