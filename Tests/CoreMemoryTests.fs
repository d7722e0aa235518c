/// Forward passes in a loop hold steady process memory.
module CropCat.Tests.CoreMemoryTests

open System
open Expecto
open TorchSharp
open CropCat.Nets
open CropCat.Tests.TestUtil
open CropCat.Architecture

[<Tests>]
let tests =
    testList "Core.Memory" [
        testCase "50 forwards of a small net in dispose scopes hold steady memory"
        <| fun () ->
            init ()
            let net = UNet.Create(UNetOptions(Widths = [| 8; 16; 32 |]), torch.CPU)
            net.eval ()

            let run () =
                use scope = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                net.forward (torch.randn (1L, 1L, 188L, 188L)) |> ignore
            // Each pass allocates ~10 MiB of activations: a leak of even one would add ~500 MiB.
            for _ in 1..10 do
                run ()

            GC.Collect()
            let before = rssMiB ()

            for _ in 1..50 do
                run ()

            GC.Collect()
            let after = rssMiB ()
            Expect.isLessThan (after - before) 40.0 $"RSS grew from {before:F0} to {after:F0} MiB"
    ]
