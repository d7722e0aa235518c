/// milesial/Pytorch-UNet checkpoints against PyTorch (Tests/golden/make_milesial.py, milesial's classes
/// with base width 1): the transposed 2-class net with mask_values, and an old bilinear 1-class
/// checkpoint whose conv biases are folded into batch norm.
module CropCat.Tests.InteropMilesialTests

open System.IO
open Expecto
open TorchSharp
open CropCat.Dsl
open CropCat.Interop
open CropCat.Nets
open CropCat.Shapes
open CropCat.Tests.InteropGoldenTests
open CropCat.Tests.TestUtil

let private file name = Path.Combine(goldenDir (), name)

/// Runs f and returns the exception of type 'e it throws; fails the test otherwise.
let private throws<'e when 'e :> exn> (f: unit -> unit) : 'e =
    try
        f ()
        failtestf "expected %s" typeof<'e>.Name
    with :? 'e as e ->
        e

/// milesial's classes at the fixture's base width (1): widths 1, 2, 4, 8, 16.
let private milesial classes bilinear =
    MilesialUNet.Create(3, classes, bilinear, baseWidth = 1)

/// The eval-mode output of `net` on the fixture input.
let private evalOutput (net: Network) (get: string -> torch.Tensor) =
    net.eval ()
    use _ = torch.no_grad ()
    net.forward (get "input")

