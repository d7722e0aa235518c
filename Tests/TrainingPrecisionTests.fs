/// Mixed-precision (bf16) training: fp32 master weights and loss, bf16 convolutions checked forward and backward,
/// close to fp32 where the CPU has bf16 instructions, refused with a message where it has not.
module CropCat.Tests.TrainingPrecisionTests

open System.IO
open CropCat.Tests.CliTests
open Expecto
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open CropCat.Data
open CropCat.IO
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Architecture

/// Loss (a fixed random target's cross-entropy) and every parameter's gradient of one forward/backward in train mode.
let private lossAndGradients (net: Network) (x: torch.Tensor) (target: torch.Tensor) =
    net.zero_grad ()
    let logits = net.forward x
    let loss = torch.nn.functional.cross_entropy (logits, target)
    loss.backward ()
    let l = loss.item<float32> ()

    let grads =
        net.named_parameters ()
        |> Seq.map (fun struct (n, p) -> n, p.grad.detach().clone ())
        |> List.ofSeq

    net.zero_grad ()
    l, logits.dtype, grads

/// ||a - b|| / ||b|| (L2 over the whole tensor).
let private relL2 (a: torch.Tensor) (b: torch.Tensor) =
    float ((a - b).norm().item<float32> ())
    / max 1e-12 (float (b.norm().item<float32> ()))

/// bf16 against fp32 training on one batch: the loss's relative gap, the whole gradient's relative L2 error, and the
/// worst parameter's (among those whose fp32 gradient is at least 1% of the largest: a gradient that is zero in
/// exact arithmetic, like an up-convolution bias whose shift the next batch norm removes, is pure rounding noise).
let private bf16Gap (net: Network) (x: torch.Tensor) (target: torch.Tensor) =
    let l32, _, g32 = lossAndGradients net x target
    net.TrainingPrecision <- Precision.BFloat16
    let l16, dtype, g16 = lossAndGradients net x target
    net.TrainingPrecision <- Precision.Float32

    let flat gs =
        torch.cat (gs |> List.map (fun (_, g: torch.Tensor) -> g.flatten ()) |> Array.ofList, 0L)

    let whole = relL2 (flat g16) (flat g32)

    let largest =
        g32 |> List.map (fun (_, g) -> float (g.norm().item<float32> ())) |> List.max

    let worst =
        List.map2 (fun (n, a) (_, b: torch.Tensor) -> n, float (b.norm().item<float32> ()), relL2 a b) g16 g32
        |> List.filter (fun (_, norm, _) -> norm >= 0.01 * largest)
        |> List.map (fun (n, _, e) -> n, e)
        |> List.maxBy snd

    let dot =
        float ((flat g16 * flat g32).sum().item<float32> ())
        / (float ((flat g16).norm().item<float32> ())
           * float ((flat g32).norm().item<float32> ()))

    abs (float (l16 - l32)) / float l32, whole, worst, dot, dtype

/// Every parameter and gradient dtype of the net.
let private dtypes (net: Network) =
    net.parameters ()
    |> Seq.collect (fun p -> [ p.dtype; (if isNull p.grad then p.dtype else p.grad.dtype) ])
    |> Seq.distinct
    |> List.ofSeq

/// Runs `f` with a simulated CPU bf16 flag, restoring the real one after.
let private withCpuBFloat16 (has: bool) f =
    Precisions.SimulatedCpuBFloat16 <- System.Nullable has

    try
        f ()
    finally
        Precisions.SimulatedCpuBFloat16 <- System.Nullable()

/// Runs `f` with TrainingConvolutionCheckTolerance set to `tol`, restoring it after.
let private withConvolutionTolerance (tol: float) f =
    let old = Network.TrainingConvolutionCheckTolerance
    Network.TrainingConvolutionCheckTolerance <- tol

    try
        f ()
    finally
        Network.TrainingConvolutionCheckTolerance <- old

/// A small paper-style net (valid convolutions, no batch norm) with its input and a random target.
let private paperStyle seed =
    torch.manual_seed seed |> ignore
    let net = UNet.Create(UNetOptions(Widths = [| 16; 32 |]), torch.CPU)
    // One fixed layout: Auto could time another for the mixed net, and another kernel rounds differently.
    net.Layout <- MemoryLayout.Contiguous
    net.train () |> ignore
    net, torch.rand (2L, 1L, 60L, 60L), torch.randint (2L, [| 2L; 44L; 44L |])

