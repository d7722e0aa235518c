/// Networks stored in checkpoints: the description kinds the DSL can rebuild.
namespace CropCat.Dsl

open CropCat.IO
open CropCat.Nets

/// Rebuilds the network a checkpoint describes. The core knows the "UNet" kind (UNetOptions JSON);
/// descriptions written in the DSL's JSON form (see `Json`) are stored under the kind `Stored.DslKind`
/// with the description text as given, and rebuilt here by parsing it again, because the core cannot
/// depend on F#. Every kind a CropCat checkpoint can hold is dispatched in this one place.
[<RequireQualifiedAccess>]
module Stored =
    /// The kind of descriptions in the DSL's JSON form.
    [<Literal>]
    let DslKind = "CropCat.Dsl"

    /// The checkpoint description of a DSL JSON description; the text is parsed first, so a bad one
    /// fails now rather than when the checkpoint is loaded.
    /// <exception cref="Json.JsonDescriptionException">The text is not a description.</exception>
    let ofJson (text: string) : NetworkDescription =
        Json.parse text |> ignore
        NetworkDescription(DslKind, text)

    /// Builds the (untrained) network of `description` on the default device.
    /// <exception cref="System.IO.InvalidDataException">An unknown kind or a description that does not parse or build.</exception>
    let build (description: NetworkDescription) : Network =
        try
            match description.Kind with
            | NetworkDescription.UNetKind -> description.BuildUNet()
            | DslKind -> Json.parse description.Json |> Build.build
            | other ->
                raise (System.IO.InvalidDataException $"unknown network kind '{other}' (known: {NetworkDescription.UNetKind}, {DslKind})")
        with
        | Json.JsonDescriptionException(where, problem) ->
            raise (System.IO.InvalidDataException $"the stored {DslKind} description is malformed at {where}: {problem}")
        | DescriptionException e -> raise (System.IO.InvalidDataException $"the stored description cannot be built: {e.Message}")
        | :? System.InvalidOperationException as e -> raise (System.IO.InvalidDataException e.Message)

    /// Reads the checkpoint at `path`, rebuilds its network and loads the weights (no optimizer state).
    /// The caller owns the network.
    /// <exception cref="System.IO.FileNotFoundException">No such file.</exception>
    /// <exception cref="SafetensorsException">A corrupt file or not a CropCat checkpoint.</exception>
    /// <exception cref="System.IO.InvalidDataException">The stored description cannot be rebuilt (the message names the file).</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not fit the rebuilt network.</exception>
    let load (path: string) : Network * CheckpointInfo =
        let info = Checkpoint.ReadInfo path

        let net =
            try
                build info.Architecture
            with :? System.IO.InvalidDataException as e ->
                raise (System.IO.InvalidDataException $"checkpoint {path}: {e.Message}")

        try
            net, Checkpoint.Load(path, net)
        with _ ->
            net.Dispose()
            reraise ()
