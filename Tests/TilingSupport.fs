/// Shared helpers of the overlap-tile tests: tiny nets, a reference whole-image prediction.
module CropCat.Tests.TilingSupport

open CropCat.Inference
open CropCat.Nets
open CropCat.Shapes
open TorchSharp
open CropCat.Numerics
open CropCat.Architecture

/// A tiny U-Net in eval mode with a fixed seed.
let tinyNet (seed: int) (widths: int list) (padding: CropCat.Shapes.Padding) (up: UpMode) (inChannels: int) (classes: int) =
    CropCat.Runtime.NativeRuntime.EnsureLoaded()
    torch.manual_seed (int64 seed) |> ignore

    let net =
        UNet.Create(
            UNetOptions(InChannels = inChannels, Classes = classes, Widths = Array.ofList widths, Padding = padding, Up = up),
            torch.CPU
        )

    net.eval ()
    net

/// The smallest valid input edge >= n, found by asking the net (the test's own search, not the tiler's).
let smallestValidAtLeast (net: Network) (n: int) =
    Seq.initInfinite (fun k -> max 1 n + k)
    |> Seq.find (fun t ->
        try
            net.Infer(t, t) |> ignore
            true
        with :? ShapeException ->
            false)

/// Pixels a valid net loses per side, from its smallest valid input.
let marginOf (net: Network) =
    let t = smallestValidAtLeast net 1
    (t - net.Infer(t, t).Height) / 2

/// The law's right-hand side: one forward pass over the whole image, mirror-padded by the margin on the
/// top/left and far enough on the bottom/right to be a valid input, then cropped back to the image.
/// Returns (classes, H, W) logits. The mirror itself is checked against repeated flips in TilingMirror.
let wholeImageLogits (net: Network) (image: torch.Tensor) =
    let h, w = int image.shape[1], int image.shape[2]
    let m = marginOf net
    let ph = smallestValidAtLeast net (h + 2 * m)
    let pw = smallestValidAtLeast net (w + 2 * m)
    // Both edges must be valid together: probe the pair (the nets here are separable per axis).
    net.Infer(ph, pw) |> ignore
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    let padded = Mirror.Pad(image, m, ph - h - m, m, pw - w - m)
    let y = net.forward(padded.unsqueeze 0L).squeeze (0L)
    y.narrow(1L, 0L, int64 h).narrow(2L, 0L, int64 w).clone().MoveToOuterDisposeScope()

/// Largest absolute difference of two tensors.
let maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) =
    use d =
        (a.to_type torch.ScalarType.Float64 - b.to_type torch.ScalarType.Float64).abs().max ()

    d.item<float> ()

/// Tiled logits minus whole-image logits, largest absolute value; checks first that both have the image's shape.
let tiledGap (net: Network) (options: TileOptions) (image: torch.Tensor) =
    let tiled = OverlapTile(net, options).Predict image
    let whole = wholeImageLogits net image
    Expecto.Expect.sequenceEqual tiled.shape whole.shape "tiled and whole-image outputs have the image's shape"
    maxAbsDiff tiled whole
