/// The one network description (CropCat.Architecture): legacy checkpoints, the JSON form, N-D valid
/// sizes and parameter counts, the 3-D U-Net, and the attention gate against hand-written TorchSharp.
module CropCat.Tests.DescriptionTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Architecture
open CropCat.Dsl
open CropCat.IO
open CropCat.Nets
open CropCat.Shapes
open CropCat.Tests.DslGenerators
open CropCat.Tests.TestUtil

let private config n = {
    FsCheckConfig.defaultConfig with
        maxTest = n
}

/// Tests/fixtures/legacy, found from the test program's folder or the working directory.
let private legacyDir () =
    committedDir "fixtures/legacy" "outputs.safetensors"

let private maxAbs = CropCat.Tests.TilingSupport.maxAbsDiff

/// The fixture input of the legacy script: sin(arange(C*H*W) / (C*H*W)) as (1, C, H, W).
let private legacyInput c size =
    let n = int64 (c * size * size)
    (torch.arange (n, dtype = torch.float32) / float32 n).sin().reshape (1L, int64 c, int64 size, int64 size)

/// Parameter count from the modules themselves.
let private moduleCount (net: Network) =
    net.parameters () |> Seq.sumBy (fun p -> p.numel ())

[<Tests>]
let legacy =
    testList "Description.legacy checkpoints" [
        for file, kind, c, size in
            [
                "unet-kind.safetensors", "UNet", 1, 20
                "dsl-kind.safetensors", "CropCat.Dsl", 3, 16
            ] do
            test $"a checkpoint of kind {kind} written by the release before the redesign loads and computes what it computed" {
                init ()
                use scope = torch.NewDisposeScope()
                let dir = legacyDir ()

                let struct (expected, _) =
                    Safetensors.Read(Path.Combine(dir, "outputs.safetensors"))

                let struct (net, info) = Checkpoint.LoadNetwork(Path.Combine(dir, file))
                use net = net
                Expect.equal info.Architecture.Kind kind "the stored kind"
                Expect.equal info.Step 42L "the stored step"
                net.eval ()
                use _ = torch.no_grad ()
                let y = net.forward (legacyInput c size)
                Expect.sequenceEqual y.shape expected[file].shape "output shape"
                Expect.isLessThanOrEqual (maxAbs y expected[file]) 1e-5 "max |today - that release|"
                // Saved again, it is of today's kind and rebuilds the same description.
                Expect.equal net.Description.Kind NetworkDescription.SpecKind "re-saved as kind CropCat"
                Expect.equal (net.Description.ToSpec()) net.Spec "the JSON form gives the description back"
            }
    ]

[<Tests>]
let properties =
    testList "Description.properties" [
        testPropertyWithConfig (config 60) "the JSON form gives every generated description back (2-D and 3-D)"
        <| Prop.forAll (arbNet 4) (fun net ->
            let both = [ net; in3d net ]
            both |> List.forall (fun n -> SpecJson.Parse(SpecJson.Write n) = n))

        test "every preset (mid widths, interpolation, pad-and-cat, gates, 3-D) survives the JSON form" {
            for name, spec in Presets.byName do
                Expect.equal (SpecJson.Parse(SpecJson.Write spec)) spec name
        }

        testPropertyWithConfig
            (config 30)
            "valid sizes per axis in 3-D: anisotropic inputs are valid exactly when every axis is, with per-axis outputs"
        <| Prop.forAll (Arb.zip (arbNet 3, Arb.fromGen (Gen.listOfLength 3 (Gen.choose (1, 200))))) (fun (net2d, extents) ->
            let net = in3d net2d

            match ValidSizes.solve net with
            | Error _ -> true |> Prop.classify true "no sizes"
            | Ok s ->
                // Each axis is pushed to a valid size half the time, so accepted cases occur.
                let extents = extents |> List.mapi (fun i n -> if i % 2 = 0 then s.Nearest n else n)
                let o = net.TryInfer(Array.ofList extents)
                let expected = extents |> List.forall s.Contains

                (o.IsOk = expected
                 && (not o.IsOk
                     || List.ofSeq o.Value.Output.Extents = (extents |> List.map (fun n -> s.OutputOf(n).Value))))
                |> Prop.classify o.IsOk "accepted"
                |> Prop.label $"{extents}: inference {o.IsOk}, solver {expected}")

        testPropertyWithConfig (config 12) "parameter counts equal the built modules' counts (2-D and 3-D, gates included)"
        <| Prop.forAll (arbNet 3) (fun net ->
            init ()

            [ net; in3d net ]
            |> List.forall (fun n ->
                match n.Check() with
                | null ->
                    use built = new Network(n)
                    moduleCount built = n.Parameters
                | _ -> true))

        testPropertyWithConfig (config 8) "3-D: inference agrees with the TorchSharp forward pass on generated nets at a valid size"
        <| Prop.forAll (arbNet 2) (fun net2d ->
            init ()
            let net = in3d net2d

            match ValidSizes.solve net with
            | Error _ -> true |> Prop.classify true "no sizes"
            | Ok s when s.Smallest > 40 -> true |> Prop.classify true "too large for a cheap 3-D case"
            | Ok s ->
                let n = s.Smallest
                use scope = torch.NewDisposeScope()
                use built = new Network(net)
                built.eval ()
                use _ = torch.no_grad ()

                let y =
                    built.forward (torch.rand [| 1L; int64 net.InChannels; int64 n; int64 n; int64 n |])

                let rule = net.Infer(n, n, n).Output

                (y.shape |> Array.skip 1 |> Array.map int |> List.ofArray) = (rule.Channels :: List.ofSeq rule.Extents)
                |> Prop.label $"{n}: torch %A{y.shape}, rule {rule}")
    ]

