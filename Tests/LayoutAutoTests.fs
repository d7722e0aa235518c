/// The Auto memory layout: the tuner picks the faster candidate by median and remembers it (in memory
/// and in the cache file), and tuning inside a forward changes nothing the caller computes.
module CropCat.Tests.LayoutAutoTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Nets
open CropCat.Runtime
open TorchSharp
open CropCat.Tests.TestUtil
open CropCat.Architecture

/// Runs `f` with CROPCAT_LAYOUT_CACHE set to `path` and the tuner's memory cleared before and after.
let private withCache (path: string) f =
    let old = Environment.GetEnvironmentVariable "CROPCAT_LAYOUT_CACHE"
    Environment.SetEnvironmentVariable("CROPCAT_LAYOUT_CACHE", path)
    LayoutTuner.Reset()

    try
        f ()
    finally
        Environment.SetEnvironmentVariable("CROPCAT_LAYOUT_CACHE", old)
        LayoutTuner.Reset()

/// A timing function that answers from a queue per layout and counts its calls.
let private scripted (times: IDictionary<MemoryLayout, float list>) =
    let queues = Dictionary<MemoryLayout, Queue<float>>()

    for KeyValue(l, ts) in times do
        queues[l] <- Queue ts

    let calls = ref 0

    let f (l: MemoryLayout) =
        calls.Value <- calls.Value + 1
        queues[l].Dequeue()

    f, calls

