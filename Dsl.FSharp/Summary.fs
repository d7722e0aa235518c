/// A torchinfo-like table of a description, computed from the shape algebra alone.
namespace CropCat.Dsl

open System.Text

/// Summaries of descriptions.
module Summary =
    /// The table for an inferred description: one row per layer (path, kind, output CxHxW,
    /// parameters), then the total and the input -> output sizes.
    let renderInferred (i: Inferred) =
        let pw =
            max 24 ((i.Rows |> List.map (fun r -> r.Path.Length) |> List.fold max 0) + 2)

        let sb = StringBuilder()

        let line (path: string) (kind: string) (shape: string) (pars: int64) =
            sb.AppendLine($"""{path.PadRight pw}{kind, -16}{shape, -18}{pars.ToString("N0"), 14}""")
            |> ignore

        sb.AppendLine($"""{"Layer (path)".PadRight pw}{"Kind", -16}{"Output (CxHxW)", -18}{"Params", 14}""")
        |> ignore

        sb.AppendLine(System.String('=', pw + 48)) |> ignore
        line "input" "" (string i.Input) 0L

        for r in i.Rows do
            line r.Path r.Kind (string r.Output) r.Parameters

        sb.AppendLine(System.String('=', pw + 48)) |> ignore
        sb.AppendLine($"""Total params: {i.Parameters.ToString("N0")}""") |> ignore

        sb.AppendLine($"Input {i.Input.Height}x{i.Input.Width} -> output {i.Output.Height}x{i.Output.Width}x{i.Output.Channels}")
        |> ignore

        sb.ToString()

    /// The table of `net` for a `size` x `size` input, or the layer that refuses that size.
    let render (net: Net) (size: int) : Result<string, InferError> =
        Inference.infer net size |> Result.map renderInferred
