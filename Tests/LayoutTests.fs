/// Memory layouts: channels-last and NCHW compute the same function, re-striding keeps every value,
/// and the no-grad max-pool shortcut is bit-identical to libtorch's max-pool.
module CropCat.Tests.LayoutTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.IO
open CropCat.Layers
open CropCat.Nets
open CropCat.Runtime
open CropCat.Shapes
open CropCat.Training
open CropCat.Data
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Architecture

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 30
}

let private values (net: Network) = parameterValues net

let private net seed (widths: int[]) layout =
    torch.manual_seed (int64 seed) |> ignore
    let n = UNet.Create(UNetOptions(Widths = widths), torch.CPU)
    n.Layout <- layout
    n

/// Largest |a - b| relative to the size of b (at least 1).
let private relGap (a: torch.Tensor) (b: torch.Tensor) =
    let d = (a - b).abs().max().item<float32> ()
    d / max 1.0f (b.abs().max().item<float32> ())

[<Tests>]
let tests =
    testList "Layout" [
        testPropertyWithConfig config "pairwise max equals max_pool2d(2, 2) bit for bit"
        <| Prop.forAll
            (Arb.fromGen (Gen.zip3 (Gen.choose (1, 3)) (Gen.choose (1, 5)) (Gen.zip (Gen.choose (1, 20)) (Gen.choose (1, 20)))))
            (fun (n, c, (h2, w2)) ->
                init ()
                use scope = torch.NewDisposeScope()
                let x = torch.randn (int64 n, int64 c, int64 (2 * h2), int64 (2 * w2))
                // Ties matter for max-pool's indices, not its values; make some anyway.
                let x = x.relu ()
                let fast = MaxPoolDown.PairwiseMax x
                let reference = torch.nn.functional.max_pool2d (x, 2L, 2L)

                fast.shape = reference.shape
                && (fast - reference).abs().max().item<float32> () = 0.0f)

        test "with autograd on, the down-step is libtorch's max-pool (one gradient per window)" {
            init ()
            use scope = torch.NewDisposeScope()
            let x = torch.zeros(1L, 1L, 4L, 4L).requires_grad_ (true)
            let y = MaxPoolDown.Pool2x2 x
            y.sum().backward ()
            // All four values of each window tie at 0: max-pool routes the gradient to one of them.
            Expect.equal (x.grad.sum().item<float32> ()) 4.0f "one unit of gradient per window"
            Expect.equal (x.grad.max().item<float32> ()) 1.0f "not split across ties"
        }

        test "channels-last and NCHW nets compute the same logits, returned NCHW-contiguous" {
            init ()
            use scope = torch.NewDisposeScope()
            use _ = torch.no_grad ()

            for widths, size in [ [| 2; 4; 8 |], 60; [| 4; 8; 16; 32 |], 108 ] do
                use a = net 5 widths MemoryLayout.ChannelsLast
                use b = net 5 widths MemoryLayout.Contiguous
                a.eval ()
                b.eval ()
                let x = randn 2 1 size size
                let ya = a.forward x
                let yb = b.forward x
                Expect.isTrue (ya.is_contiguous ()) "channels-last net returns NCHW logits"
                // Other kernels sum in another order: equal to float32 rounding relative to the logits' size.
                Expect.isLessThan (relGap ya yb) 1e-4f $"same function (widths {widths})"

            settle ()
        }

        test "switching layout keeps names and values; checkpoints move between layouts" {
            init ()
            use a = net 9 [| 2; 4 |] MemoryLayout.ChannelsLast
            let before = values a
            a.Layout <- MemoryLayout.Contiguous
            Expect.equal (values a) before "to NCHW"
            Expect.isTrue (a.parameters () |> Seq.forall (fun p -> p.is_contiguous ())) "weights are NCHW now"
            a.Layout <- MemoryLayout.ChannelsLast
            Expect.equal (values a) before "and back"

            Expect.isTrue
                (a.parameters ()
                 |> Seq.filter (fun p -> p.dim () = 4L)
                 |> Seq.forall (fun p -> MemoryLayouts.Has(p, MemoryLayout.ChannelsLast)))
                "4-D weights are NHWC-strided"

            let path =
                Path.Combine(Path.GetTempPath(), $"cropcat-layout-{Guid.NewGuid():N}.safetensors")

            let info =
                CheckpointInfo(
                    NetworkDescription.FromUNet(UNetOptions(Widths = [| 2; 4 |])),
                    LabelSchema.Binary255,
                    0,
                    0L,
                    "",
                    readOnlyDict []
                )

            Checkpoint.Save(path, a, null, info)
            use b = net 10 [| 2; 4 |] MemoryLayout.Contiguous
            Checkpoint.Load(path, b) |> ignore
            File.Delete path
            Expect.equal (values b) before "an NHWC net's checkpoint loads into an NCHW net"
            settle ()
        }

        test "one SGD step moves the weights the same in both layouts" {
            init ()
            use scope = torch.NewDisposeScope()

            let step layout =
                let n = net 21 [| 2; 4; 8 |] layout
                n.train ()
                torch.manual_seed 22L |> ignore
                let x = randn 1 1 60 60
                let target = torch.randint (0L, 2L, [| 1L; 20L; 20L |])
                let sgd = torch.optim.SGD(n.parameters (), 0.01, momentum = 0.99)
                sgd.zero_grad ()
                let loss = torch.nn.functional.cross_entropy (n.forward x, target)
                loss.backward ()
                sgd.step () |> ignore
                loss.item<float32> (), values n

            let lossA, wa = step MemoryLayout.ChannelsLast
            let lossB, wb = step MemoryLayout.Contiguous
            Expect.floatClose Accuracy.medium (float lossA) (float lossB) "same loss"

            for (name, a), (_, b) in List.zip wa wb do
                let gap = Array.map2 (fun (p: float32) q -> abs (p - q)) a b |> Array.max
                Expect.isLessThan gap 1e-5f $"{name} after one step"

            settle ()
        }
    ]