let private median (xs: float list) =
    let s = List.sort xs |> Array.ofList

    if s.Length % 2 = 1 then
        s[s.Length / 2]
    else
        (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2.0

let private positive = Gen.choose (1, 1000) |> Gen.map (fun i -> float i / 100.0)

[<Tests>]
let tests =
    testSequenced
    <| testList "Layout.Auto" [
        testPropertyWithConfig
            {
                FsCheckConfig.defaultConfig with
                    maxTest = 50
            }
            "the tuner picks the lower median of the timed passes, ignores the warm-up, and times a case once"
        <| Prop.forAll (Arb.fromGen (Gen.listOfLength 8 positive)) (fun ts ->
            withCache "off" (fun () ->
                let nchw, cl = ts[..3], ts[4..]

                let f, calls =
                    scripted (dict [ MemoryLayout.Contiguous, nchw; MemoryLayout.ChannelsLast, cl ])

                let key = $"test {Guid.NewGuid()}"
                let c = LayoutTuner.Choose(key, Func<_, _> f)
                // The first pass of each is the warm-up.
                let mN, mC = median nchw[1..], median cl[1..]

                let expected =
                    if mC < mN then
                        MemoryLayout.ChannelsLast
                    else
                        MemoryLayout.Contiguous

                let again = LayoutTuner.Choose(key, Func<_, _>(fun _ -> failwith "timed twice"))

                c.Layout = expected
                && abs (c.ContiguousMs - 1000.0 * mN) < 1e-9
                && abs (c.ChannelsLastMs - 1000.0 * mC) < 1e-9
                && calls.Value = 8
                && again = c))

        test "choices persist in the cache file for a new process; a corrupt file is ignored and rewritten" {
            let path = Path.Combine(tempDir (), "layouts.json")

            withCache path (fun () ->
                let f, _ =
                    scripted (
                        dict [
                            MemoryLayout.Contiguous, [ 1.; 1.; 1.; 1. ]
                            MemoryLayout.ChannelsLast, [ 2.; 2.; 2.; 2. ]
                        ]
                    )

                LayoutTuner.Choose("case A", Func<_, _> f) |> ignore
                Expect.isTrue (File.Exists path) "cache written"
                Expect.stringContains (File.ReadAllText path) "case A" "the case is in it")

            withCache path (fun () ->
                // A new process: nothing in memory, the file answers without timing.
                let c = LayoutTuner.Known "case A"
                Expect.isNotNull (box c) "known from the file"
                Expect.equal c.Layout MemoryLayout.Contiguous "the stored choice"
                Expect.isTrue c.FromCache "marked as read from the cache")

            File.WriteAllText(path, "{ not json")

            withCache path (fun () ->
                Expect.isNull (box (LayoutTuner.Known "case A")) "a corrupt cache counts as empty"

                let f, _ =
                    scripted (
                        dict [
                            MemoryLayout.Contiguous, [ 2.; 2.; 2.; 2. ]
                            MemoryLayout.ChannelsLast, [ 1.; 1.; 1.; 1. ]
                        ]
                    )

                LayoutTuner.Choose("case B", Func<_, _> f) |> ignore)

            withCache path (fun () ->
                Expect.equal (LayoutTuner.Known "case B").Layout MemoryLayout.ChannelsLast "rewritten with the new case")
        }

        test "a choice timed on a busy machine holds for the process but is not written to the cache file" {
            let path = Path.Combine(tempDir (), "layouts.json")

            withCache path (fun () ->
                // NCHW's passes spread 1.0 .. 1.5 s (50%): something else ran beside the timing.
                let f, _ =
                    scripted (
                        dict [
                            MemoryLayout.Contiguous, [ 1.; 1.; 1.5; 1. ]
                            MemoryLayout.ChannelsLast, [ 2.; 2.; 2.; 2. ]
                        ]
                    )

                let c = LayoutTuner.Choose("busy case", Func<_, _> f)
                Expect.equal c.Layout MemoryLayout.Contiguous "the faster median still decides this process"
                Expect.isFalse c.Steady "marked unsteady"
                Expect.equal (LayoutTuner.Known "busy case") c "remembered in memory")

            withCache path (fun () ->
                Expect.isNull (box (LayoutTuner.Known "busy case")) "a new process does not inherit it"

                let f, calls =
                    scripted (
                        dict [
                            MemoryLayout.Contiguous, [ 2.; 2.; 2.; 2. ]
                            MemoryLayout.ChannelsLast, [ 1.; 1.; 1.; 1. ]
                        ]
                    )

                let c = LayoutTuner.Choose("busy case", Func<_, _> f)
                Expect.equal calls.Value 8 "timed again"
                Expect.equal c.Layout MemoryLayout.ChannelsLast "the steady measurement decides"
                Expect.isTrue c.Steady "steady")

            withCache path (fun () ->
                Expect.equal (LayoutTuner.Known "busy case").Layout MemoryLayout.ChannelsLast "and only it was cached")
        }

        test "a case another process cached after this one read the file is taken from the file, not timed again" {
            let path = Path.Combine(tempDir (), "layouts.json")

            withCache path (fun () ->
                Expect.isNull (box (LayoutTuner.Known "late case")) "not known when this process first read the file"

                let entry =
                    $"{{ \"{LayoutTuner.MachineKey}|late case\": {{ \"Layout\": \"ChannelsLast\", \"ContiguousMs\": 2.0, \"ChannelsLastMs\": 1.0 }} }}"

                File.WriteAllText(path, entry)

                let c =
                    LayoutTuner.Choose("late case", Func<_, _>(fun _ -> failwith "timed although cached"))

                Expect.equal c.Layout MemoryLayout.ChannelsLast "the other process's choice"
                Expect.isTrue c.FromCache "read from the file")
        }

        test "the machine key names the allocator setting, which changes the layouts' times" {
            Expect.stringContains LayoutTuner.MachineKey "|heap " "heap kept or trimmed is part of the key"
        }

        test "under Auto a training forward tunes without touching gradients, batch-norm statistics or the generator" {
            init ()

            withCache "off" (fun () ->
                let options =
                    UNetOptions(Widths = [| 3; 6 |], BatchNorm = true, BottomDropout = 0.5)

                let step (layout: MemoryLayout option) =
                    torch.manual_seed 21L |> ignore
                    let net = UNet.Create(options, torch.CPU)

                    match layout with
                    | Some l -> net.Layout <- l
                    | None -> Expect.equal net.Layout MemoryLayout.Auto "Auto is the default"

                    net.train () |> ignore
                    use x = torch.rand (1L, 1L, 44L, 44L)
                    use y = net.forward x
                    use loss = (y * y).mean ()
                    loss.backward ()
                    let after = torch.rand(4L).data<float32>().ToArray()

                    let grads =
                        net.parameters ()
                        |> Seq.map (fun p -> p.grad.contiguous().data<float32>().ToArray())
                        |> List.ofSeq

                    let buffers =
                        net.buffers ()
                        |> Seq.map (fun b -> b.contiguous().to_type(torch.ScalarType.Float64).data<float>().ToArray())
                        |> List.ofSeq

                    net, (grads, buffers, after, parameterValues net)

                let auto, a = step None
                let choice = auto.LayoutChoiceFor([| 1L; 1L; 44L; 44L |], true)
                Expect.isNotNull (box choice) "a choice was made for this case"
                Expect.equal auto.ActiveLayout choice.Layout "the net runs the chosen layout"
                let _, b = step (Some choice.Layout)
                let ga, ba, ra, wa = a
                let gb, bb, rb, wb = b
                Expect.equal ra rb "the generator continues as without tuning"
                Expect.equal ba bb "batch-norm running statistics updated once"
                Expect.equal ga gb "gradients of one backward"
                Expect.equal wa wb "weights unchanged")
        }

        test "Auto keeps inference and training choices apart and the summary names them" {
            init ()

            withCache "off" (fun () ->
                torch.manual_seed 3L |> ignore
                use net = UNet.Create(UNetOptions(Widths = [| 2; 4 |]), torch.CPU)
                net.eval () |> ignore

                using (torch.no_grad ()) (fun _ ->
                    use _ = net.forward (torch.rand (1L, 1L, 36L, 36L))
                    ())

                Expect.isNotNull (box (net.LayoutChoiceFor([| 1L; 1L; 36L; 36L |], false))) "inference case known"
                Expect.isNull (box (net.LayoutChoiceFor([| 1L; 1L; 36L; 36L |], true))) "training case not run yet"
                let text = Summary.Render(net, 36, 36)
                Expect.stringContains text "Memory layout: Auto" "policy"
                Expect.stringContains text "inference 1x1x36x36" "the choice made")
        }
    ]

[<Tests>]
let fmaPeak =
    test "the FMA peak probe measures each instruction set the CPU has, and only those" {
        let r = CropCat.Bench.FmaPeak.Measure(1, 1_200_000L)
        let has512 = Runtime.Intrinsics.X86.Avx512F.IsSupported
        let hasFma = Runtime.Intrinsics.X86.Fma.IsSupported
        Expect.equal (Double.IsFinite r.Avx512 && r.Avx512 > 0.0) has512 $"AVX-512 figure {r.Avx512}"
        Expect.equal (Double.IsFinite r.Avx2 && r.Avx2 > 0.0) hasFma $"AVX2 figure {r.Avx2}"
        Expect.equal r.Best (max (if has512 then r.Avx512 else 0.0) (if hasFma then r.Avx2 else 0.0)) "best of the two"
    }
