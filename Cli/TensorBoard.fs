/// `train --tensorboard DIR` and the demo's out/demo/tensorboard: the Trainer's step and epoch callbacks
/// written as TensorBoard scalars (losses, validation metrics, learning rate) and a few overlays per epoch.
module CropCat.Cli.TensorBoard

open System
open CropCat.Data
open CropCat.Imaging
open CropCat.Nets
open CropCat.Training

/// The scalar tags of one epoch record, with the values TensorBoard gets (NaN ones are not written).
let epochScalars (r: EpochRecord) = [
    "loss/train", r.TrainLoss
    "loss/validation", r.ValidationLoss
    "validation/iou_foreground", Curves.foreground r.ValidationIoU
    "validation/dice_foreground", Curves.foreground r.ValidationDice
    "validation/pixel_error", r.ValidationPixelError
    "validation/mean_ap", r.ValidationMeanAP
    "train/learning_rate", r.LearningRate
    "train/epoch_seconds", r.Seconds
]

/// The tag of every step's loss.
[<Literal>]
let StepLossTag = "loss/step"

/// An event file under `dir` fed by a Trainer's callbacks: `StepDone` writes each step's loss, `EpochDone`
/// the epoch's scalars and, for each of `overlaySamples`, its image with the predicted classes tinted
/// beside the labelled ones (tags overlay/1, overlay/2, ...). Set `Trainer` before training starts.
type Writer(dir: string, net: Network, overlaySamples: Sample list) =
    let log = new TensorBoardLog(dir)

    let overlay (trainer: Trainer) (s: Sample) =
        let out = net.Infer(s.Height, s.Width)
        let oh, ow = out.Height, out.Width
        // The first channel stands for the image (RGB inputs show as their red channel).
        let image =
            Crops.Center(Array.sub s.Image 0 (s.Height * s.Width), s.Height, s.Width, oh, ow)

        // A streamed tile's pixels outside its image are labelled -1 (ignored): shown as background.
        let shown (labels: int[]) = labels |> Array.map (max 0)

        // With instance labels, both sides show connected components in their own colours, so merged
        // touching cells (what border weights fight) are visible; otherwise classes are tinted.
        let truth, predicted =
            match s.Instances with
            | null -> shown (Crops.Center(s.Classes, s.Height, s.Width, oh, ow)), trainer.Predict s
            | instances -> Crops.Center(instances, s.Height, s.Width, oh, ow), Components.OfClasses(trainer.Predict s, oh, ow)

        let scale = if max oh ow < 160 then 2 else 1

        Overlay.SideBySide(
            ResizeArray [
                Overlay.Captioned(Overlay.Instances(image, truth, oh, ow, scale), "LABELS", 2)
                Overlay.Captioned(Overlay.Instances(image, predicted, oh, ow, scale), "PREDICTED", 2)
            ],
            6
        )

    /// The event file's path.
    member _.Path = log.Path

    /// The trainer whose predictions the overlays show.
    member val Trainer: Trainer option = None with get, set

    /// The samples shown as overlays each epoch (set before training starts; `train` takes its first validation tiles).
    member val OverlaySamples: Sample list = overlaySamples with get, set

    /// For TrainerOptions.StepDone.
    member _.StepDone =
        Action<int64, float>(fun step loss -> log.Scalar(StepLossTag, loss, step))

    /// For TrainerOptions.EpochDone.
    member this.EpochDone =
        Action<EpochRecord>(fun r ->
            for tag, value in epochScalars r do
                log.Scalar(tag, value, r.Step)

            match this.Trainer with
            | Some trainer ->
                this.OverlaySamples
                |> List.iteri (fun i s -> log.Image($"overlay/{i + 1}", overlay trainer s, r.Step))
            | None -> ()

            log.Flush())

    interface IDisposable with
        member _.Dispose() = log.Dispose()
