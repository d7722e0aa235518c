/// A small JSON form of descriptions, for the CLI's --description.
namespace CropCat.Dsl

open System
open System.IO
open System.Text.Json
open CropCat.Shapes

/// Reads descriptions from JSON. Two forms (keys are case-sensitive, lower camel case):
///
/// The U-Net form:
///   { "inChannels": 1,
///     "unet": { "widths": [64, 128, 256, 512, 1024], "classes": 2, "padding": "valid",
///               "up": "transposed", "pool": "strict", "batchNorm": false,
///               "bottomDropout": 0.5, "merge": "cropcat" } }
/// Only "widths" is required; the rest default to the paper's values.
///
/// The free form: "layers" is a list of layers; each layer is an object with exactly one kind key:
///   { "block": 8, "padding": "same", "batchNorm": true, "dropout": 0.1 }   (padding default "valid")
///   { "down": "strict" } or { "down": "floor" }
///   { "up": 4, "mode": "bilinear" }                                        (mode default "transposed")
///   { "head": 2 }
///   { "skip": "cropcat" | "concat" | "add", "body": [ ...layers... ] }
/// e.g. { "inChannels": 1, "layers": [ { "block": 8 },
///        { "skip": "cropcat", "body": [ { "down": "strict" }, { "block": 16 }, { "up": 8 } ] },
///        { "block": 8 }, { "head": 2 } ] }
module Json =
    /// A malformed description: `Where` is the JSON path ("layers[2].body[0]"), `Problem` what is wrong.
    exception JsonDescriptionException of where: string * problem: string

    let private bad where problem =
        raise (JsonDescriptionException(where, problem))

    let private prop (e: JsonElement) (name: string) =
        match e.TryGetProperty name with
        | true, v -> Some v
        | _ -> None

    let private int' where (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number ->
            match e.TryGetInt32() with
            | true, v -> v
            | _ -> bad where $"expected a whole number, got {e.GetRawText()}"
        | _ -> bad where $"expected a whole number, got {e.GetRawText()}"

    let private enum' where (choices: (string * 'T) list) (e: JsonElement) =
        let text =
            if e.ValueKind = JsonValueKind.String then
                e.GetString()
            else
                e.GetRawText()

        match
            choices
            |> List.tryFind (fun (k, _) -> String.Equals(k, text, StringComparison.OrdinalIgnoreCase))
        with
        | Some(_, v) -> v
        | None ->
            let names = choices |> List.map fst |> String.concat ", "
            bad where $"'{text}' is not one of: {names}"

    let private paddings = [ "valid", Padding.Valid; "same", Padding.Same ]
    let private ups = [ "transposed", UpMode.Transposed; "bilinear", UpMode.Bilinear ]
    let private pools = [ "strict", PoolMode.Strict; "floor", PoolMode.Floor ]

    let private merges = [ "cropcat", Merge.CropConcat; "concat", Merge.Concat; "add", Merge.Add ]

    let private allowOnly where (e: JsonElement) (keys: string list) =
        for p in e.EnumerateObject() do
            if not (List.contains p.Name keys) then
                let allowed = String.concat ", " keys
                bad where $"unknown key '{p.Name}' (allowed here: {allowed})"

    let private bool' where (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.True -> true
        | JsonValueKind.False -> false
        | _ -> bad where $"expected true or false, got {e.GetRawText()}"

    let private float' where (e: JsonElement) =
        match e.ValueKind with
        | JsonValueKind.Number -> e.GetDouble()
        | _ -> bad where $"expected a number, got {e.GetRawText()}"

    let rec private layers where (e: JsonElement) : Spec =
        if e.ValueKind <> JsonValueKind.Array then
            bad where $"expected a list of layers, got {e.GetRawText()}"

        e.EnumerateArray()
        |> Seq.mapi (fun i l -> layer $"{where}[{i}]" l)
        |> List.ofSeq
        |> Seq

    and private layer where (e: JsonElement) : Spec =
        if e.ValueKind <> JsonValueKind.Object then
            bad where $"expected a layer object, got {e.GetRawText()}"

        let kinds =
            [ "block"; "down"; "up"; "head"; "skip" ]
            |> List.filter (fun k -> (prop e k).IsSome)

        let opt name f d =
            prop e name |> Option.map (f $"{where}.{name}") |> Option.defaultValue d

        match kinds with
        | [ "block" ] ->
            allowOnly where e [ "block"; "padding"; "batchNorm"; "dropout" ]

            Block(
                int' $"{where}.block" (prop e "block").Value,
                opt "padding" (fun w -> enum' w paddings) Padding.Valid,
                opt "batchNorm" bool' false,
                opt "dropout" float' 0.0
            )
        | [ "down" ] ->
            allowOnly where e [ "down" ]
            Down(enum' $"{where}.down" pools (prop e "down").Value)
        | [ "up" ] ->
            allowOnly where e [ "up"; "mode" ]
            Up(int' $"{where}.up" (prop e "up").Value, opt "mode" (fun w -> enum' w ups) UpMode.Transposed)
        | [ "head" ] ->
            allowOnly where e [ "head" ]
            Head(int' $"{where}.head" (prop e "head").Value)
        | [ "skip" ] ->
            allowOnly where e [ "skip"; "body" ]

            match prop e "body" with
            | None -> bad where "a skip needs a \"body\" list"
            | Some b -> Skip(enum' $"{where}.skip" merges (prop e "skip").Value, layers $"{where}.body" b)
        | [] -> bad where "a layer needs one of the keys block, down, up, head, skip"
        | many -> bad where $"""a layer has exactly one kind, got {String.concat ", " many}"""

    let private unetForm (inChannels: int) (e: JsonElement) : Net =
        let where = "unet"

        if e.ValueKind <> JsonValueKind.Object then
            bad where $"expected an object, got {e.GetRawText()}"

        allowOnly where e [
            "widths"
            "classes"
            "padding"
            "up"
            "pool"
            "batchNorm"
            "bottomDropout"
            "merge"
        ]

        let opt name f d =
            prop e name |> Option.map (f $"{where}.{name}") |> Option.defaultValue d

        let widths =
            match prop e "widths" with
            | Some w when w.ValueKind = JsonValueKind.Array ->
                w.EnumerateArray()
                |> Seq.mapi (fun i x -> int' $"unet.widths[{i}]" x)
                |> List.ofSeq
            | Some w -> bad "unet.widths" $"expected a list of channel counts, got {w.GetRawText()}"
            | None -> bad where "the unet form needs \"widths\" (top to bottom, at least two)"

        if List.length widths < 2 then
            bad "unet.widths" $"needs at least two widths (depth >= 1), got {List.length widths}"

        let p = UNet.paperForm

        UNet.unet widths {
            InChannels = inChannels
            Classes = opt "classes" int' p.Classes
            Padding = opt "padding" (fun w -> enum' w paddings) p.Padding
            Up = opt "up" (fun w -> enum' w ups) p.Up
            Pool = opt "pool" (fun w -> enum' w pools) p.Pool
            BatchNorm = opt "batchNorm" bool' p.BatchNorm
            BottomDropout = opt "bottomDropout" float' p.BottomDropout
            Merge = opt "merge" (fun w -> enum' w merges) p.Merge
        }

    /// Parses a description from JSON text.
    /// <exception cref="JsonDescriptionException">The text is not a description; says where and why.</exception>
    let parse (text: string) : Net =
        let doc =
            try
                JsonDocument.Parse(text, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
            with :? JsonException as e ->
                bad "(document)" $"not valid JSON: {e.Message}"

        use doc = doc
        let root = doc.RootElement

        if root.ValueKind <> JsonValueKind.Object then
            bad "(document)" "expected an object with \"inChannels\" and \"unet\" or \"layers\""

        allowOnly "(document)" root [ "inChannels"; "unet"; "layers" ]

        let inChannels =
            prop root "inChannels"
            |> Option.map (int' "inChannels")
            |> Option.defaultValue 1

        match prop root "unet", prop root "layers" with
        | Some u, None -> unetForm inChannels u
        | None, Some l -> {
            InChannels = inChannels
            Body = layers "layers" l
          }
        | Some _, Some _ -> bad "(document)" "give either \"unet\" or \"layers\", not both"
        | None, None -> bad "(document)" "needs \"unet\" (the U-Net form) or \"layers\" (the free form)"

    /// Loads a description from `path`; errors name the file and the problem.
    /// <exception cref="System.IO.InvalidDataException">The file is missing, unreadable or not a description.</exception>
    let load (path: string) : Net =
        let text =
            try
                File.ReadAllText path
            with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> raise (InvalidDataException $"{path}: no such file")
            | :? IOException
            | :? UnauthorizedAccessException as e -> raise (InvalidDataException $"{path}: cannot read: {e.Message}")

        try
            parse text
        with JsonDescriptionException(where, problem) ->
            raise (InvalidDataException $"{path}: {where}: {problem}")
