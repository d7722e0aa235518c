/// The input normalisation stored with a description (NetSpec.Normalization): its JSON and checkpoint round trip,
/// that every path computes net(normalised x) from [0, 1] intensities (forward, overlap-tile, whole image, folder
/// prediction, ONNX Runtime), and that descriptions and checkpoints without one are unchanged.
module CropCat.Tests.NormalizationTests

open System
open System.IO
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.Imaging
open CropCat.Inference
open CropCat.Interop.Onnx
open CropCat.IO
open CropCat.Nets
open CropCat.OnnxRuntime
open CropCat.Tests.TestUtil
open CropCat.Tests.EncoderSupport

let private norm3 = InputNormalization([| 0.2; 0.5; 0.7 |], [| 0.1; 0.3; 0.25 |])

/// (x - mean) / std by hand, per channel of a (N, C, H, W) or (C, H, W) tensor.
let private byHand (n: InputNormalization) (x: torch.Tensor) =
    let c = if x.dim () = 4L then 1 else 0

    let planes = [|
        for i in 0 .. n.Channels - 1 ->
            (x.select (int64 c, int64 i) - torch.tensor (float32 n.Mean[i]))
            / torch.tensor (float32 n.Std[i])
    |]

    torch.stack (planes, int64 c)

/// A net with `n` and the same net (same weights) without it, in eval mode.
let private pair (seed: int) (inChannels: int) (n: InputNormalization) =
    let normalized = tinyNet seed inChannels 2 n
    let plain = Network.Create(tinySpec inChannels 2 null, device = torch.CPU)
    let weights = normalized.state_dict ()
    use _ = torch.no_grad ()

    for KeyValue(k, t) in plain.state_dict () do
        t.copy_ weights[k] |> ignore

    normalized.eval ()
    plain.eval ()
    normalized, plain

