/// What `predict --verbose` adds: the choices that decide speed (precision, memory layout, tile size) and
/// each image's tile plan.
module CropCat.Cli.PredictReport

open System
open CropCat.Inference
open CropCat.Nets

let private inv (f: FormattableString) = FormattableString.Invariant f

/// The run's precision, memory layout and tiling settings.
let setup (net: Network) (tiles: TileOptions) = [
    inv $"precision {net.Precision}, memory layout {net.Layout}, requested tile {tiles.TileSize} px, batch {tiles.BatchSize}"
]

/// For FolderPredictorOptions.Progress: one line per image when its plan is known.
let tilePlans (log: string -> unit) =
    Action<PredictionProgress>(fun p ->
        match p.Plan with
        | NonNull plan when p.TilesDone = 0 ->
            log (
                inv
                    $"{p.Name}: {plan.Count} tile(s) of {plan.TileSize} px predicting {plan.OutputSize} px each ({plan.Rows.Count} rows x {plan.Columns.Count} columns, step {plan.Step} px, {plan.Mode})"
            )
        | _ -> ())
