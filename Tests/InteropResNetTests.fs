/// The ResNet encoders and segmentation_models_pytorch's U-Net: the description against the TorchSharp
/// modules, and CropCat against torchvision / the smp module on committed fixtures (Tests/golden,
/// make_resnet.py with Debian's PyTorch). The weights are not committed: both sides compute them from
/// the same formula (ResNetFormula, make_resnet.py's `value`).
module CropCat.Tests.InteropResNetTests

open System
open System.Collections.Generic
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Interop
open CropCat.Layers
open CropCat.Nets
open CropCat.Tests.TestUtil

/// make_resnet.py's weight formula: parameter k (its index in the key list) element j gets a counter hash.
module ResNetFormula =
    let private m32 = 0xFFFFFFFFUL

    let uniform (k: int) (j: int64) =
        let mutable h = ((uint64 j + 1UL) * 2654435761UL + uint64 ((k + 1) * 40503)) &&& m32
        h <- h ^^^ (h >>> 15)
        h <- (h * 2246822519UL) &&& m32
        h <- h ^^^ (h >>> 13)
        float h / 4294967296.0 - 0.5

    /// The tensor of key `name` (number `k`, shape `shape`) as the script sets it.
    let value (k: int) (name: string) (shape: int64[]) : torch.Tensor =
        let n = Array.fold (*) 1L shape

        if name.EndsWith "num_batches_tracked" then
            torch.zeros (shape, dtype = torch.int64)
        else
            let f: int64 -> float =
                if name.EndsWith "running_mean" then
                    fun j -> 0.2 * uniform k j
                elif name.EndsWith "running_var" then
                    fun j -> 1.0 + 0.5 * (uniform k j + 0.5)
                elif name.EndsWith "bias" then
                    fun j -> 0.1 * uniform k j
                elif shape.Length = 1 then
                    fun j -> 0.5 + 0.4 * uniform k j
                else
                    let fan = Array.fold (*) 1L shape[1..] |> float
                    let s = 2.0 * Math.Sqrt(3.0 / fan)
                    fun j -> uniform k j * s

            torch.tensor(Array.init (int n) (fun j -> float32 (f (int64 j)))).reshape shape

/// The committed fixture's index, tensors and key lists.
let fixture () =
    let dir = committedDir "golden" "resnet.json"
    JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "resnet.json"))), InteropGoldenTests.expectedIn "resnet", dir

/// The state dict of key list `list` ("resnet34" or "smp_resnet34") from the formula, with its keys in order.
let formulaStateDict (root: JsonNode) (list: string) =
    let d = Dictionary<string, torch.Tensor>()

    root[list].AsArray()
    |> Seq.iteri (fun k e ->
        let name = e[0].GetValue<string>()
        let shape = e[1].AsArray() |> Seq.map (fun n -> n.GetValue<int64>()) |> Array.ofSeq
        d[name] <- ResNetFormula.value k name shape)

    d

/// Writes `tensors` (float32 weights, int64 batch counters) as a .safetensors file in a fresh temp folder.
let safetensorsOf (tensors: Dictionary<string, torch.Tensor>) =
    let path = Path.Combine(tempDir (), "weights.safetensors")
    CropCat.IO.Safetensors.Write(path, tensors, null)
    path

