// A custom net with the CropCat DSL: depth 3, same padding, bilinear up, batch norm, written with -->.
// Pack first (dotnet fsi build.fsx -t Pack writes the local feed out/feed, which nuget.config here names), then: dotnet fsi Examples/scripts/custom.fsx
#r "nuget: CropCat.Dsl, 0.1.0"
#r "nuget: libtorch-cpu-linux-x64, 2.10.0"

open TorchSharp
open CropCat.Dsl

CropCat.Runtime.NativeRuntime.EnsureLoaded()

// One level: encoder block, a skip around (down, inner, up), decoder block.
let level width inner =
    withBatchNorm (sameBlock width)
    --> skip concat (down --> inner --> bilinearUp width)
    --> withBatchNorm (sameBlock width)

let custom =
    net 3 (level 16 (level 32 (level 64 (withBatchNorm (sameBlock 128)))) --> head 2)

match Summary.render custom 128 with
| Ok table -> printfn "%s" table
| Error e -> failwith e.Message

match ValidSizes.solve custom with
| Ok sizes -> sizes.Progressions |> Seq.iter (printfn "valid sizes: %O")
| Error e -> failwith e.Message

// 100 is not a multiple of 8: inference says where it breaks, before any tensor exists.
match ShapeCheck.infer custom 100 with
| Ok _ -> ()
| Error e -> printfn "100x100 refused: %s" e.Message

let model = Build.build custom
model.eval ()

do
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()

    let y =
        model.forward (torch.rand ([| 2L; 3L; 128L; 128L |], device = CropCat.Runtime.Devices.Default))

    printfn "forward: 2x3x128x128 -> %A" y.shape
