/// CropCat against PyTorch on a committed fixture (Tests/golden, written by make_fixture.py with
/// Debian's PyTorch): the same weights give the same output and the same training step.
module CropCat.Tests.InteropGoldenTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open CropCat.Interop
open CropCat.Nets
open CropCat.Shapes
open CropCat.Training
open CropCat.Tests.TestUtil
open CropCat.Architecture

/// The folder of the committed fixture, found from the test program's folder or the working directory.
let goldenDir () = committedDir "golden" "expected.json"

/// The expected tensors of fixture `stem`: raw little-endian float32 (stem.bin) indexed by stem.json.
let expectedIn (stem: string) =
    let dir = goldenDir ()
    let root = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, stem + ".json")))
    let index = root["tensors"].AsObject()
    let bytes = File.ReadAllBytes(Path.Combine(dir, stem + ".bin"))

    fun (name: string) ->
        let e = index[name]

        if isNull e then
            failwithf "%s.json has no tensor '%s' (rerun the script in Tests/golden)" stem name

        let shape =
            e["shape"].AsArray() |> Seq.map (fun n -> n.GetValue<int64>()) |> Array.ofSeq

        let offset = e["offset"].GetValue<int>()
        let count = shape |> Array.fold (*) 1L |> int

        let data =
            Array.init count (fun i -> BitConverter.ToSingle(bytes, 4 * (offset + i)))

        torch.tensor(data).reshape shape

/// The expected tensors of the main fixture (expected.json / expected.bin, make_fixture.py).
let expected () = expectedIn "expected"

let maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    d.item<float32> () |> float

/// The reading group's net: blocks end with the bare second convolution (no ReLU), as its code does.
let readingGroupOptions = UNetOptions.ReadingGroup([| 4; 8; 16 |])

let carvanaOptions =
    UNetOptions(InChannels = 1, Classes = 2, Widths = [| 2; 4; 8 |], Padding = Padding.Same, BatchNorm = true, Merge = Merge.Concat)

