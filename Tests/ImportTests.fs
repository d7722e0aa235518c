/// `cropcat import`: PyTorch weights become CropCat checkpoints that compute what the PyTorch models compute
/// (the golden fixtures' outputs, written by Debian's PyTorch), with the architecture read from the state dict.
module CropCat.Tests.ImportTests

open System
open System.IO
open Expecto
open TorchSharp
open CropCat.Interop
open CropCat.IO
open CropCat.Tests.TestUtil
open CropCat.Tests.InteropGoldenTests

/// Imports `name` with the CLI and returns the rebuilt net and its checkpoint info.
let private imported (name: string) =
    let out = Path.Combine(tempDir (), "model.safetensors")

    let code, stdout, err =
        CliTests.cropcat [ "import"; "--pytorch"; Path.Combine(goldenDir (), name); "--out"; out ]

    Expect.equal code 0 $"import succeeds: {err}"
    Expect.stringContains stdout "imported" "says what it did"
    (Checkpoint.LoadNetwork out).ToTuple(), out

let private output (net: CropCat.Nets.Network) (x: torch.Tensor) =
    net.eval ()
    use _ = torch.no_grad ()
    net.forward x

[<Tests>]
let tests =
    testSequenced
    <| testList "Import" [
        for name, stem, input, want, layout in
            [
                "reading_group.pt", "expected", "rg.input", "rg.output", "ReadingGroup"
                "reading_group.safetensors", "expected", "rg.input", "rg.output", "ReadingGroup"
                "carvana.pt", "expected", "cv.input", "cv.output", "Carvana"
                "milesial_new.pt", "milesial", "input", "new.output", "Carvana"
                "milesial_old.pt", "milesial", "input", "old.output", "Carvana"
            ] do
            test $"{name}: the imported checkpoint computes PyTorch's output within 1e-4" {
                init ()
                use scope = torch.NewDisposeScope()
                let get = expectedIn stem
                let (net, info), _ = imported name
                use net = net
                Expect.equal info.Extra["pytorch_layout"] layout "the layout is recorded"
                let y = output net (get input)
                let expected = get want
                Expect.sequenceEqual y.shape expected.shape "output shape"
                Expect.isLessThan (maxAbsDiff y expected) 1e-4 "max |CropCat - PyTorch|"
            }

        test "the reading group's widths, channels and classes come from the shapes, its blocks without the final ReLU" {
            init ()
            let (net, info), _ = imported "reading_group.pt"
            use net = net
            Expect.stringContains (info.Architecture.Json.Replace(" ", "")) "\"finalRelu\":false" "blocks end with the bare convolution"
            Expect.equal (net.InChannels, net.Spec.OutChannels) (1, 2) "1 in, 2 out"
        }

        test "an imported checkpoint fine-tunes with train --resume and predicts" {
            init ()
            let _, model = imported "reading_group.pt"
            let data = syntheticFolder 60 2 100
            let out = tempDir ()

            let code, _, err =
                CliTests.cropcat [
                    "train"
                    "--data"
                    data
                    "--resume"
                    model
                    "--out"
                    out
                    "--max-steps"
                    "1"
                    "--epochs"
                    "1"
                    "--threads"
                    "1"
                ]

            Expect.equal code 0 $"fine-tuning from the import works: {err}"
            let masks = tempDir ()

            let code, _, err =
                CliTests.cropcat [
                    "predict"
                    "--model"
                    Path.Combine(out, "model.safetensors")
                    "--input"
                    Path.Combine(data, "images")
                    "--output"
                    masks
                ]

            Expect.equal code 0 err
            Expect.equal (Directory.GetFiles masks).Length 2 "a mask per image"
        }

        test "an unknown layout is refused with the keys it could not place" {
            init ()
            let f = Path.Combine(tempDir (), "other.safetensors")
            use t = torch.zeros (2L, 3L)
            CropCat.IO.Safetensors.Write(f, readOnlyDict [ "backbone.stem.weight", t ], null)

            let code, _, err =
                CliTests.cropcat [ "import"; "--pytorch"; f; "--out"; Path.Combine(tempDir (), "m.safetensors") ]

            Expect.equal code 2 "refused"
            Expect.stringContains err "no known PyTorch U-Net layout" "says why"
            Expect.stringContains err "backbone.stem.weight" "lists the keys"
        }
    ]