[<Tests>]
let tests =
    testSequenced
    <| testList "TrainingPrecision" [
        test "a bf16 training step's loss and gradients are within bf16 rounding of fp32's; weights and gradients stay fp32" {
            init ()

            if Precisions.CpuHasBFloat16 then
                use scope = torch.NewDisposeScope()
                let net, x, target = paperStyle 21L
                use net = net
                let lossGap, whole, (worst, gradGap), _, dtype = bf16Gap net x target
                Expect.equal dtype torch.ScalarType.Float32 "logits reach the loss as fp32"
                // Measured on AMD Zen 4: loss 2e-4, whole gradient 0.004, worst parameter 0.005.
                Expect.isLessThan lossGap 1e-3 "loss within 0.1% of fp32"
                Expect.isLessThan whole 0.02 "the whole gradient within 2% (L2) of fp32"
                Expect.isLessThan gradGap 0.03 $"every sizeable parameter gradient within 3%% (L2) of fp32 ({worst})"
                Expect.isGreaterThan whole 0.0 "bf16 does round (it is not silently fp32)"
                net.TrainingPrecision <- Precision.BFloat16
                lossAndGradients net x target |> ignore
                let _, _, g = lossAndGradients net x target
                Expect.isNonEmpty g "has gradients"
                Expect.equal (dtypes net) [ torch.ScalarType.Float32 ] "master weights and gradients stay fp32"
        }

        test "with batch norm a bf16 step's loss stays within rounding and its gradient points the fp32 way" {
            init ()

            if Precisions.CpuHasBFloat16 then
                torch.manual_seed 21L |> ignore
                use scope = torch.NewDisposeScope()

                use net =
                    UNet.Create(UNetOptions(Widths = [| 16; 32 |], BatchNorm = true), torch.CPU)

                net.train () |> ignore
                let x = torch.rand (2L, 1L, 60L, 60L)
                let target = torch.randint (2L, [| 2L; 44L; 44L |])
                let lossGap, whole, _, cosine, _ = bf16Gap net x target
                // Batch norm subtracts a channel mean that is large against the spread after a ReLU: the bf16
                // rounding of the convolution's output (relative to the value) grows relative to the normalised
                // value, and backward compounds it layer by layer (Zen 4: 0.3% at the head, 30% at the first
                // layer, 12% overall). The loss and the descent direction stay close.
                Expect.isLessThan lossGap 1e-3 "loss within 0.1% of fp32"
                Expect.isGreaterThan cosine 0.98 $"gradient direction (cosine {cosine}, relative L2 gap {whole})"
        }

        test "each convolution stays fp32 exactly when its bf16 forward or backward check fails; with every one kept the step is fp32's" {
            init ()

            if Precisions.CpuHasBFloat16 then
                use scope = torch.NewDisposeScope()
                let net, x, target = paperStyle 22L
                use net = net
                net.TrainingPrecision <- Precision.BFloat16
                let errors = net.ConvolutionGradientCheckErrors
                Expect.equal errors.Count 8 "every convolution (7 and the head) checked"

                let failing =
                    errors
                    |> Seq.filter (fun kv -> kv.Value > Network.TrainingConvolutionCheckTolerance)
                    |> Seq.map (fun kv -> kv.Key)
                    |> Set.ofSeq

                Expect.equal (Set.ofSeq net.Float32Modules) failing "kept in fp32 exactly the failing ones"
                Expect.all errors.Values (fun e -> e > 0.0) "bf16 rounds in every convolution"

                let msg =
                    messageOf<System.InvalidOperationException> (fun () -> net.Precision <- Precision.BFloat16)

                Expect.stringContains msg "TrainingPrecision" "weights cannot go bf16 while training in mixed precision"
                net.TrainingPrecision <- Precision.Float32
                let l32, _, g32 = lossAndGradients net x target
                // A zero tolerance fails every check: the fallback must compute exactly what fp32 does.
                withConvolutionTolerance 0.0 (fun () -> net.TrainingPrecision <- Precision.BFloat16)
                Expect.equal net.Float32Modules.Count 8 "all kept in fp32"
                let l16, _, g16 = lossAndGradients net x target
                Expect.equal l16 l32 "same loss"

                for ((n, a), (_, b)) in List.zip g16 g32 do
                    Expect.isTrue (not (a.ne(b).any().item<bool> ())) $"{n}: the same gradient"
        }

        test "a net whose bf16 logits fail the whole-net check is refused for mixed-precision training and stays fp32" {
            init ()

            if Precisions.CpuHasBFloat16 then
                let net, _, _ = paperStyle 23L
                use net = net
                let old = Network.PrecisionCheckTolerance
                Network.PrecisionCheckTolerance <- 0.0

                let msg =
                    try
                        messageOf<PrecisionNotSupportedException> (fun () -> net.TrainingPrecision <- Precision.BFloat16)
                    finally
                        Network.PrecisionCheckTolerance <- old

                Expect.stringContains msg "self-check gave logits" "gives the measured error"
                Expect.equal net.TrainingPrecision Precision.Float32 "stays fp32"
                Expect.isEmpty net.Float32Modules "no mixed state left"
                use _ = torch.no_grad ()
                use scope = torch.NewDisposeScope()
                net.eval () |> ignore
                let x = torch.rand (1L, 1L, 44L, 44L)
                let a = net.forward x
                // No convolution computes in bf16 any more: forward twice is the same fp32 function.
                Expect.isTrue (not (a.ne(net.forward x).any().item<bool> ())) "plain fp32"
        }

        test "bf16 training is refused on a CPU without bf16 instructions, before any step" {
            init ()
            torch.manual_seed 24L |> ignore
            use net = UNet.Create(UNetOptions(Widths = [| 4; 8 |]), torch.CPU)

            let msg =
                withCpuBFloat16 false (fun () ->
                    messageOf<PrecisionNotSupportedException> (fun () ->
                        new Trainer(net, LabelSchema.Binary255, TrainerOptions(Precision = Precision.BFloat16))
                        |> ignore))

            Expect.stringContains msg "AVX512_BF16" "says what is missing"
            Expect.stringContains msg "--precision fp32" "says what to do"
            Expect.equal net.TrainingPrecision Precision.Float32 "unchanged"
        }

        test "a bf16-trained checkpoint holds fp32 weights, reloads in fp32, resumes in bf16 and refuses fp32" {
            init ()

            if Precisions.CpuHasBFloat16 then
                let dir = tempDir ()
                let path = Path.Combine(dir, "model.safetensors")

                let samples = [
                    for i in 0..1 -> SyntheticCells.Generate(40 + i, SyntheticCellsOptions(Height = 60, Width = 60))
                ]

                torch.manual_seed 25L |> ignore
                use net = UNet.Create(UNetOptions(Widths = [| 8; 16 |]), torch.CPU)
                let options = TrainerOptions(Precision = Precision.BFloat16, Seed = 3)
                use trainer = new Trainer(net, LabelSchema.Binary255, options)
                Expect.equal net.TrainingPrecision Precision.BFloat16 "the trainer set it"
                let before = parameterValues net
                trainer.TrainOn samples |> ignore
                trainer.TrainOn samples |> ignore
                Expect.notEqual (parameterValues net) before "trained"
                trainer.SaveCheckpoint path
                let struct (tensors, _) = Safetensors.Read path

                for kv in tensors do
                    Expect.equal kv.Value.dtype torch.ScalarType.Float32 $"{kv.Key} stored as fp32"

                let struct (loaded, _) = Checkpoint.LoadNetwork path
                use loaded = loaded
                Expect.equal loaded.Precision Precision.Float32 "loads as fp32"
                Expect.equal loaded.TrainingPrecision Precision.Float32 "and trains in fp32 unless told"
                Expect.equal (parameterValues loaded) (parameterValues net) "the trained master weights"

                torch.manual_seed 26L |> ignore
                use again = UNet.Create(UNetOptions(Widths = [| 8; 16 |]), torch.CPU)
                use resumed = new Trainer(again, LabelSchema.Binary255, options)
                resumed.Resume path |> ignore
                Expect.equal resumed.Step 2L "resumed at its step"
                Expect.equal (parameterValues again) (parameterValues net) "with its weights"
                // The same third step from the resumed state and from the uninterrupted one.
                let a = resumed.TrainOn samples
                let b = trainer.TrainOn samples
                Expect.equal a b "continues as the uninterrupted run"
                Expect.equal (parameterValues again) (parameterValues net) "to the same weights"

                use other = UNet.Create(UNetOptions(Widths = [| 8; 16 |]), torch.CPU)
                use fp32 = new Trainer(other, LabelSchema.Binary255, TrainerOptions(Seed = 3))

                let msg =
                    messageOf<CheckpointMismatchException> (fun () -> fp32.Resume path |> ignore)

                Expect.stringContains msg "precision: BFloat16 in the checkpoint, Float32 now" "names the mismatch"
        }

        test "cropcat train --precision bf16 trains and writes an fp32 checkpoint; other names are refused" {
            init ()
            let data = syntheticFolder 710 2 60
            let out = tempDir ()

            let args precision = [
                "train"
                "--data"
                data
                "--out"
                out
                "--widths"
                "4,8"
                "--max-steps"
                "1"
                "--threads"
                "1"
                "--precision"
                precision
                "--quiet"
            ]

            let code, _, err = cropcat (args "fp16")
            Expect.equal code 2 "bad name"
            Expect.stringContains err "--precision 'fp16' is not fp32 or bf16" "says so"
            let code, _, err = cropcat (args "bf16")

            if Precisions.CpuHasBFloat16 then
                Expect.equal code 0 $"trains: {err}"
                let info = Checkpoint.ReadInfo(Path.Combine(out, "model.safetensors"))
                Expect.equal info.Extra["precision"] "BFloat16" "records its precision for resume"
            else
                Expect.equal code 2 "refused"
                Expect.stringContains err "AVX512_BF16" "says what is missing"
        }
    ]
