// The paper's Fig. 1 U-Net with the CropCat DSL: summary, valid sizes, one forward pass.
// Pack first (dotnet fsi build.fsx -t Pack writes the local feed out/feed, which nuget.config here names), then: dotnet fsi Examples/scripts/paper.fsx
#r "nuget: CropCat.Dsl, 0.1.0"
#r "nuget: libtorch-cpu-linux-x64, 2.10.0"

open TorchSharp
open CropCat.Dsl

CropCat.Runtime.NativeRuntime.EnsureLoaded()

// The same net as Presets.paper, written out: widths top to bottom, the paper's options.
let net = UNet.unet [ 64; 128; 256; 512; 1024 ] UNet.paperForm

match Summary.render net 572 with
| Ok table -> printfn "%s" table
| Error e -> failwith e.Message

match ValidSizes.solve net with
| Ok sizes ->
    for p in sizes.Progressions do
        printfn "valid sizes: %O" p

    printfn "nearest to 500: %d; input for a 256 output: %A" (ValidSizes.nearest sizes 500) (ValidSizes.inputFor sizes 256)
| Error e -> failwith e.Message

// Forward pass on a random tile (eval mode, no gradients, tensors freed by the scope).
let model = Build.build net
model.eval ()

do
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()

    let y =
        model.forward (torch.rand ([| 1L; 1L; 572L; 572L |], device = CropCat.Runtime.Devices.Default))

    printfn "forward: 1x1x572x572 -> %A" y.shape