/// Cicek et al. 2016 (Fig. 1, Sec. 2): 132x132x116 x 3 channels in, 44x44x28 x 3 classes out.
[<Tests>]
let unet3d =
    testList "Description.3-D U-Net" [
        test "the 3-D U-Net preset: 116x132x132 -> 28x44x44, levels as in the paper" {
            let net = Presets.unet3d
            let i = net.Infer(116, 132, 132)
            Expect.equal i.Output (Shape(3, [| 28; 44; 44 |])) "output 3x28x44x44"

            let at path =
                (i.Rows |> Seq.find (fun r -> r.Path = path)).Output

            Expect.equal (at "level 1 / enc / conv1") (Shape(32, [| 114; 130; 130 |])) "first conv: 32 channels"
            Expect.equal (at "level 1 / enc / conv2") (Shape(64, [| 112; 128; 128 |])) "channels doubled before pooling"
            Expect.equal (at "bottom / conv2") (Shape(512, [| 7; 9; 9 |])) "bottom (256, 512)"
            Expect.equal (at "level 3 / up") (Shape(512, [| 14; 18; 18 |])) "the up-convolution keeps the channels"
            Expect.equal (at "level 3 / dec / conv1").Channels 256 "decoder of level 3"
            Expect.equal (at "level 1 / down").Channels 64 "pool keeps channels"
        }

        test "its parameter count: 19,073,187 as CropCat counts, the paper's 19,069,955 as the paper counts" {
            let n = Presets.unet3d.Parameters
            Expect.equal n 19_073_187L "batch norm's scale and shift, no conv bias before batch norm"
            // The paper's count: convolution biases instead of batch-norm parameters, no up-conv bias.
            let bnChannels = [ 32; 64; 64; 128; 128; 256; 256; 512; 256; 256; 128; 128; 64; 64 ]
            let bn = 2L * int64 (List.sum bnChannels)
            let convBias = int64 (List.sum bnChannels)
            let upBias = int64 (512 + 256 + 128)
            Expect.equal (n - bn + convBias - upBias) 19_069_955L "Cicek et al. 2016, Sec. 3"
        }

        test "its valid sizes per axis, and a refusal that names the depth axis" {
            let s =
                ValidSizes.solve Presets.unet3d
                |> Result.defaultWith (fun e -> failtest e.Message)

            Expect.isTrue (s.Contains 116 && s.Contains 132) "116 and 132 are valid"
            Expect.equal s.Period 8 "three down-steps"
            let e = Presets.unet3d.TryInfer([| 118; 132; 132 |]).Error
            Expect.stringContains e.Message "depth" "names the axis"
            Expect.stringContains e.Message "2x2x2 max-pool needs even sizes" "and the 3-D pool"
        }

        test "the 3-D U-Net preset trains one SGD step (at its smallest size, 92^3 -> 4^3)" {
            init ()
            use scope = torch.NewDisposeScope()
            torch.manual_seed 6L |> ignore
            use net = Network.Create(Presets.unet3d, "unet3d", torch.CPU)
            let x = torch.rand [| 1L; 3L; 92L; 92L; 92L |]
            let target = torch.randint (3L, [| 1L; 4L; 4L; 4L |])
            use sgd = torch.optim.SGD(net.parameters (), 0.01, 0.99)
            let head = net.get_parameter("head.weight").detach().clone ()
            let loss = torch.nn.functional.cross_entropy (net.forward x, target)
            loss.backward ()
            sgd.step () |> ignore
            Expect.isTrue (Double.IsFinite(float (loss.item<float32> ()))) "finite loss"
            Expect.isGreaterThan (maxAbs (net.get_parameter "head.weight") head) 0.0 "the step moved the head"
        }

        test "a small 3-D U-Net: forward, backward, one SGD step, checkpoint round trip" {
            init ()
            use scope = torch.NewDisposeScope()
            torch.manual_seed 5L |> ignore

            let spec =
                UNet.Describe(UNetOptions(Widths = [| 2; 4; 8 |], Dims = 3, BatchNorm = true, Classes = 2))

            let n = (ValidSizes.Solve spec).OrThrow().Smallest
            use net = Network.Create(spec, "tiny3d", torch.CPU)
            let x = torch.rand [| 2L; 1L; int64 n; int64 n; int64 (n + 8) |]
            let out = net.Infer(n, n, n + 8)

            let target =
                torch.randint (2L, [| 2L; int64 out.Extents[0]; int64 out.Extents[1]; int64 out.Extents[2] |])

            let before = parameterValues net
            use sgd = torch.optim.SGD(net.parameters (), 0.01, 0.99)
            net.train ()
            let loss = torch.nn.functional.cross_entropy (net.forward x, target)
            loss.backward ()
            Expect.isTrue (net.parameters () |> Seq.forall (fun p -> not (isNull p.grad))) "every parameter has a gradient"
            sgd.step () |> ignore
            Expect.isTrue (Double.IsFinite(loss.item<float32> () |> float)) "finite loss"
            Expect.notEqual (parameterValues net) before "the step changed the weights"

            let path = Path.Combine(tempDir (), "tiny3d.safetensors")

            Checkpoint.Save(
                path,
                net,
                null,
                CheckpointInfo(net.Description, CropCat.Data.LabelSchema.Binary255, 1, 1L, "", readOnlyDict [])
            )

            let struct (back, info) = Checkpoint.LoadNetwork path
            use back = back
            Expect.stringContains info.Architecture.Json "\"dims\":3" "the JSON form says dims 3"
            net.eval ()
            back.eval ()
            use _ = torch.no_grad ()
            Expect.isLessThanOrEqual (maxAbs (net.forward x) (back.forward x)) 0.0 "the same function after the round trip"
        }
    ]

