/// Progress that fits where stderr goes: a live Spectre.Console bar (rate, ETA) when stderr is a terminal,
/// plain lines when it is redirected to a file or a CI log (no carriage returns, no ANSI escapes).
module CropCat.Cli.Progress

open System
open System.Diagnostics
open System.IO
open System.Text
open CropCat.Inference
open CropCat.Training
open Spectre.Console

/// A writer with a terminal's idea of lines: "\r" discards the line begun so far (a redrawn status), "\n" hands
/// the line to `emit` (trailing blanks trimmed, empty lines dropped). The library's progress text — "\r" +
/// status, redrawn — thus becomes nothing, and its finished lines become plain lines.
type LineWriter(emit: string -> unit) =
    inherit TextWriter()
    let line = StringBuilder()

    override _.Encoding = Encoding.UTF8

    override _.Write(c: char) =
        match c with
        | '\r' -> line.Clear() |> ignore
        | '\n' ->
            let text = line.ToString().TrimEnd()
            line.Clear() |> ignore

            if text.Length > 0 then
                emit text
        | c -> line.Append c |> ignore

/// Plain lines on standard error, for a redirected stderr.
let plainStderr () =
    new LineWriter(fun l -> Console.Error.WriteLine l) :> TextWriter

/// Whether the live bar applies: stderr is a terminal (not redirected) that is not "dumb", and not --quiet.
let live (quiet: bool) =
    not quiet
    && not Console.IsErrorRedirected
    && Environment.GetEnvironmentVariable "TERM" <> "dumb"

/// A Spectre console on standard error.
let stderrConsole () =
    // Interactive told, not detected: Spectre looks at stdout, which `cropcat ... > masks.txt` may redirect.
    AnsiConsole.Create(AnsiConsoleSettings(Out = AnsiConsoleOutput(Console.Error), Interactive = InteractionSupport.Yes))

let private columns () : ProgressColumn[] = [|
    TaskDescriptionColumn(Alignment = Justify.Left)
    ProgressBarColumn()
    PercentageColumn()
    ElapsedTimeColumn()
    RemainingTimeColumn()
    SpinnerColumn()
|]

/// Runs `work` under a live progress display on `console`; `start` adds its tasks.
let private run (console: IAnsiConsole) (start: ProgressContext -> unit) (work: unit -> 'T) : 'T =
    console
        .Progress()
        .AutoClear(false)
        .HideCompleted(false)
        .Columns(columns ())
        .Start(fun ctx ->
            start ctx
            work ())

let private inv (f: FormattableString) = FormattableString.Invariant f

/// The training bar: steps done of the run's steps (known from the start with --steps-per-epoch or
/// --max-steps, otherwise once the first epoch shows how many it has), the last loss and steps/s in the
/// description; the trainer's epoch lines and other output print above it through `Lines`.
type TrainBar(console: IAnsiConsole, epochs: int, stepsPerEpoch: int, maxSteps: int64) =
    let mutable task: ProgressTask option = None
    let clock = Stopwatch()
    let mutable first = -1L
    let mutable total = 0L

    let setTotal (steps: int64) =
        let capped = if maxSteps > 0L then min steps maxSteps else steps
        total <- capped

        task
        |> Option.iter (fun t ->
            t.IsIndeterminate <- false
            t.MaxValue <- float (max 1L (capped - first)))

    /// Where lines go while the bar is shown (they print above it).
    member val Lines: TextWriter = new LineWriter(fun l -> console.WriteLine l)

    /// For TrainerOptions.StepDone.
    member _.StepDone =
        Action<int64, float>(fun step loss ->
            if first < 0L then
                first <- step - 1L
                clock.Start()

            task
            |> Option.iter (fun t ->
                let rate = float (step - first) / max clock.Elapsed.TotalSeconds 1e-9
                let of' = if total > 0L then inv $"/{total}" else ""
                t.Description <- Markup.Escape(inv $"train step {step}{of'}  loss {loss:F4}  {rate:F1} steps/s")
                t.Value <- float (step - first)))

    /// For TrainerOptions.EpochDone: the first full epoch tells the run's length when nothing else did.
    member _.EpochDone =
        Action<EpochRecord>(fun r ->
            if total = 0L && r.Complete && r.Epoch >= 1 then
                // Steps per epoch from this epoch's end; the run ends after `epochs` of them.
                let perEpoch = r.Step / int64 r.Epoch
                setTotal (perEpoch * int64 epochs))

    /// Runs `work` (the training) with the bar shown; the bar ends full when training ends.
    member _.Run(work: unit -> 'T) : 'T =
        run
            console
            (fun ctx ->
                let t = ctx.AddTask("train", true, 1.0)
                task <- Some t

                if stepsPerEpoch > 0 then
                    setTotal (int64 stepsPerEpoch * int64 epochs)
                elif maxSteps > 0L then
                    setTotal maxSteps
                else
                    t.IsIndeterminate <- true)
            (fun () ->
                let result = work ()

                task
                |> Option.iter (fun t ->
                    t.IsIndeterminate <- false
                    t.Value <- t.MaxValue)

                result)

/// The prediction bars: images done of the run's inputs, and the tiles of the image being segmented.
type PredictBar(console: IAnsiConsole) =
    let mutable images: ProgressTask option = None
    let mutable tiles: ProgressTask option = None

    /// Where lines go while the bars are shown (they print above them).
    member val Lines: TextWriter = new LineWriter(fun l -> console.WriteLine l)

    /// For FolderPredictorOptions.Progress.
    member _.Progress =
        Action<PredictionProgress>(fun p ->
            images
            |> Option.iter (fun t ->
                t.MaxValue <- float (max 1 p.Images)
                t.Value <- float p.ImagesDone
                t.Description <- Markup.Escape(inv $"images {p.ImagesDone}/{p.Images}"))

            tiles
            |> Option.iter (fun t ->
                match p.Plan with
                | null -> ()
                | plan ->
                    t.MaxValue <- float plan.Count
                    t.Value <- float (min p.TilesDone plan.Count)
                    t.Description <- Markup.Escape(inv $"{p.Name}: tile {p.TilesDone}/{plan.Count}")))

    /// Runs `work` (the prediction) with the bars shown.
    member _.Run(work: unit -> 'T) : 'T =
        run
            console
            (fun ctx ->
                images <- Some(ctx.AddTask("images", true, 1.0))
                tiles <- Some(ctx.AddTask("tiles", true, 1.0)))
            (fun () ->
                let result = work ()
                tiles |> Option.iter (fun t -> t.Value <- t.MaxValue)
                result)

/// The callbacks given, as one (None when none).
let all (actions: 'T option list) : 'T option =
    match List.choose id actions with
    | [] -> None
    | [ one ] -> Some one
    | many -> Some(Delegate.Combine(many |> List.map (fun d -> d :> Delegate) |> Array.ofList) :?> 'T)
