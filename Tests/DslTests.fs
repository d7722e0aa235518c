/// Example tests of the F# DSL: facts about the paper net, agreement with the core, refusals, JSON.
module CropCat.Tests.DslTests

open System.IO
open Expecto
open TorchSharp
open CropCat.Dsl
open CropCat.Nets
open CropCat.Shapes
open CropCat.Architecture

let private ok what r =
    match r with
    | Ok v -> v
    | Error(e: InferError) -> failtestf "%s: unexpected refusal %s" what e.Message

let private err what r =
    match r with
    | Ok _ -> failtestf "%s: expected a refusal" what
    | Error(e: InferError) -> e

let private row (t: ShapeTrace) = t.Path, t.Kind, t.Output, t.Parameters

let private tinyForms = [
    [ 4; 8 ], UNet.paperForm
    [ 2; 4; 8 ], UNet.paperForm.With(up = UpMode.Bilinear, batchNorm = true, bottomDropout = 0.0)
    [ 3; 4; 5; 6 ], UNet.paperForm.With(inChannels = 3, classes = 1, padding = Padding.Same, merge = Merge.Concat)
    [ 2; 4; 8 ], UNet.paperForm.With(gate = 3)
]

[<Tests>]
let descriptionFacts =
    testList "Dsl.description" [
        testCase "the paper preset is the core's UNetOptions.Paper: one description, 31,030,658 parameters"
        <| fun () ->
            Expect.equal Presets.paper (UNet.Describe UNetOptions.Paper) "the same record"
            Expect.equal (ShapeCheck.parameters Presets.paper |> ok "params") 31_030_658L "paper parameter count"

        testCase "built networks have the description's parameter names and count"
        <| fun () ->
            for widths, form in ([ 64; 128; 256; 512; 1024 ], UNet.paperForm) :: tinyForms do
                let spec = UNet.unet widths form
                use net = Build.buildOn (Some torch.CPU) spec

                let count = net.parameters () |> Seq.sumBy (fun p -> p.numel ())
                Expect.equal count (ShapeCheck.parameters spec |> ok "count") $"count from the description for %A{widths}"
                Expect.equal net.Spec spec "the network carries its description"

                let names = net.named_parameters () |> Seq.map (fun struct (n, _) -> n) |> Set.ofSeq
                Expect.isTrue (names.Contains "enc1.conv1.weight" || names.Contains "enc1.bn1.weight") "encoder names"
                Expect.isTrue (names.Contains "head.weight") "head name"

                if form.Gate > 0 then
                    Expect.isTrue (names.Contains "att1.wx.weight" && names.Contains "att1.psi.bias") "attention gate names"
    ]

