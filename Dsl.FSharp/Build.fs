/// Turns a checked description into core modules.
namespace CropCat.Dsl

[<assembly: System.Runtime.CompilerServices.InternalsVisibleTo("CropCat.Tests")>]
do ()

open CropCat.Layers
open CropCat.Nets
open CropCat.Shapes
open TorchSharp

/// A description that cannot be built: which one and why.
exception DescriptionException of InferError with
    override e.Message = e.Data0.Message

/// Builds CropCat networks from descriptions.
module Build =
    /// The core layer tree for a named description whose input has `inChannels` channels.
    /// Every trainable module gets its explicit scope (enc2, dec2, bottom, head), so the
    /// `Network` registers it under a stable, readable name.
    let rec private layer (inC: int) (node: Named) : Layer * int =
        match node with
        | NBlock(p, scope, w, pad, bn, d) -> ConvBlock(p, scope, inC, w, pad, bn, d) :> Layer, w
        | NDown(p, pool) -> MaxPoolDown(p, pool) :> Layer, inC
        | NUp(p, scope, w, mode) -> CropCat.Layers.Up(p, scope, inC, w, mode) :> Layer, w
        | NHead(p, scope, k) -> CropCat.Layers.Head(p, scope, inC, k) :> Layer, k
        | NSkip(p, merge, body) ->
            let b, c = layer inC body
            CropCat.Layers.Skip(p, b, merge) :> Layer, (if merge = Merge.Add then c else inC + c)
        | NSeq(p, items) ->
            let layers, c =
                items
                |> List.fold
                    (fun (acc, c) n ->
                        let l, c' = layer c n
                        l :: acc, c')
                    ([], inC)

            Chain(p, Array.ofList (List.rev layers)) :> Layer, c

    /// Checks `net` and builds its layer tree, or says what and where is wrong. A description is
    /// refused when some layer cannot work at any size (zero channels, bad dropout) or when no input
    /// size at all passes inference (e.g. concat of unequal sizes, a crop larger than its source);
    /// the message then gives the refusal at the size that got furthest through the net.
    let tryLayers (net: Net) : Result<Layer, InferError> =
        Inference.check net
        |> Result.bind (fun named -> ValidSizes.solve net |> Result.map (fun _ -> fst (layer net.InChannels named)))

    /// The network without the size checks of `tryLayers` (channels are still checked), so tests can
    /// show what libtorch itself does with a description inference refuses.
    let internal unchecked (net: Net) : Network =
        match Inference.check net with
        | Error e -> raise (DescriptionException e)
        | Ok named -> new Network(fst (layer net.InChannels named), net.InChannels, "CropCat")

    /// Builds `net` as a core `Network` on `device` (default: `CropCat.Runtime.Devices.Default`).
    /// <exception cref="DescriptionException">The description cannot work; the message names the layer.</exception>
    let buildOn (device: TorchSharp.torch.Device option) (net: Net) : Network =
        match tryLayers net with
        | Error e -> raise (DescriptionException e)
        | Ok root ->
            let network = new Network(root, net.InChannels, "CropCat")
            network.``to`` (defaultArg device CropCat.Runtime.Devices.Default) |> ignore
            network

    /// Builds `net` on the default device. See `buildOn`.
    let build (net: Net) : Network = buildOn None net
