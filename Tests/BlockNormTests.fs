/// Block normalisations and activations beyond the paper's (instance norm, group norm, leaky ReLU, ELU, SiLU):
/// PyTorch's own layers compute the same function (Tests/golden/make_norms.py), ONNX Runtime too, the description
/// refuses impossible ones by path, and tiling does not claim exactness for nets that normalise per tile.
module CropCat.Tests.BlockNormTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open CropCat.Architecture
open CropCat.Dsl
open CropCat.Inference
open CropCat.Interop
open CropCat.Layers
open CropCat.Nets
open CropCat.OnnxRuntime
open CropCat.Shapes
open CropCat.Tests.TestUtil

let private goldenDir () = committedDir "golden" "norms.json"

let private maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) =
    use d = (a - b).abs().max ()
    d.item<float32> () |> float

let private floats (n: JsonNode) =
    n.AsArray() |> Seq.map (fun v -> v.GetValue<float32>()) |> Array.ofSeq

let private longs (n: JsonNode) =
    n.AsArray() |> Seq.map (fun v -> v.GetValue<int64>()) |> Array.ofSeq

/// Every net of norms.json: name, description, input, PyTorch's output.
let private cases () =
    let root =
        JsonNode.Parse(File.ReadAllText(Path.Combine(goldenDir (), "norms.json")))

    [
        for n in root["nets"].AsArray() ->
            let input = torch.tensor(floats n["input"]).reshape (longs n["input_shape"])
            let output = torch.tensor(floats n["output"]).reshape (longs n["output_shape"])
            n["name"].GetValue<string>(), SpecJson.Parse(n["description"].ToJsonString()), input, output
    ]

/// The net of `spec` with the fixture's PyTorch weights, in eval mode.
let private loaded name (spec: NetSpec) =
    let net = new Network(spec)

    PyTorchWeights.LoadInto(net, Path.Combine(goldenDir (), $"norms_{name}.pt"))
    |> ignore

    net.eval ()
    net

let private block (norm: BlockNorm) (activation: BlockActivation) =
    BlockSpec(4, Padding.Same, Norm = norm, Groups = 2, Activation = activation)

