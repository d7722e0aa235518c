/// PyTorch interop: the restricted unpickler, the key layouts, the loader's errors, the exporter,
/// and the bench's hand-written reference net.
module CropCat.Tests.InteropTests

open System
open System.IO
open System.IO.Compression
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open CropCat.Bench
open CropCat.Interop
open CropCat.Nets
open CropCat.Runtime
open CropCat.Shapes
open CropCat.Tests.TestUtil
open CropCat.Architecture


let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 25
}

/// Runs f and returns the exception of type 'e it throws; fails the test otherwise.
let private throws<'e when 'e :> exn> (f: unit -> unit) : 'e =
    try
        f ()
        failtestf "expected %s" typeof<'e>.Name
    with :? 'e as e ->
        e

/// Writes a .pt-shaped zip whose data.pkl is <paramref name="pickle"/>.
let private ptWith (pickle: byte[]) =
    let path = Path.Combine(Path.GetTempPath(), $"cropcat-{Guid.NewGuid():N}.pt")
    use zip = ZipFile.Open(path, ZipArchiveMode.Create)
    let e = zip.CreateEntry "archive/data.pkl"
    use s = e.Open()
    s.Write(pickle, 0, pickle.Length)
    path

/// pickle.dumps(os.system, protocol 2) followed by a call: what a malicious .pt carries.
let private evilPickle =
    Array.concat [
        [| 0x80uy; 2uy |]
        "cos\nsystem\n"B
        [| byte 'X'; 4uy; 0uy; 0uy; 0uy |]
        "echo"B
        [| 0x85uy; byte 'R'; byte '.' |]
    ]

let private genNet =
    gen {
        let! depth = Gen.choose (1, 4)
        let! bn = Gen.elements [ false; true ]
        let widths = Array.init (depth + 1) (fun i -> 2 <<< min i 2)
        return depth, bn, widths
    }

let private options (widths: int[]) bn =
    UNetOptions(
        InChannels = 1,
        Classes = 2,
        Widths = widths,
        BatchNorm = bn,
        Padding = (if bn then Padding.Same else Padding.Valid),
        Merge = (if bn then Merge.Concat else Merge.CropConcat)
    )

/// The smallest input edge the net takes, found with the shape algebra (Network.Infer).
let private validSize (net: Network) =
    Seq.initInfinite id
    |> Seq.skip 1
    |> Seq.find (fun n ->
        try
            net.Infer(n, n) |> ignore
            true
        with :? ShapeException ->
            false)

