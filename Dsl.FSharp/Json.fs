/// The JSON form of descriptions (the core's `SpecJson`), for the CLI's --description.
namespace CropCat.Dsl

open CropCat.Architecture

/// Reads and writes descriptions as JSON; the form is documented on `CropCat.Architecture.SpecJson`.
module Json =
    /// A malformed description: `Where` is the JSON path ("layers[2].body[0]"), `Problem` what is wrong.
    exception JsonDescriptionException of where: string * problem: string

    /// Parses a description from JSON text.
    /// <exception cref="JsonDescriptionException">The text is not a description; says where and why.</exception>
    let parse (text: string) : Net =
        try
            SpecJson.Parse text
        with :? DescriptionJsonException as e ->
            raise (JsonDescriptionException(e.Where, e.Problem))

    /// Loads a description from `path`; errors name the file and the problem.
    /// <exception cref="System.IO.InvalidDataException">The file is missing, unreadable or not a description.</exception>
    let load (path: string) : Net = SpecJson.Load path

    /// The free JSON form of `net` (what checkpoints store).
    let write (net: Net) : string = SpecJson.Write net