let private maxAbs (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    float (d.item<float32> ())

[<Tests>]
let tests =
    testSequenced
    <| testList "Normalization" [
        test "the JSON form carries it and gives it back; a description without it writes no key" {
            let spec = tinySpec 3 2 InputNormalization.ImageNet
            let json = SpecJson.Write spec
            Expect.stringContains json "\"normalize\":{\"mean\":[0.485,0.456,0.406],\"std\":[0.229,0.224,0.225]}" "written"
            Expect.equal (SpecJson.Parse json) spec "read back equal"
            Expect.equal (SpecJson.Parse json).Normalization InputNormalization.ImageNet "with the same statistics"
            Expect.isFalse ((SpecJson.Write(tinySpec 3 2 null)).Contains "normalize") "no normalize key without one"
            Expect.notEqual (tinySpec 3 2 null) spec "a description with a normalisation is another description"
        }

        test "statistics for another channel count, or a deviation of 0, are refused naming the input" {
            let e1 = (tinySpec 3 2 (InputNormalization([| 0.5 |], [| 0.25 |]))).Check()
            Expect.equal e1.Path "input" "at the input"
            Expect.stringContains e1.Reason "1 channel(s) but the input has 3" "says both counts"
            let e2 = (tinySpec 1 2 (InputNormalization([| 0.5 |], [| 0.0 |]))).Check()
            Expect.stringContains e2.Reason "deviations must be finite and above 0" "says what is wrong"

            let bad =
                messageOf<DescriptionJsonException> (fun () ->
                    SpecJson.Parse """{"inChannels":1,"normalize":{"mean":[0.5]},"layers":[{"head":2}]}"""
                    |> ignore)

            Expect.stringContains bad "normalize" "the JSON path"

            let parse =
                messageOf<FormatException> (fun () -> InputNormalization.Parse "0.5,0.4" |> ignore)

            Expect.stringContains parse "M1,M2,M3/S1,S2,S3" "the CLI form shows the accepted forms"
            Expect.equal (InputNormalization.Parse "0.5/0.25") (InputNormalization([| 0.5 |], [| 0.25 |])) "one channel"
            Expect.equal (InputNormalization.Parse "ImageNet") InputNormalization.ImageNet "imagenet"
        }

        test "ImageNet for one channel is the mean of its statistics; for three it is itself" {
            let gray = InputNormalization.ImageNet.ForChannels 1
            Expect.floatClose Accuracy.veryHigh gray.Mean[0] ((0.485 + 0.456 + 0.406) / 3.0) "mean of the means"
            Expect.floatClose Accuracy.veryHigh gray.Std[0] ((0.229 + 0.224 + 0.225) / 3.0) "mean of the deviations"
            Expect.equal (InputNormalization.ImageNet.ForChannels 3) InputNormalization.ImageNet "unchanged"
        }

        test "forward on x equals the plain net's forward on (x - mean) / std, and x is not changed" {
            use scope = torch.NewDisposeScope()
            let normalized, plain = pair 11 3 norm3
            use normalized = normalized
            use plain = plain
            let x = torch.rand ([| 2L; 3L; 64L; 64L |])
            let copy = x.clone ()
            use _ = torch.no_grad ()
            let y = normalized.forward x
            let want = plain.forward (byHand norm3 x)
            Expect.isLessThanOrEqual (maxAbs y want) 1e-5 "normalised inside the net"
            Expect.isGreaterThan (maxAbs y (plain.forward x)) 1e-3 "and that differs from not normalising"
            Expect.equal (maxAbs x copy) 0.0 "the input is left alone"
        }

        test "a checkpoint stores it with the description and the loaded net applies it; legacy checkpoints have none" {
            use scope = torch.NewDisposeScope()
            use net = tinyNet 12 3 2 InputNormalization.ImageNet
            let path = Path.Combine(tempDir (), "n.safetensors")

            Checkpoint.Save(
                path,
                net,
                null,
                CheckpointInfo(net.Description, LabelSchema.Binary255, 0, 0L, "", Collections.Generic.Dictionary<string, string>())
            )

            let struct (loaded, _) = Checkpoint.LoadNetwork path
            use loaded = loaded
            Expect.equal loaded.Spec.Normalization InputNormalization.ImageNet "round trip"
            net.eval ()
            loaded.eval ()
            use _ = torch.no_grad ()
            let x = torch.rand ([| 1L; 3L; 32L; 32L |])
            Expect.equal (maxAbs (loaded.forward x) (net.forward x)) 0.0 "the same function"

            for file in [ "unet-kind.safetensors"; "dsl-kind.safetensors" ] do
                let struct (old, _) =
                    Checkpoint.LoadNetwork(Path.Combine(committedDir "fixtures/legacy" "outputs.safetensors", file))

                use old = old
                Expect.isNull old.Spec.Normalization $"{file}: no normalisation"
                Expect.isFalse (old.Description.Json.Contains "normalize") $"{file}: re-saved without one"
        }

        test "overlap-tile and whole-image prediction of [0, 1] intensities equal the plain net's of the normalised image" {
            use scope = torch.NewDisposeScope()
            let normalized, plain = pair 13 3 norm3
            use normalized = normalized
            use plain = plain
            let image = torch.rand ([| 3L; 80L; 72L |])
            let options = TileOptions(TileSize = 64)
            let tiled = OverlapTile(normalized, options).Predict(image)
            let want = OverlapTile(plain, options).Predict(byHand norm3 image)
            Expect.isLessThanOrEqual (maxAbs tiled want) 1e-5 "tiled (mirror padding commutes with a per-pixel normalisation)"
            let whole = WholeImage.Predict(normalized, image)
            Expect.isLessThanOrEqual (maxAbs whole (WholeImage.Predict(plain, byHand norm3 image))) 1e-5 "whole image"
        }

        test "folder prediction feeds a normalising net [0, 1] intensities, a plain net standardised ones" {
            use scope = torch.NewDisposeScope()
            let gray = InputNormalization([| 0.3 |], [| 0.2 |])
            let normalized, plain = pair 14 1 gray
            use normalized = normalized
            use plain = plain
            let dir = syntheticFolder 1400 1 64
            let file = Directory.GetFiles(Path.Combine(dir, "images"))[0]
            let image = ImageFile.Read file
            let raw = torch.tensor(image.ToPlanes 1).reshape (1L, 64L, 64L)
            Expect.equal (maxAbs (FolderPredictor.InputTensor(image, 1, file, 64, 64, 0, gray)) raw) 0.0 "kept in [0, 1]"
            let standardized = FolderPredictor.InputTensor(image, 1, file)
            Expect.isLessThan (abs (float (standardized.mean().item<float32> ()))) 1e-4 "standardised without one"

            let out = tempDir ()

            let predictor =
                FolderPredictor(normalized, LabelSchema.Binary255, TileOptions(TileSize = 64), true)

            predictor.Run(file, out) |> ignore

            let written =
                ImageFile.Read(Path.Combine(out, "probabilities", FolderPredictor.MaskName file))

            let got = torch.tensor(written.ToPlanes 1).reshape (64L, 64L)
            // The probability maps are 16-bit: the plain net on the normalised image, rounded the same way.
            let want = OverlapTile(plain, TileOptions(TileSize = 64)).Predict(byHand gray raw)
            Expect.isLessThanOrEqual (maxAbs got (want.select (0L, 1L))) (1.5 / 65535.0) "net(normalised x), to the 16-bit step"
        }

        test "the ONNX export normalises in its graph: ONNX Runtime on [0, 1] input equals CropCat within 1e-4" {
            use scope = torch.NewDisposeScope()
            init ()
            torch.manual_seed 15L |> ignore

            let u = UNets.Describe(UNetOptions(Widths = [| 4; 8 |], InChannels = 3))
            let spec = NetSpec(u.InChannels, u.Body, u.Dims, Normalization = norm3)

            use net = Network.Create(spec, device = torch.CPU)
            use plain = Network.Create(u, device = torch.CPU)
            net.eval ()
            let model = OnnxExport.ToModel net
            let without = OnnxExport.ToModel plain
            Expect.equal model.Operators["Sub"] (without.Operators["Sub"] + 1) "one Sub more than without"
            Expect.equal model.Operators["Div"] (without.Operators["Div"] + 1) "and one Div"
            use engine = OnnxRuntimeEngine.For net
            Expect.stringContains engine.Metadata[OnnxExport.NormalizationKey] "mean [0.2, 0.5, 0.7]" "the metadata says so"
            let size = net.Sizes.OrThrow().Above 40
            let x = torch.rand ([| 1L; 3L; int64 size; int64 size |])
            use _ = torch.no_grad ()
            Expect.isLessThanOrEqual (maxAbs (engine.Forward x) (net.forward x)) 1e-4 "the same logits"
        }
    ]