/// The attention gate written out in plain TorchSharp functions, with the built net's weights.
let private referenceForward (net: Network) (dims: int) (x: torch.Tensor) : torch.Tensor =
    let parameters =
        net.named_parameters () |> Seq.map (fun struct (n, t) -> n, t) |> Map.ofSeq

    let pad (k: int) = Array.create dims (int64 k)

    let conv (input: torch.Tensor) (name: string) (k: int) : torch.Tensor =
        let w = parameters[name + ".weight"]

        let b =
            match parameters.TryFind(name + ".bias") with
            | Some t -> t
            | None -> null

        if dims = 2 then
            torch.nn.functional.conv2d (input, w, b, padding = pad k)
        else
            torch.nn.functional.conv3d (input, w, b, padding = pad k)

    let block (input: torch.Tensor) (scope: string) : torch.Tensor =
        let a = (conv input $"{scope}.conv1" 1).relu ()
        (conv a $"{scope}.conv2" 1).relu ()

    let e = block x "enc1"

    let pooled =
        if dims = 2 then
            torch.nn.functional.max_pool2d (e, [| 2L; 2L |], [| 2L; 2L |])
        else
            torch.nn.functional.max_pool3d (e, [| 2L; 2L; 2L |], [| 2L; 2L; 2L |])

    let bottom = block pooled "bottom"
    let upW, upB = parameters["dec1.up.weight"], parameters["dec1.up.bias"]

    let g =
        if dims = 2 then
            torch.nn.functional.conv_transpose2d (bottom, upW, upB, strides = pad 2)
        else
            torch.nn.functional.conv_transpose3d (bottom, upW, upB, strides = pad 2)

    let a = conv e "att1.wx" 0
    let b = conv g "att1.wg" 0
    let hidden = (a + b).relu ()
    let alpha = (conv hidden "att1.psi" 0).sigmoid ()
    let merged = torch.cat ([| e * alpha; g |], 1L)
    conv (block merged "dec1") "head" 0

[<Tests>]
let attention =
    testList "Description.attention gate" [
        for dims in [ 2; 3 ] do
            test $"a gated skip computes what hand-written TorchSharp computes ({dims}-D)" {
                init ()
                use scope = torch.NewDisposeScope()
                torch.manual_seed 9L |> ignore

                let body =
                    chain [
                        sameBlock 4
                        gatedSkip 3 concat (chain [ down; sameBlock 6; up 4 ])
                        sameBlock 4
                        head 2
                    ]

                let spec = NetSpec(2, body, dims)
                use net = Network.Create(spec, "gated", torch.CPU)
                net.eval ()
                use _ = torch.no_grad ()

                let size =
                    if dims = 2 then
                        [| 1L; 2L; 16L; 12L |]
                    else
                        [| 1L; 2L; 8L; 12L; 6L |]

                let x = torch.randn size
                let mine = net.forward x
                let theirs = referenceForward net dims x
                Expect.sequenceEqual mine.shape theirs.shape "shape"
                Expect.isLessThanOrEqual (maxAbs mine theirs) 1e-5 "max |CropCat - reference|"

                let names = net.named_parameters () |> Seq.map (fun struct (n, _) -> n) |> Set.ofSeq

                Expect.isTrue
                    (Set.isSubset
                        (set [
                            "att1.wx.weight"
                            "att1.wg.weight"
                            "att1.wg.bias"
                            "att1.psi.weight"
                            "att1.psi.bias"
                        ])
                        names)
                    "gate names"

                Expect.equal (moduleCount net) spec.Parameters "the description counts the gate's parameters"
            }

        test "a gate on a pad-and-cat or add merge is refused, naming the merge" {
            let spec = net 1 (sameBlock 2 --> gatedSkip 2 add (sameBlock 2) --> head 1)
            Expect.stringContains (spec.Check().Message) "level 1 / merge: an attention gate needs a crop-and-cat or concat merge" "message"
        }
    ]
