/// `cropcat import --pytorch` of segmentation_models_pytorch's Unet on a ResNet: the layout recognised from
/// the keys, the encoder from the block counts, widths and classes from the shapes; refusals name what differs.
module CropCat.Tests.ImportResNetTests

open System
open System.IO
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Interop
open CropCat.IO
open CropCat.Nets
open CropCat.Shapes
open CropCat.Tests.TestUtil
open CropCat.Tests.InteropResNetTests

let private importFile (path: string) =
    let out = Path.Combine(tempDir (), "model.safetensors")

    let code, stdout, err =
        CliTests.cropcat [ "import"; "--pytorch"; path; "--out"; out ]

    Expect.equal code 0 $"import succeeds: {err}"
    Expect.stringContains stdout "Smp layout" "says the layout"
    (Checkpoint.LoadNetwork out).ToTuple()

[<Tests>]
let tests =
    testSequenced
    <| testList "Import.ResNet" [
        test "smp's Unet(resnet34) imports through the CLI and computes the fixture's output (<= 1e-4 of max |y|)" {
            use _ = torch.NewDisposeScope()
            let root, expected, _ = fixture ()
            let net, info = importFile (safetensorsOf (formulaStateDict root "smp_resnet34"))
            use net = net
            Expect.equal info.Extra["pytorch_layout"] "Smp" "the layout is recorded"
            Expect.equal net.Spec (ResNetUNets.Describe(ResNetEncoder.ResNet34, 2)) "resnet34, smp's decoder, 2 classes"
            net.eval ()
            use _ng = torch.no_grad ()
            use y = net.forward (expected "smp.input")
            Expect.isLessThanOrEqual (relDiff y (expected "smp.output")) 1e-4 "max |diff| / max |y|"
        }

        test "resnet18 and resnet50 encoders, other decoder widths and classes are read from the keys and shapes" {
            use _ = torch.NewDisposeScope()

            for enc, decoder, classes, inC in
                [
                    ResNetEncoder.ResNet18, [| 64; 32; 16; 16; 8 |], 3, 1
                    ResNetEncoder.ResNet50, [| 32; 16; 16; 8; 8 |], 1, 3
                ] do
                let spec = ResNetUNets.Describe(enc, classes, inC, decoder)
                use source = new Network(spec)
                let path = Path.Combine(tempDir (), "smp.safetensors")
                PyTorchWeights.ExportSafetensors(source, path)
                let sd = PyTorchWeights.Read path
                let described, layout = PyTorchImport.Describe(sd, "smp").ToTuple()
                Expect.equal layout StateDictLayout.Smp $"{enc}: layout"
                Expect.equal described spec $"{enc}: the same description"
        }

        test "an smp encoder CropCat does not know is refused naming its block counts" {
            use _ = torch.NewDisposeScope()
            let spec = ResNetUNets.Describe(ResNetEncoder.ResNet18, 2)
            use source = new Network(spec)
            let sd = System.Collections.Generic.Dictionary(source.state_dict ())

            for k in List.ofSeq sd.Keys do
                if k.StartsWith "encoder.layer3.1." then
                    sd.Remove k |> ignore

            let msg =
                messageOf<UnknownLayoutException> (fun () -> PyTorchImport.Describe(sd, "odd.pth") |> ignore)

            Expect.stringContains msg "basic blocks 2, 2, 1, 2" "names the block counts"
        }

        test "smp weights into a net that concatenates [skip, up] are refused naming the merge" {
            use _ = torch.NewDisposeScope()

            let body =
                ChainSpec(
                    ResNetStemSpec(),
                    SkipSpec(Merge.Concat, ChainSpec(ResNetStageSpec(1, 1, 8), NearestUpSpec())),
                    SmpDecoderBlockSpec(0, 4),
                    NearestUpSpec(),
                    SmpHeadSpec(1)
                )

            use net = new Network(NetSpec(3, body))
            let path = Path.Combine(tempDir (), "w.safetensors")
            PyTorchWeights.ExportSafetensors(net, path)

            let msg =
                messageOf<StateDictMismatchException> (fun () -> PyTorchWeights.LoadInto(net, path) |> ignore)

            Expect.stringContains msg "level 1 / merge" "names the layer"
            Expect.stringContains msg "[up-sampled, skip]" "says what smp does"
        }
    ]