[<Tests>]
let paperFacts =
    testList "Dsl.paper" [
        testCase "Fig. 1 sizes level by level at 572"
        <| fun () ->
            let i = ShapeCheck.infer Presets.paper 572 |> ok "paper"

            let size path =
                (i.Rows |> Seq.find (fun r -> r.Path = path)).Output.Height
            // (level, contracting conv, conv, pool, expanding up, conv, conv) from the paper's table
            let table = [
                1, 570, 568, 284, 392, 390, 388
                2, 282, 280, 140, 200, 198, 196
                3, 138, 136, 68, 104, 102, 100
                4, 66, 64, 32, 56, 54, 52
            ]

            for k, c1, c2, pool, up, d1, d2 in table do
                let l = $"level {k}"

                Expect.equal
                    [
                        size $"{l} / enc / conv1"
                        size $"{l} / enc / conv2"
                        size $"{l} / down"
                        size $"{l} / up"
                        size $"{l} / dec / conv1"
                        size $"{l} / dec / conv2"
                    ]
                    [ c1; c2; pool; up; d1; d2 ]
                    l

            Expect.equal [ size "bottom / conv1"; size "bottom / conv2" ] [ 30; 28 ] "bottom"
            Expect.equal i.Output (Shape(2, 388, 388)) "output 388x388x2"

            let crops =
                i.Crops
                |> Seq.map (fun c -> c.Path, c.Source.Height, c.Target.Height)
                |> List.ofSeq

            Expect.equal
                crops
                [
                    "level 4 / merge", 64, 56
                    "level 3 / merge", 136, 104
                    "level 2 / merge", 280, 200
                    "level 1 / merge", 568, 392
                ]
                "skip crops"

        testCase "valid sizes: 188 + 16k, output = input - 184"
        <| fun () ->
            let s = ValidSizes.solve Presets.paper |> ok "solve"

            Expect.equal (List.ofSeq s.Progressions) [ Progression(188, 16, 4, 16) ] "closed form"

            Expect.equal (ValidSizes.smallest s) 188 "smallest"
            Expect.equal (ValidSizes.nearest s 570) 572 "nearest 570"
            Expect.equal (ValidSizes.nearest s 580) 588 "a tie goes up"
            Expect.equal (ValidSizes.inputFor s 388) (Some(572, 388)) "input for 388 is exact"
            Expect.equal (ValidSizes.inputFor s 390) (Some(588, 404)) "input for 390 covers it"
            Expect.equal (ValidSizes.outputOf s 570) None "570 is not valid"

            let margins =
                ValidSizes.cropMargins Presets.paper 572
                |> ok "crops"
                |> List.map (fun c -> c.Top, c.Bottom)

            Expect.equal margins [ 4, 4; 16, 16; 40, 40; 88, 88 ] "pixels cropped per side"

        testCase "carvana preset: any multiple of 16, output = input"
        <| fun () ->
            let s = ValidSizes.solve Presets.carvana |> ok "solve"

            Expect.equal (List.ofSeq s.Progressions) [ Progression(16, 16, 16, 16) ] "closed form"

            Expect.equal ((ShapeCheck.output Presets.carvana 256) |> ok "256") (Shape(1, 256, 256)) "same size, 1 class"
    ]

[<Tests>]
let refusals =
    testList "Dsl.refusals" [
        testCase "zero channels name the layer"
        <| fun () ->
            let e = ShapeCheck.check (UNet.unet [ 4; 0 ] UNet.paperForm) |> err "zero"
            Expect.equal e.Path "bottom" "path"
            Expect.stringContains e.Reason "got 0" "reason"
            let e = ShapeCheck.check (net 0 (block 4)) |> err "input"
            Expect.equal e.Path "input" "input channels"

        testCase "depth 0 is refused"
        <| fun () -> Expect.throwsT<System.ArgumentException> (fun () -> UNet.unet [ 64 ] UNet.paperForm |> ignore) "depth 0"

        testCase "concat of unequal sizes is refused before building, at the merge"
        <| fun () ->
            let net = UNet.unet [ 4; 8 ] (UNet.paperForm.With(merge = Merge.Concat))

            let e = Build.check net |> err "concat"
            Expect.equal e.Path "level 1 / merge" "path"
            Expect.stringContains e.Reason "concat needs equal sizes" "reason"
            Expect.throwsT<DescriptionException> (fun () -> Build.build net |> ignore) "build raises"

        testCase "a crop larger than its source is refused at the merge"
        <| fun () ->
            let net = net 1 (sameBlock 2 --> skip cropCat (sameBlock 2 --> up 2) --> head 1)

            let e = ShapeCheck.infer net 8 |> err "crop at 8"
            Expect.equal e.Path "level 1 / merge" "inference path"
            Expect.stringContains e.Reason "smaller than the body output" "inference reason"
            let e = Build.check net |> err "crop"
            Expect.equal e.Path "level 1 / merge" "build path"
            Expect.stringContains e.Reason "crop its skip input to a larger size" "build reason"

        testCase "an odd size names the pool that refuses it"
        <| fun () ->
            let e = ShapeCheck.infer Presets.paper 570 |> err "570"
            Expect.equal e.Message "level 2 / down: height 279 is odd; 2x2 max-pool needs even sizes" "message"
    ]