[<Tests>]
let tests =
    testSequenced
    <| testList "Interop.Golden" [
        test "reading-group .pt: CropCat's output matches PyTorch's within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            use net = UNet.Create readingGroupOptions

            let report =
                PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), "reading_group.pt"))

            Expect.equal report.Layout StateDictLayout.ReadingGroup "layout recognised from the keys"
            net.eval ()
            use _ = torch.no_grad ()
            let y = net.forward (get "rg.input")
            let want = get "rg.output"
            Expect.sequenceEqual y.shape want.shape "output shape"
            Expect.isLessThan (maxAbsDiff y want) 1e-4 "max |CropCat - PyTorch|"

            settle ()
        }

        test "reading-group weights are refused by a net whose blocks end with a ReLU: it would compute another function" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            // The paper's blocks: the same keys and shapes, another function.
            use paperStyle =
                UNet.Create(UNetOptions(InChannels = 1, Classes = 2, Widths = [| 4; 8; 16 |]))

            let m =
                messageOf<StateDictMismatchException> (fun () ->
                    PyTorchWeights.LoadInto(paperStyle, Path.Combine(goldenDir (), "reading_group.pt"))
                    |> ignore)

            Expect.stringContains m "no ReLU after the second convolution" "says what differs"
            Expect.stringContains m "UNetOptions.ReadingGroup" "says what to build"
            // What the refusal prevents: the same weights in the paper's blocks compute something else.
            let src = TorchCheckpoint.Read(Path.Combine(goldenDir (), "reading_group.pt"))
            use right = UNet.Create readingGroupOptions
            StateDictLoader.LoadInto(right, src, StateDictLayout.ReadingGroup) |> ignore

            use wrong =
                UNet.Create(UNetOptions(InChannels = 1, Classes = 2, Widths = [| 4; 8; 16 |]))

            let rightState = right.state_dict ()

            for kv in wrong.state_dict () do
                use _ = torch.no_grad ()
                kv.Value.copy_ rightState[kv.Key] |> ignore

            right.eval ()
            wrong.eval ()
            use _ = torch.no_grad ()
            let want = get "rg.output"
            Expect.isLessThan (maxAbsDiff (right.forward (get "rg.input")) want) 1e-4 "the reading group's blocks match PyTorch"
            Expect.isGreaterThan (maxAbsDiff (wrong.forward (get "rg.input")) want) 1e-3 "the paper's blocks do not"
            settle ()
        }

        test "without the [up, skip] -> [skip, up] channel swap the output differs (the swap is what makes it match)" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            let src = TorchCheckpoint.Read(Path.Combine(goldenDir (), "reading_group.pt"))
            // Pre-swap the decoder conv1 weights, so the loader's swap undoes it: the net then sees [up, skip] weights.
            for k in List.ofSeq src.Keys do
                if k.StartsWith "decoder.dec_blocks." && k.EndsWith ".conv1.weight" then
                    src[k] <- StateDictLoader.SwapInputHalves src[k]

            use net = UNet.Create readingGroupOptions
            StateDictLoader.LoadInto(net, src, StateDictLayout.ReadingGroup) |> ignore
            net.eval ()
            use _ = torch.no_grad ()

            Expect.isGreaterThan
                (maxAbsDiff (net.forward (get "rg.input")) (get "rg.output"))
                1e-3
                "unswapped weights give another function"

            settle ()
        }

        test "three training steps (CropCat's weighted cross-entropy, SGD momentum 0.99) match PyTorch: every loss and every weight" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            use net = UNet.Create readingGroupOptions

            PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), "reading_group.pt"))
            |> ignore

            net.train ()
            use sgd = torch.optim.SGD(net.parameters (), 0.05, momentum = 0.99)
            let x = get "rg.input"
            let target = (get "rg.target").to_type torch.int64
            let weight = get "rg.weight"
            let wantLosses = get "rg.losses"
            // From step 2 on the momentum buffer differs from the gradient: step 3 sees momentum.
            Expect.equal wantLosses.shape[0] 3L "the fixture holds three steps"

            for step in 0L .. 2L do
                sgd.zero_grad ()
                let loss = Losses.WeightedCrossEntropy(net.forward x, target, weight)
                loss.backward ()
                sgd.step () |> ignore
                let want = wantLosses[step].item<float32> () |> float
                Expect.floatClose { absolute = 1e-4; relative = 1e-5 } (loss.item<float32> () |> float) want $"loss of step {step + 1L}"

            let updated = StateDictLoader.Export(net, StateDictLayout.ReadingGroup)
            Expect.equal updated.Count 26 "13 convolutions, weight and bias each"

            for KeyValue(k, v) in updated do
                Expect.isLessThan (maxAbsDiff v (get ("rg.step3." + k))) 1e-4 $"{k} after step 3"

            settle ()
        }

        test "reading-group .safetensors: CropCat's output matches PyTorch's within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            use net = UNet.Create readingGroupOptions

            PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), "reading_group.safetensors"))
            |> ignore

            net.eval ()
            use _ = torch.no_grad ()
            Expect.isLessThan (maxAbsDiff (net.forward (get "rg.input")) (get "rg.output")) 1e-4 "max |CropCat - PyTorch|"

            settle ()
        }

        test "exporting the loaded net to safetensors in the reading group's layout gives back PyTorch's own tensors" {
            init ()
            use scope = torch.NewDisposeScope()
            use net = UNet.Create readingGroupOptions

            PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), "reading_group.pt"))
            |> ignore

            let path =
                Path.Combine(Path.GetTempPath(), $"cropcat-export-{Guid.NewGuid():N}.safetensors")

            try
                PyTorchWeights.ExportSafetensors(net, path, StateDictLayout.ReadingGroup)
                let struct (mine, meta) = CropCat.IO.Safetensors.Read path

                let struct (theirs, _) =
                    CropCat.IO.Safetensors.Read(Path.Combine(goldenDir (), "reading_group.safetensors"))

                Expect.sequenceEqual (Seq.sort mine.Keys) (Seq.sort theirs.Keys) "the names PyTorch's load_state_dict expects"
                Expect.equal meta["cropcat.layout"] "ReadingGroup" "layout recorded in the metadata"

                for KeyValue(k, v) in theirs do
                    Expect.equal (maxAbsDiff mine[k] v) 0.0 $"{k} bit for bit (decoder conv1 swapped back to [up, skip])"
            finally
                File.Delete path

            settle ()
        }

        test "Carvana .pt (padded, batch norm, eval): output matches PyTorch within 1e-4" {
            init ()
            use scope = torch.NewDisposeScope()
            let get = expected ()
            use net = UNet.Create carvanaOptions
            let report = PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), "carvana.pt"))
            Expect.equal report.Layout StateDictLayout.Carvana "layout recognised from the keys"
            net.eval ()
            use _ = torch.no_grad ()
            Expect.isLessThan (maxAbsDiff (net.forward (get "cv.input")) (get "cv.output")) 1e-4 "max |CropCat - PyTorch|"

            settle ()
        }
    ]
