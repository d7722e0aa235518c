/// ONNX export (CropCat.Interop.Onnx) and the ONNX Runtime tile engine (CropCat.OnnxRuntime): ONNX Runtime
/// on the exported graph computes CropCat's forward within 1e-4 (unpadded, padded batch-norm, gated, 3-D,
/// at several sizes and batch 2), overlap-tile predictions agree across engines, and what the exporter
/// cannot express is refused by layer path.
module CropCat.Tests.OnnxTests

open System.IO
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Inference
open CropCat.Interop.Onnx
open CropCat.Nets
open CropCat.OnnxRuntime
open CropCat.Runtime
open CropCat.Shapes
open CropCat.Tests.TestUtil

/// A layer kind the exporter has never heard of (an identity), standing in for kinds added after it.
type AlienSpec() =
    inherit Spec()
    override _.Role = SpecRole.Down
    override _.Kind _ = "Alien"
    override _.Channels(_, c) = ChannelsResult.Ok c

    override _.Infer(node, input, state) =
        state.Row(node.Path, "Alien", input, 0L)
        System.Nullable input

    override _.Parameters(_, _, _) = 0L

    override _.Build(node, _, _) =
        Identity(node.Path) :> CropCat.Layers.Layer

    override _.``<Clone>$``() = AlienSpec() :> Spec

and private Identity(path) =
    inherit CropCat.Layers.Layer(path)
    override _.Forward(x: torch.Tensor) = x.alias ()

let private maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    d.item<float32> () |> float

/// A seeded network of `options` with small widths, in eval mode.
let private net (seed: int) (options: UNetOptions) =
    torch.manual_seed (int64 seed) |> ignore
    let n = Network.Create(UNets.Describe options)
    n.eval ()
    n

/// Runs a few training-mode passes so every batch norm's running mean and variance are far from 0 and 1.
let private trainStatistics (n: Network) (input: torch.Tensor) =
    n.train ()

    using (torch.no_grad ()) (fun _ ->
        for k in 1..3 do
            use shifted = input * (float32 k) + 0.7f
            use _ = n.forward shifted
            ())

    n.eval ()

/// CropCat's forward and ONNX Runtime's output on the exported graph, for `input`.
let private both (n: Network) (input: torch.Tensor) =
    use engine = OnnxRuntimeEngine.For n
    use _ = torch.no_grad ()
    n.forward input, engine.Forward input

let private agrees (n: Network) (input: torch.Tensor) =
    let want, got = both n input
    Expect.sequenceEqual got.shape want.shape "ONNX Runtime's output shape is CropCat's"
    Expect.isLessThan (maxAbsDiff got want) 1e-4 "max |ONNX Runtime - CropCat|"

/// The smallest valid size of `n` at or above `atLeast` on every axis.
let private size (n: Network) (atLeast: int) = n.Sizes.OrThrow().Above atLeast

