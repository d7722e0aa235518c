/// Training curves drawn by ScottPlot: loss, validation metrics and learning rate against the epoch,
/// one line per run, as one PNG of three panels (`curves.png` of the demo and of `train --curves`).
module CropCat.Cli.Curves

open System
open CropCat.Imaging
open CropCat.Training
open ScottPlot

/// The mean of the foreground classes' scores (1..K-1, NaN skipped); NaN when there are none.
let foreground (perClass: float[]) =
    let fg =
        perClass |> Array.skip (min 1 perClass.Length) |> Array.filter Double.IsFinite

    if fg.Length = 0 then nan else Array.average fg

/// One line: x and y where y is finite (NaN marks an epoch without that value, e.g. no validation).
let private line (plot: Plot) (label: string) (dashed: bool) (color: Color) (points: (float * float) seq) =
    let pts = points |> Seq.filter (fun (_, y) -> Double.IsFinite y) |> Array.ofSeq

    if pts.Length > 0 then
        let s = plot.Add.Scatter(Array.map fst pts, Array.map snd pts, color)
        s.LegendText <- label
        s.LineWidth <- 2.0f
        s.MarkerSize <- (if pts.Length = 1 then 8.0f else 4.0f)

        if dashed then
            s.LinePattern <- LinePattern.Dashed

let private palette = [| Colors.C0; Colors.C1; Colors.C2; Colors.C3; Colors.C4; Colors.C5 |]

/// Renders runs (name, epochs) as three panels side by side, `width` x `height` pixels, PNG bytes.
let render (runs: (string * EpochRecord seq) list) (width: int) (height: int) : byte[] =
    let multi = Multiplot()
    multi.AddPlots 3
    let loss, metrics, rate = multi.GetPlot 0, multi.GetPlot 1, multi.GetPlot 2

    let named (run: string) (what: string) =
        if runs.Length > 1 then $"{run}: {what}" else what

    runs
    |> List.iteri (fun i (name, history) ->
        let h = Array.ofSeq history
        let color = palette[i % palette.Length]

        let at (pick: EpochRecord -> float) =
            h |> Seq.map (fun r -> float r.Epoch, pick r)

        line loss (named name "train") false color (at (fun r -> r.TrainLoss))
        line loss (named name "validation") true color (at (fun r -> r.ValidationLoss))
        line metrics (named name "IoU") false color (at (fun r -> foreground r.ValidationIoU))
        line metrics (named name "Dice") true color (at (fun r -> foreground r.ValidationDice))
        line metrics (named name "mAP") false (color.WithAlpha 0.5) (at (fun r -> r.ValidationMeanAP))
        line rate (named name "learning rate") false color (at (fun r -> r.LearningRate)))

    for plot, title, y in
        [
            loss, "Loss", "loss"
            metrics, "Validation (foreground mean)", "score"
            rate, "Learning rate", "learning rate"
        ] do
        plot.Title title
        plot.XLabel "epoch"
        plot.YLabel y
        // Epochs are whole numbers: no 1.2, 1.4 ticks between them.
        plot.Axes.Bottom.TickGenerator <- TickGenerators.NumericAutomatic(IntegerTicksOnly = true)

        if plot.GetPlottables() |> Seq.isEmpty then
            plot.Add.Annotation "no values" |> ignore
        else
            // Below the panel, so the legend never hides a line.
            plot.ShowLegend Edge.Bottom |> ignore

    // A constant learning rate spans no range: ScottPlot centres it in -1..1, where 2e-3 reads as 0, so the
    // rate panel's limits come from the values themselves (ScottPlot's data limits are already widened then).
    let rates =
        runs
        |> List.collect (fun (_, history) -> history |> Seq.map _.LearningRate |> List.ofSeq)

    if not rates.IsEmpty then
        let low, high = List.min rates, List.max rates

        if (high <> 0.0 || low <> 0.0) && high - low <= 1e-9 * max (abs high) (abs low) then
            rate.Axes.SetLimitsY(min 0.0 (2.0 * low), max 0.0 (2.0 * high))

    multi.Layout <- MultiplotLayouts.Columns()
    use image = multi.Render(width, height)
    image.GetImageBytes ImageFormat.Png

/// Writes `render runs` atomically to `path` (three 560 x 480 panels).
let write (path: string) (runs: (string * EpochRecord seq) list) =
    let bytes = render runs 1680 480
    AtomicFile.Write(path, fun s -> s.Write(bytes, 0, bytes.Length))
