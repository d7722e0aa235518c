/// Turns a checked description into a core network.
namespace CropCat.Dsl

[<assembly: System.Runtime.CompilerServices.InternalsVisibleTo("CropCat.Tests")>]
do ()

open CropCat.Nets

/// A description that cannot be built: which one and why.
exception DescriptionException of InferError with
    override e.Message = e.Data0.Message

/// Builds CropCat networks from descriptions.
module Build =
    /// Checks `net`: refused when some layer cannot work at any size (zero channels, bad dropout) or
    /// when no input size at all passes inference (e.g. concat of unequal sizes, a crop larger than its
    /// source); the message then gives the refusal at the size that got furthest through the net.
    let check (net: Net) : Result<unit, InferError> =
        ShapeCheck.check net
        |> Result.bind (fun _ -> ValidSizes.solve net |> Result.map ignore)

    /// The network without the size checks of `check` (channels are still checked), so tests can
    /// show what libtorch itself does with a description inference refuses.
    let internal unchecked (net: Net) : Network =
        match net.Check() with
        | null -> new Network(net, "CropCat")
        | e -> raise (DescriptionException e)

    /// Builds `net` as a core `Network` on `device` (default: `CropCat.Runtime.Devices.Default`).
    /// <exception cref="DescriptionException">The description cannot work; the message names the layer.</exception>
    let buildOn (device: TorchSharp.torch.Device option) (net: Net) : Network =
        match check net with
        | Error e -> raise (DescriptionException e)
        | Ok() -> Network.Create(net, "CropCat", Option.toObj device)

    /// Builds `net` on the default device. See `buildOn`.
    let build (net: Net) : Network = buildOn None net