[<Tests>]
let tests =
    testSequenced
    <| testList "Interop.Milesial" [
        test "new-style checkpoint (3 -> 2 classes, transposed, no conv bias): output matches PyTorch within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"
            use net = milesial 2 false
            let report = PyTorchWeights.LoadInto(net, file "milesial_new.pt")
            Expect.equal report.Layout StateDictLayout.Carvana "milesial's names are the Carvana layout"
            Expect.isEmpty report.FoldedBiases "no conv bias to fold"
            let y = evalOutput net get
            let want = get "new.output"
            Expect.sequenceEqual y.shape want.shape "output shape"
            Expect.isLessThan (maxAbsDiff y want) 1e-4 "max |CropCat - PyTorch|"

            settle ()
        }

        test "milesial's mask_values entry is skipped, reported by key and surfaced as the label map" {
            init ()
            use scope = torch.NewDisposeScope()
            use net = milesial 2 false
            let report = PyTorchWeights.LoadInto(net, file "milesial_new.pt")
            Expect.sequenceEqual report.Skipped.Keys [ "mask_values" ] "the one non-tensor entry, by key"
            Expect.equal (PickleValues.Describe report.Skipped["mask_values"]) "[0, 255]" "its value, as Python prints it"
            let masks = report.MaskValues |> Seq.map List.ofArray |> List.ofSeq
            Expect.equal masks [ [ 0L ]; [ 255L ] ] "class 0 is pixel value 0, class 1 is 255"
            let sd = TorchCheckpoint.ReadStateDict(file "milesial_new.pt")
            Expect.isFalse (sd.Tensors.ContainsKey "mask_values") "not among the tensors"

            settle ()
        }

        test "old-style checkpoint (conv biases, bilinear, 1 class): biases folded into batch norm, output matches PyTorch within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"
            use net = milesial 1 true
            let report = PyTorchWeights.LoadInto(net, file "milesial_old.pt")
            // 9 DoubleConvs (inc, down1..4, up1..4), two convolutions each.
            Expect.equal report.FoldedBiases.Count 18 "every 3x3 conv bias folded"
            Expect.contains report.FoldedBiases "inc.double_conv.0.bias" "named by the source key"
            Expect.isNull report.MaskValues "no mask_values in an old checkpoint"
            let y = evalOutput net get
            let want = get "old.output"
            Expect.sequenceEqual y.shape want.shape "output shape"
            Expect.isLessThan (maxAbsDiff y want) 1e-4 "max |CropCat - PyTorch|"

            settle ()
        }

        test "the fold is what makes the old checkpoint match: without its biases the output differs" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"
            let src = TorchCheckpoint.Read(file "milesial_old.pt")

            for k in List.ofSeq src.Keys do
                if k.Contains ".double_conv." && k.EndsWith ".bias" && src[k].shape[0] > 0L then
                    // Conv biases sit at indices 0 and 3 of double_conv; batch-norm biases at 1 and 4.
                    let idx = k.Split('.') |> Array.rev |> Array.item 1

                    if idx = "0" || idx = "3" then
                        src.Remove k |> ignore

            use net = milesial 1 true
            let report = StateDictLoader.LoadInto(net, src)
            Expect.isEmpty report.FoldedBiases "nothing left to fold"
            Expect.isGreaterThan (maxAbsDiff (evalOutput net get) (get "old.output")) 1e-3 "dropping the biases changes the function"

            settle ()
        }

        test "the fold holds in train mode: batch statistics absorb the bias and the running mean stays shifted by it" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"
            use net = milesial 1 true
            PyTorchWeights.LoadInto(net, file "milesial_old.pt") |> ignore
            net.train ()

            let y =
                use _ = torch.no_grad ()
                net.forward (get "input")

            Expect.isLessThan (maxAbsDiff y (get "old.train.output")) 1e-4 "train-mode output (batch statistics)"
            // CropCat's running mean is PyTorch's minus the folded bias, before and after the update.
            let sd = net.state_dict ()
            let mine = sd["enc1.bn1.running_mean"].cpu ()

            let theirs =
                get "old.train.inc.double_conv.1.running_mean"
                - get "old.inc.double_conv.0.bias"

            Expect.isLessThan (maxAbsDiff mine theirs) 1e-6 "running mean after one train step"

            settle ()
        }

        test "a transposed checkpoint in the bilinear net is refused with one message naming the file and the keys that differ" {
            init ()
            use scope = torch.NewDisposeScope()
            use net = milesial 2 true

            let path = file "milesial_new.pt"

            let ex =
                throws<StateDictMismatchException> (fun () -> PyTorchWeights.LoadInto(net, path) |> ignore)

            Expect.stringContains ex.Message path "names the file"
            // The bilinear net has no up-convolution weights and other decoder widths.
            Expect.contains ex.Unexpected "up1.up.weight" "the transposed conv has no place"

            Expect.contains
                ex.MisShaped
                "up1.conv.double_conv.3.weight -> dec4.conv2.weight: [8, 8, 3, 3] vs net [4, 8, 3, 3]"
                "a decoder conv of another shape"

            Expect.stringContains ex.Message "skipped (not tensors): mask_values = [0, 255]" "and what was skipped"

            settle ()
        }

        testTheory "full-size structure: CropCat's milesial nets have PyTorch's parameter counts" [
            // sum(p.numel() for p in UNet(3, classes, bilinear).parameters()) with milesial's classes (base 64).
            1, false, 31037633L
            2, false, 31037698L
            1, true, 17262977L
            2, true, 17263042L
        ]
        <| fun (classes, bilinear, want) ->
            init ()
            // Disposed at once: a full-size net holds 70-120 MB of weights.
            use net = MilesialUNet.Create(3, classes, bilinear)
            Expect.equal (net.parameters () |> Seq.sumBy (fun p -> p.numel ())) want "registered parameters"
            Expect.equal net.ParameterCount want $"UNet(3, {classes}, bilinear={bilinear})"

            if not bilinear then
                Expect.equal (ShapeCheck.parameters (Presets.milesial classes) |> Result.toOption) (Some want) "the DSL preset"

            settle ()

        test "the DSL's milesial form builds milesial's transposed net: its checkpoint loads and matches PyTorch within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"
            use net = Build.build (UNet.unet [ 1; 2; 4; 8; 16 ] (Presets.milesialForm 2))
            PyTorchWeights.LoadInto(net, file "milesial_new.pt") |> ignore
            Expect.isLessThan (maxAbsDiff (evalOutput net get) (get "new.output")) 1e-4 "max |CropCat (DSL) - PyTorch|"

            settle ()
        }

        test "odd sizes (23x45): floor pooling and milesial's F.pad of the up-sampled map; both checkpoints match PyTorch within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expectedIn "milesial"

            for name, classes, bilinear in [ "new", 2, false; "old", 1, true ] do
                use net = milesial classes bilinear
                PyTorchWeights.LoadInto(net, file $"milesial_{name}.pt") |> ignore
                net.eval ()
                use _ = torch.no_grad ()
                let y = net.forward (get "odd.input")
                let want = get $"{name}.odd.output"
                Expect.sequenceEqual y.shape want.shape $"{name}: output size = input size"
                Expect.isLessThan (maxAbsDiff y want) 1e-4 $"{name}: max |CropCat - PyTorch|"

            settle ()
        }

        test
            "the plain U-Net form (floor pooling, plain concat) refuses the odd sizes milesial pads, naming the merge; the preset takes them" {
            match ShapeCheck.inferHW (UNet.unet [ 64; 128; 256; 512; 1024 ] (Presets.milesialForm 2)) 36 48 with
            | Ok _ -> failtest "36x48 was accepted"
            | Error e -> Expect.equal e.Path "level 3 / merge" "names the concat that meets the floored odd size"

            match ShapeCheck.inferHW (Presets.milesial 2) 36 48 with
            | Ok i -> Expect.equal i.Output (Shape(2, 36, 48)) "milesial's floor pooling and F.pad give the input size back"
            | Error e -> failtest $"the exact milesial preset refused 36x48: {e.Message}"
        }
    ]