[<Tests>]
let tests =
    testSequenced
    <| testList "BlockNorm" [
        test "PyTorch's InstanceNorm2d/3d, GroupNorm, leaky ReLU, ELU and SiLU U-Nets: CropCat computes their output within 1e-4" {
            init ()
            use _ = torch.NewDisposeScope()
            let all = cases ()
            Expect.equal (List.length all) 4 "four fixture nets"

            for name, spec, input, want in all do
                use net = loaded name spec
                use _ = torch.no_grad ()
                let got = net.forward input
                Expect.sequenceEqual got.shape want.shape $"{name}: output shape"
                Expect.isLessThan (maxAbsDiff got want) 1e-4 $"{name}: max |CropCat - PyTorch|"

            settle ()
        }

        test "the same nets exported to ONNX: ONNX Runtime computes CropCat's output within 1e-4 (group norm without opset 18)" {
            init ()
            use _ = torch.NewDisposeScope()

            for name, spec, input, want in cases () do
                use net = loaded name spec
                use engine = OnnxRuntimeEngine.For net
                use _ = torch.no_grad ()
                let got = engine.Forward input
                Expect.sequenceEqual got.shape want.shape $"{name}: ONNX Runtime's output shape"
                Expect.isLessThan (maxAbsDiff got want) 1e-4 $"{name}: max |ONNX Runtime - PyTorch|"

            settle ()
        }

        test "a wrong norm or activation computes another function: the fixture's output is far from the paper block's" {
            init ()
            use _ = torch.NewDisposeScope()
            // none_leaky02 has the same keys and shapes as a ReLU net, so only the description tells them apart.
            let name, spec, input, want =
                cases () |> List.find (fun (n, _, _, _) -> n = "none_leaky02")

            let relu =
                SpecJson.Parse((SpecJson.Write spec).Replace("\"activation\":\"leakyRelu\",", "").Replace(",\"slope\":0.2", ""))

            Expect.notEqual relu spec "a different description"
            use net = loaded name relu
            use _ = torch.no_grad ()
            Expect.isGreaterThan (maxAbsDiff (net.forward input) want) 1e-3 "ReLU blocks differ from PyTorch's leaky ReLU net"
            settle ()
        }

        test "JSON and the DSL carry norm, groups, activation and slope; batchNorm and norm 'batch' are one thing" {
            for norm in [ BlockNorm.None; BlockNorm.Instance; BlockNorm.Group ] do
                for activation in Enum.GetValues<BlockActivation>() do
                    let spec = NetSpec(2, chain [ block norm activation; head 2 ])
                    Expect.equal (SpecJson.Parse(SpecJson.Write spec)) spec $"{norm} {activation}"

            let leaky =
                NetSpec(1, chain [ BlockSpec(4, Activation = BlockActivation.LeakyReLU, Slope = 0.2); head 2 ])

            Expect.equal (SpecJson.Parse(SpecJson.Write leaky)) leaky "the slope survives"

            let viaNorm =
                SpecJson.Parse """{ "layers": [ { "block": 4, "norm": "batch" }, { "head": 2 } ] }"""

            let viaFlag =
                SpecJson.Parse """{ "layers": [ { "block": 4, "batchNorm": true }, { "head": 2 } ] }"""

            Expect.equal viaNorm viaFlag "one representation of batch norm"

            let dsl =
                (BlockSpec(8) :> Spec) |> withGroupNorm 4 |> withActivation BlockActivation.SiLU :?> BlockSpec

            Expect.equal (dsl.Normalization, dsl.Groups, dsl.Activation) (BlockNorm.Group, 4, BlockActivation.SiLU) "DSL combinators"

            let inst =
                (BlockSpec(8, BatchNorm = true) :> Spec) |> withInstanceNorm :?> BlockSpec

            Expect.equal inst.Normalization BlockNorm.Instance "instance norm replaces batch norm"
        }

        test "impossible blocks are refused by path before any tensor exists" {
            let refusal (b: BlockSpec) =
                match NetSpec(1, chain [ BlockSpec(4); b; head 2 ]).Check() with
                | null -> failwith "accepted"
                | e -> e.Message

            let groups = refusal (BlockSpec(6, Norm = BlockNorm.Group, Groups = 4))
            Expect.stringContains groups "multiples of 4" "says why"
            Expect.stringContains groups "block 2" "names the block"

            Expect.stringContains
                (refusal (BlockSpec(4, BatchNorm = true, Norm = BlockNorm.Instance)))
                "one normalisation"
                "batch and instance norm together"

            Expect.stringContains
                (refusal (BlockSpec(4, Activation = BlockActivation.LeakyReLU, Slope = 0.0)))
                "negative slope"
                "slope 0 is ReLU, not leaky"
        }

        test "parameter counts equal the built modules' (biases only where the norm does not remove them)" {
            init ()

            for norm in [ BlockNorm.None; BlockNorm.Batch; BlockNorm.Instance; BlockNorm.Group ] do
                for dims in [ 2; 3 ] do
                    let spec = NetSpec(3, chain [ block norm BlockActivation.ELU; head 2 ], dims)
                    use net = new Network(spec)

                    let built = net.parameters () |> Seq.sumBy (fun p -> p.numel ())

                    Expect.equal built spec.Parameters $"{norm}, {dims}-D"
        }

        test "nets that normalise per image tile with Gaussian blending; exact tiling is refused with the reason" {
            init ()
            use _ = torch.NewDisposeScope()

            let options =
                UNetOptions(Widths = [| 4; 8 |], Norm = BlockNorm.Instance, Activation = BlockActivation.LeakyReLU)

            use net = Network.Create(UNets.Describe options)
            net.eval ()
            let plan = TilePlan.For(net, 100, 90, TileOptions(TileSize = 60))
            Expect.equal plan.Mode TileMode.Gaussian "blended, not stitched as if exact"

            let message =
                try
                    TilePlan.For(net, 100, 90, TileOptions(TileSize = 60, Mode = TileMode.Exact))
                    |> ignore

                    "accepted"
                with :? ArgumentException as e ->
                    e.Message

            Expect.stringContains message "instance norm" "names the cause"
            use image = torch.rand ([| 1L; 100L; 90L |])
            use probs = OverlapTile(net, TileOptions(TileSize = 60)).Predict image
            Expect.sequenceEqual probs.shape [| 2L; 100L; 90L |] "a probability map of the image"
            use sums = probs.sum (0)
            Expect.isLessThan (maxAbsDiff sums (torch.ones_like sums)) 1e-4 "softmax probabilities everywhere"
            settle ()
        }
    ]