[<Tests>]
let tests =
    testSequenced
    <| testList "Onnx" [
        test "paper-style unpadded net (valid convs, up-convs, crop-and-cat, dropout): ONNX Runtime = CropCat within 1e-4" {
            init ()
            use _ = torch.NewDisposeScope()
            use n = net 1 (UNetOptions.Paper.With(widths = [| 4; 8; 16 |]))
            let s = size n 60
            agrees n (torch.randn ([| 1L; 1L; int64 s; int64 s |]))
            settle ()
        }

        test
            "padded batch-norm nets (milesial: bilinear + pad-and-cat; Carvana: bilinear + 1x1 + concat) with trained statistics: within 1e-4" {
            init ()
            use _ = torch.NewDisposeScope()
            torch.manual_seed 2L |> ignore
            use milesial = MilesialUNet.Create(3, 2, true, baseWidth = 2)
            use carvana = net 3 (UNetOptions.Carvana.With(widths = [| 4; 8; 16; 32 |]))

            for n in [ milesial; carvana ] do
                let input = torch.randn ([| 1L; 3L; 40L; 56L |])
                trainStatistics n input

                let bn =
                    n.named_buffers ()
                    |> Seq.find (fun struct (name, _) -> name.EndsWith "running_var")

                let struct (_, var) = bn
                Expect.isGreaterThan (maxAbsDiff var (torch.ones_like var)) 0.05 "the running variance is not trivial"
                agrees n input

            settle ()
        }

        test "attention-gated crop-and-cat net: within 1e-4" {
            init ()
            use _ = torch.NewDisposeScope()
            use n = net 4 (UNetOptions.Paper.With(widths = [| 4; 8; 16 |], gate = 3))
            let s = size n 50
            agrees n (torch.randn ([| 1L; 1L; int64 s; int64 (s + 16) |]))
            settle ()
        }

        test "3-D nets (up-convs; trilinear interpolation + batch norm): within 1e-4" {
            init ()
            use _ = torch.NewDisposeScope()
            use valid = net 5 (UNetOptions().With(widths = [| 2; 4 |], dims = 3))
            let s = size valid 20
            agrees valid (torch.randn ([| 1L; 1L; int64 s; int64 (s + 2); int64 s |]))

            use same =
                net 6 (UNetOptions.Carvana.With(widths = [| 2; 4 |], dims = 3, inChannels = 1))

            let input = torch.randn ([| 1L; 1L; 8L; 12L; 10L |])
            trainStatistics same input
            agrees same input
            settle ()
        }

        test "one exported model runs at two valid sizes and batch 2 (dynamic batch and spatial axes)" {
            init ()
            use _ = torch.NewDisposeScope()
            use n = net 7 (UNetOptions.Paper.With(widths = [| 3; 6; 12 |]))
            use engine = OnnxRuntimeEngine.For n
            use _ = torch.no_grad ()
            let sizes = n.Sizes.OrThrow()

            for h, w in [ sizes.Above 44, sizes.Above 60; sizes.Above 76, sizes.Above 44 ] do
                let input = torch.randn ([| 2L; 1L; int64 h; int64 w |])
                let got = engine.Forward input
                let want = n.forward input

                Expect.sequenceEqual
                    got.shape
                    [| 2L; 2L; int64 (sizes.OutputOf h).Value; int64 (sizes.OutputOf w).Value |]
                    "output = the valid sizes' closed form"

                Expect.isLessThan (maxAbsDiff got want) 1e-4 $"max |ONNX Runtime - CropCat| at {h}x{w}"

            settle ()
        }

        test "overlap-tile prediction through ONNX Runtime equals the torchsharp engine's on an image of several tiles" {
            init ()
            use _ = torch.NewDisposeScope()
            use n = net 8 (UNetOptions.Paper.With(widths = [| 3; 6; 12 |]))
            use engine = OnnxRuntimeEngine.For n
            let options = TileOptions(TileSize = size n 60, BatchSize = 2)
            let image = torch.randn ([| 1L; 97L; 83L |])
            let torchTiler = OverlapTile(n, options)
            let ortTiler = OverlapTile(n, options, engine)
            let plan = torchTiler.Plan(97, 83)
            Expect.isGreaterThan plan.Count 3 "the image needs several tiles"
            let want = torchTiler.Predict(image, plan)
            let got = ortTiler.Predict(image, plan)
            Expect.sequenceEqual got.shape want.shape "same shape"
            Expect.isLessThan (maxAbsDiff got want) 1e-4 "max |ONNX Runtime tiles - torchsharp tiles|"
            settle ()
        }

        test "the model's metadata holds the description and the valid sizes; the file is written atomically and reloads" {
            init ()
            use _ = torch.NewDisposeScope()
            use n = net 9 (UNetOptions.Paper.With(widths = [| 4; 8; 16 |]))
            let dir = tempDir ()
            let path = Path.Combine(dir, "net.onnx")
            let model = OnnxExport.Export(n, path)
            Expect.equal model.Opset 17 "opset"
            Expect.equal model.ValidSizes (string n.Sizes.Value.Progressions.[0]) "valid sizes text"
            Expect.sequenceEqual (File.ReadAllBytes path) model.Bytes "the file is the model"
            Expect.sequenceEqual (Directory.GetFiles dir |> Array.map Path.GetFileName) [| "net.onnx" |] "no temp file is left"
            use session = new Microsoft.ML.OnnxRuntime.InferenceSession(path)
            let meta = session.ModelMetadata.CustomMetadataMap

            Expect.equal
                (NetworkDescription(NetworkDescription.SpecKind, meta.[OnnxExport.DescriptionKey]).ToSpec())
                n.Spec
                "the description round-trips"

            Expect.stringContains meta.[OnnxExport.ValidSizesKey] "\"period\":4" "valid sizes JSON"
            Expect.equal session.ModelMetadata.ProducerName "CropCat" "producer"
            Directory.Delete(dir, true)
            settle ()
        }

        test "a bf16 network is refused with a message that says why" {
            init ()

            if not Precisions.CpuHasBFloat16 then
                skiptest "this CPU has no bf16 instructions"

            use _ = torch.NewDisposeScope()
            use n = net 10 (UNetOptions.Paper.With(widths = [| 4; 8 |]))
            n.Precision <- Precision.BFloat16
            let m = messageOf<OnnxExportException> (fun () -> OnnxExport.ToModel n |> ignore)
            Expect.stringContains m "network: the network runs in BFloat16" "names the network and the precision"
            settle ()
        }

        test "a layer kind the exporter does not know is refused by its path, not written as a wrong graph" {
            init ()
            use _ = torch.NewDisposeScope()
            let inner = ChainSpec(BlockSpec(4), AlienSpec(), BlockSpec(4))

            use n =
                new Network(NetSpec(1, ChainSpec(BlockSpec(4), PoolSpec(), SkipSpec(Merge.CropConcat, inner), HeadSpec(2))))

            let m = messageOf<OnnxExportException> (fun () -> OnnxExport.ToModel n |> ignore)

            Expect.stringContains
                m
                "ONNX export: level 1 / down: the ONNX exporter does not know the layer kind AlienSpec (Alien)"
                "names the layer path and kind"

            settle ()
        }

        test
            "cropcat export prints opset, axes and valid sizes; predict --engine onnxruntime (in memory and --onnx FILE) writes torchsharp's masks" {
            init ()
            let data = syntheticFolder 900 2 100
            let model = CliTests.trainTiny data
            let dir = tempDir ()
            let onnx = Path.Combine(dir, "model.onnx")
            let code, out, err = CliTests.cropcat [ "export"; "--model"; model; "--onnx"; onnx ]
            Expect.equal code 0 $"export succeeds: {err}"
            Expect.stringContains out "ONNX opset 17" "opset"
            Expect.stringContains out "input   input: float[batch, 1, height, width]" "dynamic input axes"
            Expect.stringContains out "valid sizes per axis: 18 + 2k -> 2 + 2k (output = input - 16)" "valid sizes"

            let predict folder extra =
                let code, _, err =
                    CliTests.cropcat (
                        [
                            "predict"
                            "--model"
                            model
                            "--input"
                            Path.Combine(data, "images")
                            "--output"
                            Path.Combine(dir, folder)
                            "--tile"
                            "40"
                            "--quiet"
                        ]
                        @ extra
                    )

                Expect.equal code 0 $"predict {extra} succeeds: {err}"

                Directory.GetFiles(Path.Combine(dir, folder))
                |> Array.sort
                |> Array.map File.ReadAllBytes

            let reference = predict "torch" []
            Expect.equal reference.Length 2 "two masks"

            Expect.equal
                (predict "ort" [ "--engine"; "onnxruntime" ])
                reference
                "ONNX Runtime's masks (exported in memory) are torchsharp's"

            Expect.equal
                (predict "ortfile" [ "--engine"; "onnxruntime"; "--onnx"; onnx ])
                reference
                "ONNX Runtime's masks (--onnx FILE) are torchsharp's"

            let refused extra =
                let code, _, err =
                    CliTests.cropcat (
                        [
                            "predict"
                            "--model"
                            model
                            "--input"
                            data
                            "--output"
                            Path.Combine(dir, "x")
                        ]
                        @ extra
                    )

                Expect.equal code 2 $"refused: {extra}"
                err

            Expect.stringContains (refused [ "--onnx"; onnx ]) "--onnx FILE needs --engine onnxruntime" "--onnx alone"
            Expect.stringContains (refused [ "--engine"; "tvm" ]) "--engine 'tvm' is not torchsharp or onnxruntime" "unknown engine"
            File.WriteAllBytes(onnx, [| 1uy; 2uy |])

            Expect.stringContains
                (refused [ "--engine"; "onnxruntime"; "--onnx"; onnx ])
                "is not a model ONNX Runtime loads"
                "a broken file"

            Directory.Delete(dir, true)
            Directory.Delete(data, true)
            settle ()
        }
    ]