let relDiff (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    use m = b.abs().max ()
    float (d.item<float32> ()) / max 1e-12 (float (m.item<float32> ()))

let private paramNumel (net: Network) =
    net.parameters () |> Seq.sumBy (fun p -> p.numel ())

[<Tests>]
let tests =
    testSequenced
    <| testList "Interop.ResNet" [
        test "the ResNet U-Net descriptions count torchvision's and smp's parameters and match the modules" {
            use _ = torch.NewDisposeScope()
            // torchvision's trunks without fc; smp's Unet(resnetN, classes=2) = trunk + decoder + head.
            for enc, trunk in
                [
                    ResNetEncoder.ResNet18, 11176512L
                    ResNetEncoder.ResNet34, 21284672L
                    ResNetEncoder.ResNet50, 23508032L
                ] do
                let e = ResNetUNets.Encoder(enc)
                Expect.equal e.Parameters trunk $"{enc} trunk parameters"
                let spec = ResNetUNets.Describe(enc, 2)
                use net = new Network(spec)
                Expect.equal net.ParameterCount (paramNumel net) $"{enc}: description = modules"

                if enc = ResNetEncoder.ResNet34 then
                    Expect.equal spec.Parameters 24436514L "smp's Unet(resnet34, classes=2), counted by make_resnet.py's module"

                Expect.isTrue
                    (net.state_dict().Keys
                     |> Seq.forall (fun k ->
                         k.StartsWith "encoder."
                         || k.StartsWith "decoder.blocks."
                         || k.StartsWith "segmentation_head.0."))
                    "smp's key names"
        }

        test "the description's shape trace equals the modules' outputs, stage by stage" {
            use _ = torch.NewDisposeScope()
            let spec = ResNetUNets.Describe(ResNetEncoder.ResNet18, 3)
            use net = new Network(spec)
            net.eval ()
            use _ng = torch.no_grad ()

            for h, w in [ 64, 64; 96, 32 ] do
                use x = torch.randn (1L, 3L, int64 h, int64 w)
                use y = net.forward x
                let o = spec.Infer(h, w).Output
                Expect.sequenceEqual y.shape [| 1L; int64 o.Channels; int64 o.Height; int64 o.Width |] $"{h}x{w} output"
            // The encoder alone: every stage's output shape as the trace's last row of that stage says.
            let encSpec = ResNetUNets.Encoder(ResNetEncoder.ResNet50)
            use enc = new Network(encSpec)
            enc.eval ()
            let rows = encSpec.Infer(64, 96).Rows
            let chain = enc.Root :?> Chain
            let mutable x = torch.randn (1L, 3L, 64L, 96L)

            for layer in chain.Layers do
                let y = layer.Forward x

                let last =
                    rows
                    |> Seq.filter (fun r -> r.Path.StartsWith(layer.Path + " / ") && not (r.Path.EndsWith "downsample"))
                    |> Seq.last

                Expect.sequenceEqual
                    y.shape
                    [|
                        1L
                        int64 last.Output.Channels
                        int64 last.Output.Height
                        int64 last.Output.Width
                    |]
                    layer.Path

                x <- y
        }

        test "valid sizes of the ResNet U-Net are the multiples of 32; 500 is refused naming the stage" {
            let spec = ResNetUNets.Describe(ResNetEncoder.ResNet34, 2)
            let s = (ValidSizes.Solve spec).OrThrow()
            Expect.equal s.Period 32 "period"
            Expect.equal s.Smallest 32 "smallest"

            for n in [ 32; 64; 512; 544 ] do
                Expect.isTrue (s.Contains n) $"{n} valid"

            for n in [ 500; 48; 16; 513; 31 ] do
                Expect.isFalse (s.Contains n) $"{n} invalid"

            Expect.equal (s.OutputOf 512) (Nullable 512) "same size out"

            let msg =
                messageOf<CropCat.Shapes.ShapeException> (fun () -> spec.Infer(500, 500) |> ignore)

            Expect.stringContains msg "level 2 / down" "names the stage (layer2 gets 125)"
            Expect.stringContains msg "height 125 is odd" "says why"
            // torchvision's trunk alone takes any size, as torchvision does: 31 -> 16 -> 8 -> 8 -> 4 -> 2 -> 1.
            Expect.equal (ResNetUNets.Encoder(ResNetEncoder.ResNet34).Infer(31, 31).Output.Width) 1 "trunk at 31"
        }

        test "the JSON form round-trips the ResNet U-Net" {
            let spec =
                ResNetUNets.Describe(ResNetEncoder.ResNet50, 4, decoder = [| 64; 32; 16; 8; 8 |])

            let back = SpecJson.Parse(SpecJson.Write spec)
            Expect.equal back spec "equal description"
        }

        test "torchvision's resnet34 trunk: the formula's weights through safetensors give its stage outputs (<= 1e-4 of max |y|)" {
            use _ = torch.NewDisposeScope()
            let root, expected, _ = fixture ()
            let sd = formulaStateDict root "resnet34"
            let path = safetensorsOf sd
            let net = new Network(ResNetUNets.Encoder(ResNetEncoder.ResNet34))
            let report = EncoderWeights.LoadInto(net, path)
            Expect.sequenceEqual report.Ignored [ "fc.bias"; "fc.weight" ] "fc ignored"
            net.eval ()
            use _ng = torch.no_grad ()
            let chain = net.Root :?> Chain
            let mutable x = expected "trunk.input"

            for layer, name in Seq.zip chain.Layers [ "stem"; "layer1"; "layer2"; "layer3"; "layer4" ] do
                let y = layer.Forward x
                let r = relDiff y (expected ("trunk." + name))
                Expect.isLessThanOrEqual r 1e-4 $"{name}: max |diff| / max |y| = {r}"
                x <- y
        }

        test "smp's Unet(resnet34) layout loads by its own key names and computes smp's output (<= 1e-4 of max |y|)" {
            use _ = torch.NewDisposeScope()
            let root, expected, _ = fixture ()
            let sd = formulaStateDict root "smp_resnet34"
            let path = safetensorsOf sd
            let net = new Network(ResNetUNets.Describe(ResNetEncoder.ResNet34, 2))
            PyTorchWeights.LoadInto(net, path) |> ignore
            net.eval ()
            use _ng = torch.no_grad ()
            use y = net.forward (expected "smp.input")
            let r = relDiff y (expected "smp.output")
            Expect.isLessThanOrEqual r 1e-4 $"max |diff| / max |y| = {r}"
        }

        test "smp weights into other decoder widths are refused naming the mis-shaped decoder keys" {
            use _ = torch.NewDisposeScope()
            let root, _, _ = fixture ()
            let path = safetensorsOf (formulaStateDict root "smp_resnet34")

            let net =
                new Network(ResNetUNets.Describe(ResNetEncoder.ResNet34, 2, decoder = [| 128; 64; 32; 16; 8 |]))

            let msg =
                messageOf<StateDictMismatchException> (fun () -> PyTorchWeights.LoadInto(net, path) |> ignore)

            Expect.stringContains msg "decoder.blocks.0.conv1.0.weight" "names the first decoder conv"
            Expect.stringContains msg "[256, 768, 3, 3]" "with its shape"
        }

        test "a torchvision-style .pth of resnet keys reads through the restricted unpickler with the formula's values" {
            use _ = torch.NewDisposeScope()
            let root, _, dir = fixture ()
            let sd = PyTorchWeights.ReadStateDict(Path.Combine(dir, "resnet_keys.pt")).Tensors
            let expectedSd = formulaStateDict root "resnet34"

            Expect.sequenceEqual
                (sd.Keys |> Seq.sort)
                ([
                    "bn1.bias"
                    "bn1.num_batches_tracked"
                    "bn1.running_mean"
                    "bn1.running_var"
                    "bn1.weight"
                    "conv1.weight"
                    "fc.bias"
                    "layer1.0.conv1.weight"
                 ]
                 |> Seq.sort)
                "keys"

            for KeyValue(k, t) in sd do
                let e = expectedSd[k]
                Expect.sequenceEqual t.shape e.shape $"{k} shape"
                Expect.equal t.dtype e.dtype $"{k} dtype"
                use d = (t.to_type torch.float64 - e.to_type torch.float64).abs().max ()
                Expect.equal (d.item<float> ()) 0.0 $"{k} values"
            // A partial torchvision state dict is refused naming what is missing.
            let net = new Network(ResNetUNets.Encoder(ResNetEncoder.ResNet18))

            let msg =
                messageOf<StateDictMismatchException> (fun () ->
                    EncoderWeights.LoadInto(net, Path.Combine(dir, "resnet_keys.pt")) |> ignore)

            Expect.stringContains msg "missing" "lists the missing keys"
            Expect.stringContains msg "missing (113): layer1.0.bn1.bias" "how many, and the first"
        }
    ]
