/// bfloat16 inference: close to fp32 where the CPU has bf16 instructions, refused with a message where it has not.
module CropCat.Tests.PrecisionTests

open Expecto
open CropCat.Nets
open CropCat.Runtime
open CropCat.Training
open CropCat.Data
open CropCat.IO
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Architecture

/// Switches `net` to bf16, or returns the refusal's message.
let private tryBFloat16 (net: Network) =
    try
        net.Precision <- Precision.BFloat16
        Ok()
    with :? PrecisionNotSupportedException as e ->
        Error e.Message

[<Tests>]
let tests =
    testSequenced
    <| testList "Precision" [
        test "bf16 logits are fp32 and within bf16 rounding of the fp32 net's; convolutions libtorch gets wrong stay fp32" {
            init ()
            torch.manual_seed 4L |> ignore

            use net =
                UNet.Create(UNetOptions(Widths = [| 4; 8; 16 |], BatchNorm = true), torch.CPU)

            net.eval () |> ignore
            use scope = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            let x = torch.rand (1L, 1L, 92L, 92L)
            let fp32 = net.forward x

            if Precisions.CpuHasBFloat16 then
                match tryBFloat16 net with
                | Ok() ->
                    let dtypes =
                        net.named_parameters ()
                        |> Seq.map (fun struct (n, p) -> n, p.dtype)
                        |> List.ofSeq

                    for (n, d) in dtypes do
                        let kept = net.Float32Modules |> Seq.exists (fun m -> n.StartsWith(m + "."))

                        let expected =
                            if kept then
                                torch.ScalarType.Float32
                            else
                                torch.ScalarType.BFloat16

                        Expect.equal d expected $"{n} in its dtype"

                    Expect.isLessThan net.Float32Modules.Count (List.length dtypes / 2) "only a few convolutions stay fp32"
                    let bf16 = net.forward x
                    Expect.equal bf16.dtype torch.ScalarType.Float32 "logits come back as fp32"

                    let rel =
                        ((bf16 - fp32).abs().max().item<float32> ())
                        / (fp32.abs().max().item<float32> ())

                    Expect.isLessThan rel (float32 Network.PrecisionCheckTolerance) $"relative gap {rel}"
                    Expect.isGreaterThan rel 0.0f "bf16 does round (it is not silently fp32)"
                // With every wrong convolution kept in fp32 the whole net must pass its check.
                | Error msg -> failtest $"refused although wrong convolutions stay fp32: {msg}"
            else
                let msg =
                    messageOf<PrecisionNotSupportedException> (fun () -> net.Precision <- Precision.BFloat16)

                Expect.stringContains msg "AVX512_BF16" "says what is missing"
                Expect.equal net.Precision Precision.Float32 "unchanged"
        }

        test "a net that fails the bf16 self-check is refused with the measured error and keeps its exact fp32 weights" {
            init ()

            if Precisions.CpuHasBFloat16 then
                torch.manual_seed 6L |> ignore
                use net = UNet.Create(UNetOptions(Widths = [| 16; 32 |]), torch.CPU)
                let before = parameterValues net
                let old = Network.PrecisionCheckTolerance
                // No bf16 result is exactly fp32's: a zero tolerance must refuse.
                Network.PrecisionCheckTolerance <- 0.0

                let msg =
                    try
                        messageOf<PrecisionNotSupportedException> (fun () -> net.Precision <- Precision.BFloat16)
                    finally
                        Network.PrecisionCheckTolerance <- old

                Expect.stringContains msg "self-check gave logits" "gives the measured error"
                Expect.isGreaterThan net.PrecisionCheckError 0.0 "measured"
                Expect.equal net.Precision Precision.Float32 "back in fp32"
                Expect.isEmpty net.Float32Modules "no mixed state left"
                Expect.equal (parameterValues net) before "weights exactly as before"
        }

        test "bf16 of a net with 16 or more channels in every convolution passes its self-check and stays close to fp32" {
            init ()

            if Precisions.CpuHasBFloat16 then
                torch.manual_seed 5L |> ignore

                use net =
                    UNet.Create(UNetOptions(InChannels = 16, Widths = [| 16; 32 |], Classes = 16), torch.CPU)

                net.eval () |> ignore
                use scope = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                let x = torch.rand (1L, 16L, 44L, 44L)
                let fp32 = net.forward x

                // Accepted on every CPU seen so far (AMD Zen 5 included); a CPU whose libtorch gets even these
                // convolutions wrong must refuse by the self-check, never answer.
                match tryBFloat16 net with
                | Ok() ->
                    let rel =
                        ((net.forward x - fp32).abs().max().item<float32> ())
                        / (fp32.abs().max().item<float32> ())

                    Expect.isLessThan rel 0.02f $"relative gap {rel}"
                    Expect.isGreaterThan rel 0.0f "bf16 rounds"
                | Error msg ->
                    Expect.stringContains msg "self-check" "refused only by the self-check"
                    Expect.equal net.Precision Precision.Float32 "stays fp32"
        }

        test "a bf16 network is refused for training with a message" {
            init ()

            if Precisions.CpuHasBFloat16 then
                // 16 channels everywhere: the self-check passes on every CPU seen so far.
                let o = UNetOptions(InChannels = 16, Widths = [| 16; 32 |])
                use net = UNet.Create(o, torch.CPU)

                match tryBFloat16 net with
                | Ok() ->
                    let msg =
                        messageOf<System.ArgumentException> (fun () -> new Trainer(net, LabelSchema.Binary255, TrainerOptions()) |> ignore)

                    Expect.stringContains msg "training needs Float32" "why"
                | Error msg -> Expect.stringContains msg "self-check" "refused only by the self-check"
        }
    ]
