/// The paths and parameter scopes a description's layers get, derived from its structure.
namespace CropCat.Dsl

open System.Collections.Generic
open CropCat.Shapes

/// A description with every layer named: `Path` is what summaries and errors show
/// ("level 2 / enc"), `Scope` prefixes the layer's parameter names ("enc2.conv1.weight").
type Named =
    /// A conv block with its path and parameter scope.
    | NBlock of path: string * scope: string * width: int * padding: Padding * batchNorm: bool * dropout: float
    /// A down-step (no parameters, so no scope).
    | NDown of path: string * pool: PoolMode
    /// An up-step; its parameters are "{scope}.up.weight".
    | NUp of path: string * scope: string * width: int * mode: UpMode
    /// The head; its parameters are "{scope}.weight".
    | NHead of path: string * scope: string * classes: int
    /// A skip; merge errors are reported at its path.
    | NSkip of path: string * merge: Merge * body: Named
    /// A sequence (no row of its own in traces).
    | NSeq of path: string * items: Named list

    /// The node's display path.
    member n.Path =
        match n with
        | NBlock(p, _, _, _, _, _)
        | NDown(p, _)
        | NUp(p, _, _, _)
        | NHead(p, _, _)
        | NSkip(p, _, _)
        | NSeq(p, _) -> p

/// Naming rules. A skip opens a new frame one level deeper. Inside the frame at depth d (the top
/// is depth 0), looking through nested Seqs but not into skips:
/// - a skip is "level d+1 / merge"; blocks before the first skip are "level d+1 / enc" (scope
///   enc{d+1}), blocks after it "level d+1 / dec" (scope dec{d+1});
/// - in a frame without a skip, blocks are "bottom" (or "block" at the top);
/// - down and up steps belong to the level whose skip body they are in: "level d / down",
///   "level d / up" (scope dec{d}, like the decoder block of that level); "down"/"up" at the top;
/// - the head is "head".
/// On the `unet` form this gives exactly the core's names (CropCat.Nets.UNet). A name used twice is
/// numbered from the second use on ("level 1 / dec 2", scope dec1_2), so names are unique and
/// depend only on the structure.
module Naming =
    let rec private flatten spec =
        match spec with
        | Seq items -> List.collect flatten items
        | s -> [ s ]

    /// Names every layer of `spec`.
    let name (spec: Spec) : Named =
        let used = HashSet<string>()

        let unique (path: string) (scope: string) =
            if used.Add path then
                path, scope
            else
                let k =
                    Seq.initInfinite ((+) 2)
                    |> Seq.find (fun k -> not (used.Contains $"{path} {k}"))

                used.Add $"{path} {k}" |> ignore
                $"{path} {k}", $"{scope}_{k}"

        let rec frame depth (content: Spec) =
            let items = flatten content

            let firstSkip =
                items
                |> List.tryFindIndex (function
                    | Skip _ -> true
                    | _ -> false)

            let mutable position = 0
            let levelOf d = $"level {d}"

            let rec walk spec =
                match spec with
                | Seq items ->
                    let path = if depth = 0 then "net" else $"{levelOf depth} / body"
                    NSeq(path, List.map walk items)
                | leaf ->
                    let i = position
                    position <- position + 1

                    match leaf with
                    | Block(w, pad, bn, drop) ->
                        let path, scope =
                            match firstSkip with
                            | Some s when i < s -> $"{levelOf (depth + 1)} / enc", $"enc{depth + 1}"
                            | Some _ -> $"{levelOf (depth + 1)} / dec", $"dec{depth + 1}"
                            | None when depth = 0 -> "block", "block"
                            | None -> "bottom", "bottom"

                        let path, scope = unique path scope
                        NBlock(path, scope, w, pad, bn, drop)
                    | Down pool ->
                        let path, _ = unique (if depth = 0 then "down" else $"{levelOf depth} / down") ""
                        NDown(path, pool)
                    | Up(w, mode) ->
                        let path, scope =
                            if depth = 0 then
                                unique "up" "up"
                            else
                                unique $"{levelOf depth} / up" $"dec{depth}"

                        NUp(path, scope, w, mode)
                    | Head classes ->
                        let path, scope = unique "head" "head"
                        NHead(path, scope, classes)
                    | Skip(merge, body) ->
                        let path, _ = unique $"{levelOf (depth + 1)} / merge" ""
                        NSkip(path, merge, frame (depth + 1) body)
                    | Seq _ -> failwith "unreachable: Seq is handled above"

            walk content

        frame 0 spec
