/// Facts of the paper's network (Fig. 1), built with the C# core alone.
module CropCat.Tests.CorePaperNetTests

open System.Linq
open Expecto
open TorchSharp
open CropCat.Nets
open CropCat.Shapes
open CropCat.Tests.TestUtil
open CropCat.Architecture

let private paper =
    lazy
        (init ()
         UNet.Paper(torch.CPU))

/// Edge length of the trace row at `path`.
let private size (rows: ShapeTrace seq) path =
    match rows |> Seq.tryFind (fun r -> r.Path = path) with
    | Some r -> r.Output.Height
    | None -> failtestf "no trace row %s" path

let private refusal (net: Network) n =
    try
        net.Infer(n, n) |> ignore
        None
    with :? ShapeException as e ->
        Some e.Message

[<Tests>]
let tests =
    testList "Core.PaperNet" [
        testCase "Fig. 1 sizes, level by level, for 572x572"
        <| fun () ->
            let rows = paper.Value.Trace(572, 572)
            let s = size rows
            // contracting: conv, conv, pool
            for (lvl, a, b, p) in [ 1, 570, 568, 284; 2, 282, 280, 140; 3, 138, 136, 68; 4, 66, 64, 32 ] do
                Expect.equal (s $"level {lvl} / enc / conv1") a $"level {lvl} conv1"
                Expect.equal (s $"level {lvl} / enc / conv2") b $"level {lvl} conv2"
                Expect.equal (s $"level {lvl} / down") p $"level {lvl} pool"

            Expect.equal (s "bottom / conv1") 30 "bottom conv1"
            Expect.equal (s "bottom / conv2") 28 "bottom conv2"
            // expanding: up, (crop to this size and cat), conv, conv
            for (lvl, u, a, b) in [ 4, 56, 54, 52; 3, 104, 102, 100; 2, 200, 198, 196; 1, 392, 390, 388 ] do
                Expect.equal (s $"level {lvl} / up") u $"level {lvl} up"
                Expect.equal (s $"level {lvl} / merge") u $"level {lvl} skip crop target"
                Expect.equal (s $"level {lvl} / dec / conv1") a $"level {lvl} dec conv1"
                Expect.equal (s $"level {lvl} / dec / conv2") b $"level {lvl} dec conv2"

            let out = rows.Last().Output
            Expect.equal (out.Channels, out.Height, out.Width) (2, 388, 388) "output 388x388x2"

            Expect.equal
                (rows
                 |> Seq.filter (fun r -> r.Kind.StartsWith "Conv" || r.Kind.StartsWith "Up" || r.Kind.StartsWith "Head")
                 |> Seq.length)
                23
                "23 convolutional layers"

        testCase "31,030,658 parameters, by the rules and by the registered tensors"
        <| fun () ->
            Expect.equal paper.Value.ParameterCount 31030658L "from the hyperparameters"
            let registered = paper.Value.parameters () |> Seq.sumBy (fun p -> p.numel ())
            Expect.equal registered 31030658L "sum over parameters()"

        testCase "573 is refused before any tensor is allocated, naming the layer"
        <| fun () ->
            Expect.equal (refusal paper.Value 573) (Some "level 1 / down: height 569 is odd; 2x2 max-pool needs even sizes") "573"
            Expect.equal (refusal paper.Value 294) (Some "level 2 / down: height 141 is odd; 2x2 max-pool needs even sizes") "294"

            Expect.equal
                (refusal paper.Value 172)
                (Some "level 3 / dec / conv2: height 2 is below 3; an unpadded 3x3 convolution needs at least 3")
                "172"

            use x = torch.zeros (1L, 1L, 573L, 573L)
            Expect.throwsT<ShapeException> (fun () -> paper.Value.forward x |> ignore) "forward refuses too"

        testCase "the smallest valid input 188 gives 4x4 through the real modules"
        <| fun () ->
            use scope = torch.NewDisposeScope()
            use _ = torch.no_grad ()
            paper.Value.eval ()
            let y = paper.Value.forward (torch.randn (1L, 1L, 188L, 188L))
            Expect.equal y.shape [| 1L; 2L; 4L; 4L |] "188 -> 4"

        testCase "parameter names are readable and stable"
        <| fun () ->
            let names =
                paper.Value.named_parameters () |> Seq.map (fun struct (n, _) -> n) |> Set.ofSeq

            for n in
                [
                    "enc1.conv1.weight"
                    "enc1.conv1.bias"
                    "enc4.conv2.weight"
                    "bottom.conv1.weight"
                    "dec3.up.weight"
                    "dec3.conv1.weight"
                    "dec1.conv2.bias"
                    "head.weight"
                    "head.bias"
                ] do
                Expect.isTrue (names.Contains n) $"has {n}"

            Expect.equal names.Count 46 "23 convs x (weight, bias)"
            let again = UNet.Create(UNetOptions(Widths = [| 2; 4; 8 |]), torch.CPU)

            let names2 =
                again.named_parameters () |> Seq.map (fun struct (n, _) -> n) |> List.ofSeq

            let again2 = UNet.Create(UNetOptions(Widths = [| 2; 4; 8 |]), torch.CPU)
            Expect.sequenceEqual (again2.named_parameters () |> Seq.map (fun struct (n, _) -> n)) names2 "same names on every build"

        testCase "train/eval reaches every child, batch norm and dropout included"
        <| fun () ->
            init ()

            let net =
                UNet.Create(UNetOptions(Widths = [| 2; 4; 8 |], BatchNorm = true, BottomDropout = 0.5), torch.CPU)

            let all () = net.modules () |> List.ofSeq
            Expect.isGreaterThan (all () |> List.filter (fun m -> m :? Modules.BatchNorm2d) |> List.length) 0 "has batch norm"
            Expect.isGreaterThan (all () |> List.filter (fun m -> m :? Modules.Dropout) |> List.length) 0 "has dropout"
            net.eval ()
            Expect.isTrue (all () |> List.forall (fun m -> not m.training)) "eval everywhere"
            net.train ()
            Expect.isTrue (all () |> List.forall (fun m -> m.training)) "train everywhere"

        testCase "the paper's initialisation: std sqrt(2/N)"
        <| fun () ->
            let w =
                paper.Value.named_parameters ()
                |> Seq.pick (fun struct (n, p) -> if n = "enc2.conv2.weight" then Some p else None)

            let std = w.std().item<float32> ()
            let expected = sqrt (2.0 / (9.0 * 128.0))
            Expect.floatClose { absolute = 0.0; relative = 0.02 } (float std) expected "N = 9 * 128"
    ]
