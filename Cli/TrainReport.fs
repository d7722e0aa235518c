/// What `train --verbose` adds after training: the numbers that explain where the time went.
module CropCat.Cli.TrainReport

open System
open System.Globalization
open CropCat.Training

let private inv (f: FormattableString) = FormattableString.Invariant f

/// One line per epoch (seconds including validation, steps at its end, steps/s since the previous epoch)
/// and the run's data wait, tile plan and image decodes (cache misses).
let verbose (r: FolderTrainingResult) : string list =
    let history = List.ofSeq r.Training.History

    let epochs =
        history
        |> List.mapi (fun i h ->
            let rate =
                if i = 0 then
                    ""
                else
                    inv $", {float (h.Step - history[i - 1].Step) / max h.Seconds 1e-9:F2} steps/s"

            inv $"epoch {h.Epoch}: {h.Seconds:F2} s with validation, at step {h.Step}{rate}")

    epochs
    @ [
        inv
            $"time: {r.Training.Seconds:F1} s in all, {r.Training.DataSeconds:F1} s of it waiting for training batches ({100.0 * r.Training.DataSeconds / max r.Training.Seconds 1e-9:F0} percent)"
        inv
            $"tile plan: {r.Tile}x{r.Tile} input tiles predicting {r.OutputSize}x{r.OutputSize}; {r.TrainTiles} training windows per epoch on {r.TrainImages} images, {r.ValidationTiles} validation tiles on {r.ValidationImages} images"
        inv $"data: {r.ImageLoads} training-image decodes (cache misses), {r.Layout} layout"
    ]