[<Tests>]
let freeForm =
    testList "Dsl.free form" [
        testCase "--> reads left to right and names layers from the structure"
        <| fun () ->
            let net =
                net
                    1
                    (block 4
                     --> block 4
                     --> skip cropCat (down --> block 8 --> up 4)
                     --> block 4
                     --> head 2)

            let paths =
                (ShapeCheck.infer net 64 |> ok "free").Rows
                |> Seq.map (fun r -> r.Path)
                |> List.ofSeq

            Expect.equal
                paths
                [
                    "level 1 / enc / conv1"
                    "level 1 / enc / conv2"
                    "level 1 / enc 2 / conv1"
                    "level 1 / enc 2 / conv2"
                    "level 1 / down"
                    "bottom / conv1"
                    "bottom / conv2"
                    "level 1 / up"
                    "level 1 / merge"
                    "level 1 / dec / conv1"
                    "level 1 / dec / conv2"
                    "head"
                ]
                "paths"

            use built = Build.buildOn (Some torch.CPU) net

            let names =
                built.named_parameters ()
                |> Seq.map (fun struct (n, _) -> n)
                |> Seq.filter (fun n -> n.EndsWith ".weight")
                |> List.ofSeq

            Expect.equal
                names
                [
                    "enc1.conv1.weight"
                    "enc1.conv2.weight"
                    "enc1_2.conv1.weight"
                    "enc1_2.conv2.weight"
                    "bottom.conv1.weight"
                    "bottom.conv2.weight"
                    "dec1.up.weight"
                    "dec1.conv1.weight"
                    "dec1.conv2.weight"
                    "head.weight"
                ]
                "unique scoped names"

        testCase "a net without skips or pools takes every size its convs allow"
        <| fun () ->
            let s = ValidSizes.solve (net 1 (block 2 --> head 1)) |> ok "plain"

            Expect.equal (List.ofSeq s.Progressions) [ Progression(5, 1, 1, 1) ] "n >= 5"
    ]

[<Tests>]
let json =
    let write (text: string) =
        let path =
            Path.Combine(Path.GetTempPath(), $"cropcat-dsl-{System.Guid.NewGuid():N}.json")

        File.WriteAllText(path, text)
        path

    testList "Dsl.json" [
        testCase "the unet form with defaults is the paper net"
        <| fun () ->
            let net =
                Json.parse """{ "inChannels": 1, "unet": { "widths": [64, 128, 256, 512, 1024] } }"""

            Expect.equal net Presets.paper "paper"

        testCase "the free form reads every layer kind"
        <| fun () ->
            let net =
                Json.parse
                    """{ "inChannels": 3, "layers": [ { "block": 8, "padding": "same", "batchNorm": true },
                           { "skip": "concat", "body": [ { "down": "strict" }, { "block": 16, "padding": "same", "dropout": 0.5 }, { "up": 8, "mode": "bilinear" } ] },
                           { "block": 8, "padding": "same" }, { "head": 2 } ] }"""

            let expected =
                chain [
                    BlockSpec(8, Padding.Same, true)
                    skip concat (chain [ down; BlockSpec(16, Padding.Same, false, 0.5); bilinearUp 8 ])
                    sameBlock 8
                    head 2
                ]

            Expect.equal net (NetSpec(3, expected)) "free form"

        testCase "a bad file is refused with its name, the place and the problem"
        <| fun () ->
            let path =
                write """{ "layers": [ { "block": 8 }, { "skip": "cropcat", "body": [ { "dwn": "strict" } ] } ] }"""

            let e = Expect.throwsC (fun () -> Json.load path |> ignore) id
            Expect.stringContains e.Message path "file name"
            Expect.stringContains e.Message "layers[1].body[0]" "where"
            Expect.stringContains e.Message "one of the keys" "problem"
            let e = Expect.throwsC (fun () -> Json.load (write "{ not json") |> ignore) id
            Expect.stringContains e.Message "not valid JSON" "syntax"
            let e = Expect.throwsC (fun () -> Json.load "/no/such/cropcat.json" |> ignore) id
            Expect.stringContains e.Message "/no/such/cropcat.json: no such file" "missing"
    ]