[<Tests>]
let tests =
    testSequenced
    <| testList "Interop" [
        test "the unpickler refuses a global that is not part of a state dict, naming it" {
            let ex =
                throws<PickleRefusedException> (fun () -> RestrictedUnpickler.Load(ReadOnlySpan evilPickle, "evil.pt") |> ignore)

            Expect.stringContains ex.Message "refused pickle global 'os.system'" "names the global"

            settle ()
        }

        test "a .pt with a code-running pickle is refused with the file name and the global in the message" {
            init ()
            let path = ptWith evilPickle

            try
                let ex =
                    throws<PickleRefusedException> (fun () -> TorchCheckpoint.Read path |> ignore)

                Expect.stringContains ex.Message "os.system" "names the refused global"
                Expect.stringContains ex.Message path "names the file"
            finally
                File.Delete path

            settle ()
        }

        test "a file that is not a zip is refused with a message about the legacy format" {
            init ()
            let path = Path.GetTempFileName()
            File.WriteAllBytes(path, [| 0x80uy; 2uy; byte 'N'; byte '.' |])

            try
                let ex =
                    throws<PickleRefusedException> (fun () -> TorchCheckpoint.Read path |> ignore)

                Expect.stringContains ex.Message "not a zip-format" "says what is wrong"
            finally
                File.Delete path

            settle ()
        }

        testTheory "a pickle of plain data is read: OrderedDict, ints, floats, strings, memo (protocols 2 and 5)" [
            // pickle.dumps(collections.OrderedDict([('a', 1), ('b', (2.5, 'x'))]), 2)
            "800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171024b0158010000006271034740040000000000005801000000787104867105752e"
            // the same with protocol 5 (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE)
            "8005953d000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161944b018c0162944740040000000000008c0178948694752e"
        ]
        <| fun (hex: string) ->
            let bytes = Convert.FromHexString hex
            let d = RestrictedUnpickler.Load(ReadOnlySpan bytes, "plain") :?> PickleDict
            Expect.equal d.Items.Count 2 "two entries"
            Expect.equal d.Items[0].Key (box "a") "first key"
            Expect.equal d.Items[0].Value (box 1L) "first value"
            let t = d.Items[1].Value :?> obj[]
            Expect.equal t[0] (box 2.5) "float"
            Expect.equal t[1] (box "x") "string"

        testTheory "milesial's mask_values: gray and colour label maps are read, anything else is not a label map" [
            // pickle.dumps([0, 1], 2), pickle.dumps([[0, 0, 0], [255, 255, 255]], 2), pickle.dumps([0.5, 1], 2)
            "80025d7100284b004b01652e", "[0, 1]", [ [ 0L ]; [ 1L ] ]
            "80025d7100285d7101284b004b004b00655d7102284bff4bff4bff65652e",
            "[[0, 0, 0], [255, 255, 255]]",
            [ [ 0L; 0L; 0L ]; [ 255L; 255L; 255L ] ]
            "80025d710028473fe00000000000004b01652e", "[0.5, 1]", []
        ]
        <| fun (hex: string, text: string, want: int64 list list) ->
            let v =
                RestrictedUnpickler.Load(ReadOnlySpan(Convert.FromHexString hex), "mask_values")

            Expect.equal (PickleValues.Describe v) text "described as Python prints it"

            let got =
                PickleValues.MaskValues v
                |> Option.ofObj
                |> Option.map (Seq.map List.ofArray >> List.ofSeq)

            Expect.equal got (if want.IsEmpty then None else Some want) "the label map"

        testPropertyWithConfig config "layout names round-trip: CropCat -> layout -> CropCat is the identity on every parameter"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen genNet) (fun (depth, bn, widths) ->
                use scope = torch.NewDisposeScope()
                use net = UNet.Create(options widths bn)

                let layout =
                    if bn then
                        StateDictLayout.Carvana
                    else
                        StateDictLayout.ReadingGroup

                net.state_dict().Keys
                |> Seq.forall (fun k ->
                    let there = StateDictLayouts.FromCropCat(k, layout, depth)
                    let back = StateDictLayouts.ToCropCat(there.Target, layout, depth)
                    back.Target = k && back.SwapInputHalves = there.SwapInputHalves))

        testPropertyWithConfig config "export to a layout, load back into a fresh net: the same function"
        <| fun () ->
            init ()

            Prop.forAll (Arb.fromGen genNet) (fun (depth, bn, widths) ->
                use scope = torch.NewDisposeScope()
                // The reading group's blocks end without a ReLU: its layout needs nets built that way.
                let o =
                    if bn then
                        options widths bn
                    else
                        (options widths bn).With(finalRelu = false)

                use a = UNet.Create o
                use b = UNet.Create o

                let layout =
                    if bn then
                        StateDictLayout.Carvana
                    else
                        StateDictLayout.ReadingGroup

                let exported = StateDictLoader.Export(a, layout)
                let used = StateDictLoader.LoadInto(b, exported)
                a.eval ()
                b.eval ()
                use _ = torch.no_grad ()
                let size = validSize b
                let x = randn 1 1 size size
                used.Layout = layout && torch.allclose (a.forward x, b.forward x, 1e-6, 1e-6))

        test "the channel swap is its own inverse and moves the halves" {
            init ()
            use scope = torch.NewDisposeScope()
            let w = torch.arange(24L).reshape (2L, 4L, 1L, 3L)
            let s = StateDictLoader.SwapInputHalves w
            Expect.equal (s.[0L, 0L, 0L, 0L].item<int64> ()) 6L "first input channel is the old third"
            Expect.isTrue ((StateDictLoader.SwapInputHalves s).eq(w).all().item<bool> ()) "involution"

            settle ()
        }

        test "one error lists missing, unexpected and mis-shaped keys with the source name" {
            init ()
            use scope = torch.NewDisposeScope()
            use net = UNet.Create(options [| 2; 4 |] false)
            let sd = StateDictLoader.Export(net, StateDictLayout.CropCat)
            sd.Remove "head.bias" |> ignore
            sd["extra.weight"] <- torch.zeros (1L)
            sd["enc1.conv1.weight"] <- torch.zeros (3L, 1L, 3L, 3L)

            let ex =
                throws<StateDictMismatchException> (fun () -> StateDictLoader.LoadInto(net, sd, StateDictLayout.CropCat, "w.pt") |> ignore)

            Expect.sequenceEqual ex.Missing [ "head.bias" ] "missing"
            Expect.sequenceEqual ex.Unexpected [ "extra.weight" ] "unexpected"
            Expect.equal ex.MisShaped.Count 1 "mis-shaped"
            Expect.stringContains ex.Message "w.pt" "names the source"
            Expect.stringContains ex.Message "enc1.conv1.weight -> enc1.conv1.weight: [3, 1, 3, 3] vs net [2, 1, 3, 3]" "shows both shapes"

            settle ()
        }

        test "the bench counts the paper net's forward as 300.857 GFLOP and a training step as 3x less the first conv's input gradient" {
            use paper = UNet.Paper()
            let trace = paper.Trace(572, 572)
            // Summed by hand over Fig. 1's shapes: 2*9*Cin*Cout*H*W per 3x3 conv, 2*Cin*Cout*H*W per up-conv and head.
            Expect.floatClose Accuracy.veryHigh (Flops.Forward(trace, 1)) 300856848896.0 "forward FLOP"

            Expect.floatClose
                Accuracy.veryHigh
                (Flops.TrainStep(trace, 1))
                (3.0 * 300856848896.0 - 2.0 * 9.0 * 64.0 * 570.0 * 570.0)
                "train FLOP"

            settle ()
        }

        test "the bench's hand-written reference nets (freeing early, holding, NCHW, channels-last) compute CropCat's function" {
            init ()
            use scope = torch.NewDisposeScope()
            torch.manual_seed 11L |> ignore
            let widths = [| 2; 4; 8 |]
            use net = UNet.Create(UNetOptions(InChannels = 1, Classes = 2, Widths = widths))
            net.eval ()
            use _ = torch.no_grad ()
            let x = randn 1 1 60 60
            let y = net.forward x

            for name, reference in
                [
                    "free early", ReferenceUNet.Create(1, 2, widths)
                    "hold", ReferenceUNet.Create(1, 2, widths, freeEarly = false)
                    "NCHW", ReferenceUNet.Create(1, 2, widths).WithLayout(MemoryLayout.Contiguous)
                    "channels-last", ReferenceUNet.Create(1, 2, widths).WithLayout(MemoryLayout.ChannelsLast)
                ] do
                reference.CopyFrom net

                reference.eval ()
                let d = (y - reference.forward x).abs().max().item<float32> ()
                reference.Dispose()
                // The layouts run other conv kernels that sum in another order, so the
                // outputs agree to float32 rounding relative to their size, not bit for bit.
                let scale = max 1.0f (y.abs().max().item<float32> ())
                Expect.isLessThan d (1e-4f * scale) $"same output ({name}), scale {scale}"

            settle ()
        }
    ]
