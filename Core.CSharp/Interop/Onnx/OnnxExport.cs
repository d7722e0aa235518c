using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using CropCat.Architecture;
using CropCat.Imaging;
using CropCat.Nets;
using CropCat.Runtime;
using static TorchSharp.torch;

namespace CropCat.Interop.Onnx;

/// <summary>What an export wrote: the model's bytes and what a deployment needs to know about it.</summary>
/// <param name="Bytes">The ONNX ModelProto.</param>
/// <param name="Opset">The default-domain opset the graph uses.</param>
/// <param name="Input">The input's name and shape, symbolic axes named ("input: float[batch, 1, height, width]").</param>
/// <param name="Output">The output's name and shape ("logits: float[batch, 2, out_height, out_width]").</param>
/// <param name="ValidSizes">The valid sizes of every spatial axis, as <see cref="Progression"/> prints them.</param>
/// <param name="Operators">How many nodes of each operator type the graph has.</param>
public sealed record OnnxModel(byte[] Bytes, int Opset, string Input, string Output, string ValidSizes, IReadOnlyDictionary<string, int> Operators);

/// <summary>
/// Writes a <see cref="Network"/> as an ONNX model (opset <see cref="Opset"/>) that computes what
/// <see cref="Network.forward"/> computes in eval mode: the logits, with no sigmoid or softmax, after the input
/// normalisation when the description has one (so ONNX Runtime is fed the same [0, 1] intensities). The graph is
/// written from the network's tensor-free description (<see cref="NetSpec"/>), its weights become
/// initializers under their state-dict names, the batch and spatial axes are symbolic (crops and pads are
/// computed from the run-time shapes), and the metadata holds the description JSON and the valid sizes, so
/// a runtime can plan tiles without CropCat's description classes. The protobuf is encoded by hand
/// (<see cref="ProtoWriter"/>): CropCat.Core takes no protobuf dependency for the few messages ONNX needs.
/// </summary>
public static class OnnxExport
{
    /// <summary>The default-domain opset of exported graphs (ONNX 1.12 / ONNX Runtime 1.12 and later).</summary>
    public const int Opset = 17;

    /// <summary>The ONNX IR version matching <see cref="Opset"/> (IR 8, ONNX 1.12).</summary>
    public const int IrVersion = 8;

    /// <summary>Metadata key of the description JSON (<see cref="SpecJson"/>'s form).</summary>
    public const string DescriptionKey = "cropcat.description";

    /// <summary>Metadata key of the valid sizes as JSON: {"period", "progressions": [{"first", "period", "first_output", "output_step"}]}.</summary>
    public const string ValidSizesKey = "cropcat.valid_sizes";

    /// <summary>Metadata key of the valid sizes as text, e.g. "188 + 16k -> 4 + 16k (output = input - 184)".</summary>
    public const string ValidSizesTextKey = "cropcat.valid_sizes.text";

    /// <summary>Metadata key of the input normalisation the graph applies first (only for a net that has one).</summary>
    public const string NormalizationKey = "cropcat.input_normalization";

    /// <summary>
    /// The graph's first operations for a net with an input normalisation: (input - input_mean) / input_std with
    /// [1, C, 1, ...] float initializers, as <see cref="InputNormalizer"/> computes it; the input itself otherwise.
    /// </summary>
    private static string Normalized(OnnxGraph graph, NetSpec spec, string input)
    {
        if (spec.Normalization is not { } n) return input;
        long[] dims = [1, n.Channels, .. Enumerable.Repeat(1L, spec.Dims)];
        var mean = graph.Weight("input_mean", dims, n.Mean.Select(v => (float)v).ToArray());
        var std = graph.Weight("input_std", dims, n.Std.Select(v => (float)v).ToArray());
        return graph.Node("Div", "input/normalized", [graph.Node("Sub", "input/centred", [input, mean]), std]);
    }

    /// <summary>The ONNX model of <paramref name="network"/>.</summary>
    /// <exception cref="OnnxExportException">A layer kind the exporter does not know, a bf16 network, or a description without valid sizes; the message names the layer.</exception>
    public static OnnxModel ToModel(Network network)
    {
        if (network.Precision != Precision.Float32)
            throw new OnnxExportException("network", $"the network runs in {network.Precision}; ONNX export writes the fp32 function (set Precision = Float32 first)");
        var spec = network.Spec;
        var sizes = network.Sizes;
        if (sizes.Value is not { } solution)
            throw new OnnxExportException(sizes.Error!.Path, $"the network takes no input size: {sizes.Error.Reason}");
        using var scope = NewDisposeScope();
        var parameters = network.state_dict();
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module);
        var graph = new OnnxGraph();
        var input = graph.Fresh("input");
        var y = new OnnxLayers(graph, spec.Dims, parameters, modules).Emit(spec.Named, Normalized(graph, spec, input));
        // The graph's output must be a node's output with its own name; the identity costs nothing at run time.
        var output = graph.Node("Identity", "logits", [y]);

        var axes = spec.Dims switch { 1 => new[] { "width" }, 2 => ["height", "width"], _ => ["depth", "height", "width"] };
        var inDims = new (long?, string?)[] { (null, "batch"), (spec.InChannels, null) }.Concat(axes.Select(a => ((long?)null, (string?)a))).ToList();
        var outDims = new (long?, string?)[] { (null, "batch"), (spec.OutChannels, null) }.Concat(axes.Select(a => ((long?)null, (string?)$"out_{a}"))).ToList();
        var g = OnnxMessages.Graph("cropcat", graph.Nodes, graph.Initializers, OnnxMessages.FloatValue(input, inDims), OnnxMessages.FloatValue(output, outDims));

        var text = string.Join("; ", solution.Progressions.Select(p => p.ToString()));
        var json = JsonSerializer.Serialize(new
        {
            period = solution.Period,
            progressions = solution.Progressions.Select(p => new { first = p.First, period = p.Period, first_output = p.FirstOutput, output_step = p.OutputStep }),
        });
        var metadata = new Dictionary<string, string>
        {
            [DescriptionKey] = network.Description.Json,
            [ValidSizesKey] = json,
            [ValidSizesTextKey] = text,
            ["cropcat.in_channels"] = spec.InChannels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cropcat.classes"] = spec.OutChannels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cropcat.dims"] = spec.Dims.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cropcat.output"] = "logits (no sigmoid/softmax), eval mode",
        };
        if (spec.Normalization is { } n) metadata[NormalizationKey] = $"{n} on [0, 1] intensities, applied inside the graph (input_mean, input_std)";
        var version = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0";
        var model = OnnxMessages.Model(IrVersion, Opset, "CropCat", version, g, metadata);

        string Shape(string name, IEnumerable<(long? V, string? P)> d) => $"{name}: float[{string.Join(", ", d.Select(x => x.V?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? x.P))}]";
        return new OnnxModel(model.ToArray(), Opset, Shape(input, inDims), Shape(output, outDims), text, graph.OpCounts);
    }

    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> as ONNX, atomically (a reader never sees half a file).</summary>
    /// <exception cref="OnnxExportException">See <see cref="ToModel"/>.</exception>
    public static OnnxModel Export(Network network, string path)
    {
        var model = ToModel(network);
        AtomicFile.Write(path, s => s.Write(model.Bytes));
        return model;
    }
}
