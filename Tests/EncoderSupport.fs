/// Small ResNet U-Nets (smp's structure, a few channels) and torchvision-key weight files for the encoder tests.
module CropCat.Tests.EncoderSupport

open System.Collections.Generic
open System.IO
open TorchSharp
open CropCat.Architecture
open CropCat.Data
open CropCat.Nets
open CropCat.Tests.TestUtil

/// smp's U-Net structure (ResNetUNets.Describe) with one BasicBlock per stage and 8..64 channels: seconds, not minutes.
let tinySpec (inChannels: int) (classes: int) (normalization: InputNormalization) =
    let stages = [| for i in 0..3 -> ResNetStageSpec(i + 1, 1, 8 <<< i) |]
    let mutable inner: Spec = ChainSpec(stages[3], NearestUpSpec())

    for s in 2..-1..0 do
        inner <- ChainSpec(stages[s], BodyFirstSkipSpec(inner), SmpDecoderBlockSpec(2 - s, 8), NearestUpSpec())

    let body =
        ChainSpec(
            ResNetStemSpec(8),
            BodyFirstSkipSpec(inner),
            SmpDecoderBlockSpec(3, 8),
            NearestUpSpec(),
            SmpDecoderBlockSpec(4, 8),
            SmpHeadSpec(classes)
        )

    NetSpec(inChannels, body, Normalization = normalization)

/// A tiny ResNet U-Net on the CPU, weights drawn under `seed`.
let tinyNet (seed: int) (inChannels: int) (classes: int) (normalization: InputNormalization) =
    init ()
    torch.manual_seed (int64 seed) |> ignore
    Network.Create(tinySpec inChannels classes normalization, device = torch.CPU)

/// Gray synthetic cell samples of `size` x `size`, 0/1 classes.
let cells (first: int) (n: int) (size: int) =
    ResizeArray [
        for i in 0 .. n - 1 ->
            SyntheticCells.Generate(first + i, SyntheticCellsOptions(Height = size, Width = size, MinRadius = 4.0, MaxRadius = 8.0))
    ]

/// Every parameter (or buffer) of `net` whose name starts with `prefix`, by name, as float arrays.
let valuesOf (net: Network) (prefix: string) =
    net.state_dict ()
    |> Seq.filter (fun kv -> kv.Key.StartsWith prefix && kv.Value.dtype = torch.float32)
    |> Seq.map (fun kv -> kv.Key, kv.Value.detach().cpu().contiguous().data<float32>().ToArray())
    |> Map.ofSeq

/// A torchvision-style ResNet state dict for `encoder` (keys conv1.weight, layer1.0.bn1.running_mean, ..., fc.*),
/// random values under `seed`, written as .safetensors; returns the file and the tensors.
let torchvisionWeights (encoder: ResNetEncoder) (seed: int) =
    init ()
    use trunk = new Network(ResNetUNets.Encoder encoder)
    let rng = System.Random seed
    let u () = float32 (rng.NextDouble())

    let n () =
        float32 (
            sqrt (-2.0 * log (1.0 - rng.NextDouble()))
            * cos (2.0 * System.Math.PI * rng.NextDouble())
        )

    let filled (shape: int64[]) (f: unit -> float32) =
        torch.tensor(Array.init (int (Array.fold (*) 1L shape)) (fun _ -> f ())).reshape shape

    let d = Dictionary<string, torch.Tensor>()

    for KeyValue(k, t) in trunk.state_dict () do
        let key = k.Substring ResNetUNets.EncoderPrefix.Length
        let shape = t.shape

        d[key] <-
            if t.dtype = torch.int64 then
                torch.zeros (shape, dtype = torch.int64)
            elif key.EndsWith "running_var" then
                filled shape (fun () -> 0.5f + u ())
            elif key.EndsWith "running_mean" || key.EndsWith "bias" then
                filled shape (fun () -> 0.1f * n ())
            elif shape.Length = 1 then
                filled shape (fun () -> 0.5f + 0.5f * u ())
            else
                let fan = shape[1..] |> Array.fold (*) 1L |> float32
                filled shape (fun () -> n () / sqrt fan)

    let features = if encoder = ResNetEncoder.ResNet50 then 2048L else 512L
    d["fc.weight"] <- filled [| 1000L; features |] (fun () -> 0.01f * n ())
    d["fc.bias"] <- torch.zeros ([| 1000L |])
    let path = Path.Combine(tempDir (), "resnet-imagenet.safetensors")
    CropCat.IO.Safetensors.Write(path, d, null)
    path, d
