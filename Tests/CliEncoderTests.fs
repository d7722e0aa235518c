/// `cropcat train --encoder`: a ResNet-18 U-Net with torchvision-key weights trained a few steps through the CLI at
/// 64x64 and predicting through it; the first convolution adapted to gray images; the encoder options refused
/// where they cannot work.
module CropCat.Tests.CliEncoderTests

open System
open System.IO
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.IO
open CropCat.Nets
open CropCat.Tests.TestUtil
open CropCat.Tests.EncoderSupport

let private cropcat = CliTests.cropcat

/// The float32 tensor `key` of a checkpoint's model state.
let private stored (checkpoint: string) (key: string) =
    let struct (tensors, _) = Safetensors.Read checkpoint
    tensors["model." + key]

let private same (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    float (d.item<float32> ())

[<Tests>]
let tests =
    testSequenced
    <| testList "Cli.encoder" [
        test "train --encoder resnet18 --encoder-weights on 64x64 gray images, frozen encoder, then predict" {
            use scope = torch.NewDisposeScope()
            let weights, source = torchvisionWeights ResNetEncoder.ResNet18 21
            let data = syntheticFolder 2100 4 64
            let out = tempDir ()

            let code, stdout, err =
                cropcat [
                    "train"
                    "--data"
                    data
                    "--encoder"
                    "resnet18"
                    "--encoder-weights"
                    weights
                    "--in-channels"
                    "1"
                    "--binary"
                    "--optimizer"
                    "adam"
                    "--lr"
                    "0.001"
                    "--encoder-lr"
                    "0.0001"
                    "--freeze-encoder-epochs"
                    "1"
                    "--epochs"
                    "2"
                    "--steps-per-epoch"
                    "1"
                    "--max-steps"
                    "2"
                    "--val-fraction"
                    "0.25"
                    "--tile"
                    "64"
                    "--threads"
                    "2"
                    "--out"
                    out
                ]

            Expect.equal code 0 $"train succeeds: {err}"

            let expectedLoaded =
                source.Keys |> Seq.filter (fun k -> not (k.StartsWith "fc.")) |> Seq.length

            Expect.stringContains err $"loaded {expectedLoaded} encoder tensors" "says what was loaded"
            Expect.stringContains err "ignored 2 (the ImageNet classifier): fc.bias, fc.weight" "and what was ignored"
            Expect.stringContains err "summed over R, G, B into [64, 1, 7, 7]" "and how the stem was adapted to gray"
            Expect.stringContains stdout "tiles of 64x64" "a 64 px tile (a multiple of 32), output = input"
            let ckpt = Path.Combine(out, "model.safetensors")
            let info = Checkpoint.ReadInfo ckpt
            Expect.equal info.Step 2L "two steps"
            Expect.equal info.Extra["encoder_lr"] "0.0001" "the encoder rate is stored"
            Expect.equal info.Extra["freeze_encoder_epochs"] "1" "and the freezing"
            Expect.equal info.Extra["encoder_weights"] (Path.GetFileName weights) "and where the encoder's weights came from"
            let spec = info.Architecture.ToSpec()
            Expect.equal spec.Normalization (InputNormalization.ImageNet.ForChannels 1) "ImageNet statistics for one channel, stored"

            Expect.equal
                spec
                (ResNetUNets.Describe(ResNetEncoder.ResNet18, 1, 1, normalization = InputNormalization.ImageNet.ForChannels 1))
                "the smp resnet18 U-Net"
            // Step 1 ran frozen: the stem is the file's RGB sum still; step 2 (epoch 2) trained it.
            let summed = source["conv1.weight"].sum (1L, keepdim = true)
            Expect.isGreaterThan (same (stored ckpt "encoder.conv1.weight") summed) 0.0 "the stem trained in epoch 2"

            let predicted = tempDir ()

            let code, _, err =
                cropcat [
                    "predict"
                    "--model"
                    ckpt
                    "--input"
                    Path.Combine(data, "images")
                    "--output"
                    predicted
                    "--tile"
                    "64"
                    "--threads"
                    "2"
                ]

            Expect.equal code 0 $"predict succeeds: {err}"
            let masks = Directory.GetFiles(predicted, "*.png")
            Expect.equal masks.Length 4 "one mask per image"
            let m = CropCat.Imaging.ImageFile.Read masks[0]
            Expect.equal (m.Width, m.Height) (64, 64) "at the image's size"
        }

        test "a frozen first epoch leaves the loaded encoder exactly as the file (stem summed), batch-norm statistics included" {
            use scope = torch.NewDisposeScope()
            let weights, source = torchvisionWeights ResNetEncoder.ResNet18 22
            let data = syntheticFolder 2200 3 64
            let out = tempDir ()

            let code, _, err =
                cropcat [
                    "train"
                    "--data"
                    data
                    "--encoder"
                    "resnet18"
                    "--encoder-weights"
                    weights
                    "--in-channels"
                    "1"
                    "--freeze-encoder-epochs"
                    "1"
                    "--epochs"
                    "1"
                    "--steps-per-epoch"
                    "2"
                    "--val-fraction"
                    "0"
                    "--tile"
                    "64"
                    "--threads"
                    "2"
                    "--quiet"
                    "--out"
                    out
                ]

            Expect.equal code 0 $"train succeeds: {err}"
            let ckpt = Path.Combine(out, "model.safetensors")
            let summed = source["conv1.weight"].sum (1L, keepdim = true)
            Expect.isLessThanOrEqual (same (stored ckpt "encoder.conv1.weight") summed) 1e-6 "the stem: the RGB weights summed"

            for key in
                [
                    "layer1.0.conv1.weight"
                    "layer4.1.bn2.weight"
                    "bn1.running_mean"
                    "layer3.0.bn1.running_var"
                ] do
                Expect.equal (same (stored ckpt ("encoder." + key)) source[key]) 0.0 $"{key}: as loaded"

        }

        test "a gray net with the summed stem computes on gray what the RGB net computes on R = G = B" {
            use scope = torch.NewDisposeScope()
            let _, source = torchvisionWeights ResNetEncoder.ResNet18 23
            let eq = InputNormalization([| 0.45 |], [| 0.225 |])
            let rgbEq = InputNormalization([| 0.45; 0.45; 0.45 |], [| 0.225; 0.225; 0.225 |])
            init ()
            torch.manual_seed 1L |> ignore

            use gray =
                Network.Create(ResNetUNets.Describe(ResNetEncoder.ResNet18, 2, 1, normalization = eq), device = torch.CPU)

            use rgb =
                Network.Create(ResNetUNets.Describe(ResNetEncoder.ResNet18, 2, 3, normalization = rgbEq), device = torch.CPU)

            let report = CropCat.Interop.EncoderWeights.LoadInto(gray, source)
            Expect.stringContains report.AdaptedFirstConv "summed" "reported"
            CropCat.Interop.EncoderWeights.LoadInto(rgb, source) |> ignore
            let decoder = gray.state_dict ()
            use _ = torch.no_grad ()

            for KeyValue(k, t) in rgb.state_dict () do
                if not (k.StartsWith "encoder.") then
                    t.copy_ decoder[k] |> ignore

            gray.eval ()
            rgb.eval ()
            let x = torch.rand ([| 1L; 1L; 64L; 64L |])
            let y1 = gray.forward x
            let y3 = rgb.forward (x.expand (1L, 3L, 64L, 64L))
            let rel = same y1 y3 / float ((y3.abs().max ()).item<float32> ())
            Expect.isLessThanOrEqual rel 1e-5 "the same output"
        }

        test "encoder options are refused where they cannot work, each with one message" {
            let data = syntheticFolder 2300 2 64

            let refused (args: string list) (what: string) =
                let code, _, err = cropcat ([ "train"; "--data"; data; "--out"; tempDir () ] @ args)
                Expect.equal code 2 $"{args}: exit code 2 ({err})"
                Expect.stringContains err what $"{args}: says why"

            refused [ "--encoder"; "resnet101" ] "--encoder 'resnet101' is not one of resnet18, resnet34, resnet50"
            refused [ "--encoder"; "resnet18"; "--widths"; "4,8" ] "at most one of --preset, --description, --widths and --encoder"
            refused [ "--widths"; "4,8"; "--encoder-weights"; "x.pth" ] "give --encoder"
            refused [ "--widths"; "4,8"; "--encoder-lr"; "0.001" ] "this net has none"

            refused
                [
                    "--encoder"
                    "resnet18"
                    "--in-channels"
                    "1"
                    "--encoder-weights"
                    "/nonexistent.pth"
                ]
                "does not exist"

            refused
                [
                    "--encoder"
                    "resnet18"
                    "--in-channels"
                    "1"
                    "--normalize"
                    "0.5,0.5/0.2,0.2"
                ]
                "statistics for 2 channel(s) but the input has 1"

            refused [ "--encoder"; "resnet18"; "--in-channels"; "1"; "--tile"; "31" ] "at least 32x32"
        }

        test "resuming with another --encoder-lr is refused; without it the stored one is kept" {
            let data = syntheticFolder 2400 2 64
            let out = tempDir ()

            let train (extra: string list) =
                cropcat (
                    [
                        "train"
                        "--data"
                        data
                        "--out"
                        out
                        "--tile"
                        "64"
                        "--threads"
                        "2"
                        "--quiet"
                        "--val-fraction"
                        "0"
                    ]
                    @ extra
                )

            let code, _, err =
                train [
                    "--encoder"
                    "resnet18"
                    "--in-channels"
                    "1"
                    "--encoder-lr"
                    "0.001"
                    "--max-steps"
                    "1"
                    "--epochs"
                    "2"
                ]

            Expect.equal code 0 $"first run: {err}"
            let ckpt = Path.Combine(out, "model.safetensors")

            let code, _, err =
                train [
                    "--resume"
                    ckpt
                    "--encoder-lr"
                    "0.01"
                    "--epochs"
                    "2"
                    "--max-steps"
                    "2"
                ]

            Expect.equal code 2 "refused"
            Expect.stringContains err "encoder learning rate: 0.001 in the checkpoint, 0.01 now" "names the difference"
            let code, _, err = train [ "--resume"; ckpt; "--epochs"; "2"; "--max-steps"; "2" ]
            Expect.equal code 0 $"resumed with the stored rate: {err}"
            Expect.equal (Checkpoint.ReadInfo ckpt).Extra["encoder_lr"] "0.001" "kept"
        }

        test
            "import --normalize imagenet stores ImageNet's statistics: the net on [0, 1] intensities computes smp's output on normalised ones" {
            use scope = torch.NewDisposeScope()
            let root, expected, _ = InteropResNetTests.fixture ()

            let file =
                InteropResNetTests.safetensorsOf (InteropResNetTests.formulaStateDict root "smp_resnet34")

            let out = Path.Combine(tempDir (), "smp.safetensors")

            let code, stdout, err =
                cropcat [ "import"; "--pytorch"; file; "--normalize"; "imagenet"; "--out"; out ]

            Expect.equal code 0 $"import succeeds: {err}"
            Expect.stringContains stdout "input normalisation stored with the net" "says so"
            let struct (net, _) = Checkpoint.LoadNetwork out
            use net = net
            Expect.equal net.Spec.Normalization InputNormalization.ImageNet "stored"
            net.eval ()
            // The fixture's input is what smp's module saw: undo ImageNet's normalisation to get the image it came from.
            let normalized = expected "smp.input"
            let mean = torch.tensor([| 0.485f; 0.456f; 0.406f |]).reshape (1L, 3L, 1L, 1L)
            let std = torch.tensor([| 0.229f; 0.224f; 0.225f |]).reshape (1L, 3L, 1L, 1L)
            let image = normalized * std + mean
            use _ = torch.no_grad ()
            let y = net.forward image
            Expect.isLessThanOrEqual (InteropResNetTests.relDiff y (expected "smp.output")) 1e-4 "max |diff| / max |y|"

            let code, stdout, _ = cropcat [ "import"; "--pytorch"; file; "--out"; out ]
            Expect.equal code 0 "the default import"
            Expect.stringContains stdout "wants --normalize imagenet" "points smp users at the option"
        }

        test "export --onnx of an encoder net (normalisation in the graph): ONNX Runtime computes CropCat's logits and masks" {
            use scope = torch.NewDisposeScope()
            use net = tinyNet 24 3 2 InputNormalization.ImageNet
            // Batch-norm statistics away from 0/1, so eval-mode normalisation is exercised.
            net.train ()

            do
                use _ = torch.no_grad ()

                for _ in 1..3 do
                    net.forward (torch.rand ([| 2L; 3L; 64L; 64L |])) |> ignore

            net.eval ()
            let dir = tempDir ()
            let path = Path.Combine(dir, "m.safetensors")

            Checkpoint.Save(
                path,
                net,
                null,
                CheckpointInfo(
                    net.Description,
                    CropCat.Data.LabelSchema.Binary255,
                    0,
                    0L,
                    "",
                    Collections.Generic.Dictionary<string, string>()
                )
            )

            let onnx = Path.Combine(dir, "m.onnx")
            let code, stdout, err = cropcat [ "export"; "--model"; path; "--onnx"; onnx ]
            Expect.equal code 0 $"exported: {err}"
            Expect.stringContains stdout "Resize" "nearest up-sampling as Resize"
            use engine = CropCat.OnnxRuntime.OnnxRuntimeEngine.FromFile onnx

            for size in [ 64L; 96L ] do
                let x = torch.rand ([| 2L; 3L; size; size |])
                use _ = torch.no_grad ()
                let want = net.forward x
                let got = engine.Forward x
                let rel = same got want / float ((want.abs().max ()).item<float32> ())
                Expect.isLessThanOrEqual rel 1e-4 $"{size}x{size}, batch 2: max |ORT - CropCat| / max |y|"

            let images = Path.Combine(dir, "images")
            Directory.CreateDirectory images |> ignore

            for i in 0..1 do
                let rgb = Array.init (3 * 70 * 90) (fun j -> uint16 ((j * 37 + i * 101) % 256))
                CropCat.Imaging.PngEncoder.Write(Path.Combine(images, $"x{i}.png"), CropCat.Imaging.PngImage(90, 70, 3, 8, rgb))

            let masks (extra: string list) =
                let out = tempDir ()

                let code, _, err =
                    cropcat (
                        [
                            "predict"
                            "--model"
                            path
                            "--input"
                            images
                            "--output"
                            out
                            "--tile"
                            "64"
                        ]
                        @ extra
                    )

                Expect.equal code 0 $"predict {extra}: {err}"

                [
                    for f in Directory.GetFiles(out, "*.png") |> Array.sort -> File.ReadAllBytes f
                ]

            Expect.equal (masks [ "--engine"; "onnxruntime"; "--onnx"; onnx ]) (masks []) "the same mask files"
        }
    ]
