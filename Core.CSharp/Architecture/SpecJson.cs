using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using CropCat.Layers;
using CropCat.Shapes;

namespace CropCat.Architecture;

/// <summary>A malformed JSON description: <see cref="Where"/> is the JSON path ("layers[2].body[0]"), <see cref="Problem"/> what is wrong.</summary>
public sealed class DescriptionJsonException(string where, string problem) : Exception($"{where}: {problem}")
{
    /// <summary>The JSON path of the problem.</summary>
    public string Where { get; } = where;

    /// <summary>What is wrong there.</summary>
    public string Problem { get; } = problem;
}

/// <summary>
/// The JSON form of descriptions (the CLI's --description, and what checkpoints store). Keys are
/// case-sensitive, lower camel case. Top level: "inChannels" (default 1), "dims" (default 2; 3 for
/// volumes), either "unet" or "layers", and optionally "normalize": {"mean": [...], "std": [...]} (one number
/// per input channel; <see cref="InputNormalization"/>, e.g. ImageNet's for pretrained encoders).
///
/// The U-Net form:
///   { "inChannels": 1,
///     "unet": { "widths": [64, 128, 256, 512, 1024], "classes": 2, "padding": "valid",
///               "up": "transposed", "pool": "strict", "batchNorm": false,
///               "bottomDropout": 0.5, "merge": "cropcat", "gate": 0 } }
/// Only "widths" is required; the rest default to the paper's values ("gate": attention-gate channels, 0 for none).
/// Both forms' blocks also take "norm": "none" | "batch" | "instance" | "group" (with "groups": G, default 8; "batch"
/// is the same as "batchNorm": true) and "activation": "relu" (default) | "leakyRelu" (with "slope", default 0.01) |
/// "elu" | "silu"; nnU-Net's block is { "norm": "instance", "activation": "leakyRelu" }.
///
/// The free form: "layers" is a list of layers; each layer is an object with exactly one kind key:
///   { "block": 8, "padding": "same", "batchNorm": true, "dropout": 0.1, "mid": 4, "finalRelu": false }  (padding default "valid"; finalRelu default true)
///   { "down": "strict" } or { "down": "floor" }
///   { "up": 4, "mode": "bilinear" }                       (mode "transposed" (default), "bilinear", "interpolate")
///   { "head": 2 }
///   { "skip": "cropcat" | "concat" | "padcat" | "add", "body": [ ...layers... ], "gate": 16 }
///   { "seq": [ ...layers... ] }                           (a nested sequence)
/// The pretrained-encoder layers (torchvision's ResNet, segmentation_models_pytorch's decoder):
///   { "resnetStem": 64, "sizes": "strict" }               (7x7 stride-2 conv, BN, ReLU; "floor": odd sizes too)
///   { "resnetStage": 2, "blocks": 4, "width": 128, "bottleneck": false, "sizes": "strict" }
///   { "nearestUp": true }                                 (nearest x2, no parameters)
///   { "bodyFirstSkip": [ ...layers... ] }                 (cat [body x, x], smp's order)
///   { "smpDecoder": 0, "width": 256 }                     (two conv3x3-BN-ReLU, "decoder.blocks.0")
///   { "smpHead": 2 }                                      (3x3 conv to the classes, "segmentation_head.0")
/// Where a list of layers is expected ("layers", "body"), one layer object alone is that layer.
/// </summary>
public static class SpecJson
{
    private static Exception Bad(string where, string problem) => new DescriptionJsonException(where, problem);

    private static readonly (string, Padding)[] Paddings = [("valid", Padding.Valid), ("same", Padding.Same)];
    private static readonly (string, UpMode)[] Ups = [("transposed", UpMode.Transposed), ("bilinear", UpMode.Bilinear), ("interpolate", UpMode.Interpolate)];
    private static readonly (string, PoolMode)[] Pools = [("strict", PoolMode.Strict), ("floor", PoolMode.Floor)];
    private static readonly (string, Merge)[] Merges = [("cropcat", Merge.CropConcat), ("concat", Merge.Concat), ("padcat", Merge.PadConcat), ("add", Merge.Add)];
    private static readonly (string, BlockNorm)[] Norms = [("none", BlockNorm.None), ("batch", BlockNorm.Batch), ("instance", BlockNorm.Instance), ("group", BlockNorm.Group)];
    private static readonly (string, BlockActivation)[] Activations = [("relu", BlockActivation.ReLU), ("leakyRelu", BlockActivation.LeakyReLU), ("elu", BlockActivation.ELU), ("silu", BlockActivation.SiLU)];

    /// <summary>
    /// "norm" and "batchNorm" of one object as the block's two fields: "norm": "batch" is stored as batchNorm (one
    /// representation for batch norm, as every earlier release wrote it), instance and group as Norm.
    /// </summary>
    private static (bool BatchNorm, BlockNorm Norm) NormOf(JsonElement e, string where, bool batchNormDefault)
    {
        var batchNorm = Opt(e, where, "batchNorm", Bool, batchNormDefault);
        var norm = Opt(e, where, "norm", (w, v) => Enum(w, Norms, v), BlockNorm.None);
        return norm == BlockNorm.Batch ? (true, BlockNorm.None) : (batchNorm, norm);
    }

    private static JsonElement? Prop(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v : null;

    private static int Int(string where, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) ? v : throw Bad(where, $"expected a whole number, got {e.GetRawText()}");

    private static bool Bool(string where, JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(where, $"expected true or false, got {e.GetRawText()}"),
    };

    private static double Float(string where, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Bad(where, $"expected a number, got {e.GetRawText()}");

    private static T Enum<T>(string where, (string Name, T Value)[] choices, JsonElement e)
    {
        var text = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        foreach (var (k, v) in choices)
            if (string.Equals(k, text, StringComparison.OrdinalIgnoreCase)) return v;
        throw Bad(where, $"'{text}' is not one of: {string.Join(", ", choices.Select(c => c.Name))}");
    }

    private static void AllowOnly(string where, JsonElement e, params string[] keys)
    {
        foreach (var p in e.EnumerateObject())
            if (!keys.Contains(p.Name))
                throw Bad(where, $"unknown key '{p.Name}' (allowed here: {string.Join(", ", keys)})");
    }

    private static T Opt<T>(JsonElement e, string where, string name, Func<string, JsonElement, T> f, T d) =>
        Prop(e, name) is { } v ? f($"{where}.{name}", v) : d;

    private static Spec Layers(string where, JsonElement e)
    {
        // A single layer object (not a list) is that layer alone, not a chain of one.
        if (e.ValueKind == JsonValueKind.Object) return Layer(where, e);
        if (e.ValueKind != JsonValueKind.Array) throw Bad(where, $"expected a list of layers, got {e.GetRawText()}");
        return new ChainSpec(e.EnumerateArray().Select((l, i) => Layer($"{where}[{i}]", l)).ToArray());
    }

    private static Spec Layer(string where, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(where, $"expected a layer object, got {e.GetRawText()}");
        var kinds = new[] { "block", "down", "up", "head", "skip", "seq", "resnetStem", "resnetStage", "nearestUp", "bodyFirstSkip", "smpDecoder", "smpHead" }.Where(k => Prop(e, k) is not null).ToList();
        if (kinds.Count == 0) throw Bad(where, "a layer needs one of the keys block, down, up, head, skip");
        if (kinds.Count > 1) throw Bad(where, $"a layer has exactly one kind, got {string.Join(", ", kinds)}");
        switch (kinds[0])
        {
            case "block":
                {
                    AllowOnly(where, e, "block", "padding", "batchNorm", "norm", "groups", "activation", "slope", "dropout", "mid", "finalRelu");
                    var (batchNorm, norm) = NormOf(e, where, false);
                    return new BlockSpec(
                        Int($"{where}.block", Prop(e, "block")!.Value),
                        Opt(e, where, "padding", (w, v) => Enum(w, Paddings, v), Padding.Valid),
                        batchNorm,
                        Opt(e, where, "dropout", Float, 0.0),
                        Opt<int?>(e, where, "mid", (w, v) => Int(w, v), null),
                        Opt(e, where, "finalRelu", Bool, true),
                        norm,
                        Opt(e, where, "groups", Int, 8),
                        Opt(e, where, "activation", (w, v) => Enum(w, Activations, v), BlockActivation.ReLU),
                        Opt(e, where, "slope", Float, 0.01));
                }
            case "down":
                AllowOnly(where, e, "down");
                return new PoolSpec(Enum($"{where}.down", Pools, Prop(e, "down")!.Value));
            case "up":
                AllowOnly(where, e, "up", "mode");
                return new UpSpec(Int($"{where}.up", Prop(e, "up")!.Value), Opt(e, where, "mode", (w, v) => Enum(w, Ups, v), UpMode.Transposed));
            case "head":
                AllowOnly(where, e, "head");
                return new HeadSpec(Int($"{where}.head", Prop(e, "head")!.Value));
            case "seq":
                AllowOnly(where, e, "seq");
                return Layers($"{where}.seq", Prop(e, "seq")!.Value);
            case "resnetStem":
                AllowOnly(where, e, "resnetStem", "sizes");
                return new ResNetStemSpec(Int($"{where}.resnetStem", Prop(e, "resnetStem")!.Value), Opt(e, where, "sizes", (w, v) => Enum(w, Pools, v), PoolMode.Strict));
            case "resnetStage":
                AllowOnly(where, e, "resnetStage", "blocks", "width", "bottleneck", "sizes");
                if (Prop(e, "blocks") is not { } blocks || Prop(e, "width") is not { } width) throw Bad(where, "a ResNet stage needs \"blocks\" and \"width\"");
                return new ResNetStageSpec(Int($"{where}.resnetStage", Prop(e, "resnetStage")!.Value), Int($"{where}.blocks", blocks),
                    Int($"{where}.width", width), Opt(e, where, "bottleneck", Bool, false), Opt(e, where, "sizes", (w, v) => Enum(w, Pools, v), PoolMode.Strict));
            case "nearestUp":
                AllowOnly(where, e, "nearestUp");
                return new NearestUpSpec();
            case "bodyFirstSkip":
                AllowOnly(where, e, "bodyFirstSkip");
                return new BodyFirstSkipSpec(Layers($"{where}.bodyFirstSkip", Prop(e, "bodyFirstSkip")!.Value));
            case "smpDecoder":
                AllowOnly(where, e, "smpDecoder", "width");
                if (Prop(e, "width") is not { } w) throw Bad(where, "a decoder block needs \"width\"");
                return new SmpDecoderBlockSpec(Int($"{where}.smpDecoder", Prop(e, "smpDecoder")!.Value), Int($"{where}.width", w));
            case "smpHead":
                AllowOnly(where, e, "smpHead");
                return new SmpHeadSpec(Int($"{where}.smpHead", Prop(e, "smpHead")!.Value));
            default:
                AllowOnly(where, e, "skip", "body", "gate");
                if (Prop(e, "body") is not { } body) throw Bad(where, "a skip needs a \"body\" list");
                var gate = Opt(e, where, "gate", Int, 0);
                return new SkipSpec(Enum($"{where}.skip", Merges, Prop(e, "skip")!.Value), Layers($"{where}.body", body),
                    gate == 0 ? null : new GateSpec(gate));
        }
    }

    private static double[] Floats(string where, JsonElement e) =>
        e.ValueKind == JsonValueKind.Array
            ? e.EnumerateArray().Select((x, i) => Float($"{where}[{i}]", x)).ToArray()
            : throw Bad(where, $"expected a list of numbers, one per input channel, got {e.GetRawText()}");

    private static InputNormalization Normalize(JsonElement e)
    {
        const string where = "normalize";
        if (e.ValueKind != JsonValueKind.Object) throw Bad(where, $"expected {{\"mean\": [...], \"std\": [...]}}, got {e.GetRawText()}");
        AllowOnly(where, e, "mean", "std");
        if (Prop(e, "mean") is not { } mean || Prop(e, "std") is not { } std) throw Bad(where, "needs \"mean\" and \"std\", one number per input channel");
        return new InputNormalization(Floats($"{where}.mean", mean), Floats($"{where}.std", std));
    }

    private static NetSpec UNetForm(int inChannels, int dims, JsonElement e)
    {
        const string where = "unet";
        if (e.ValueKind != JsonValueKind.Object) throw Bad(where, $"expected an object, got {e.GetRawText()}");
        AllowOnly(where, e, "widths", "classes", "padding", "up", "pool", "batchNorm", "norm", "groups", "activation", "slope", "bottomDropout", "merge", "gate");
        int[] widths = Prop(e, "widths") switch
        {
            { ValueKind: JsonValueKind.Array } w => w.EnumerateArray().Select((x, i) => Int($"unet.widths[{i}]", x)).ToArray(),
            { } w => throw Bad("unet.widths", $"expected a list of channel counts, got {w.GetRawText()}"),
            null => throw Bad(where, "the unet form needs \"widths\" (top to bottom, at least two)"),
        };
        if (widths.Length < 2) throw Bad("unet.widths", $"needs at least two widths (depth >= 1), got {widths.Length}");
        var p = UNetOptions.Paper;
        var (batchNorm, norm) = NormOf(e, where, p.BatchNorm);
        return UNets.Describe(new UNetOptions
        {
            InChannels = inChannels,
            Dims = dims,
            Widths = widths,
            Classes = Opt(e, where, "classes", Int, p.Classes),
            Padding = Opt(e, where, "padding", (w, v) => Enum(w, Paddings, v), p.Padding),
            Up = Opt(e, where, "up", (w, v) => Enum(w, Ups, v), p.Up),
            Pool = Opt(e, where, "pool", (w, v) => Enum(w, Pools, v), p.Pool),
            BatchNorm = batchNorm,
            Norm = norm,
            Groups = Opt(e, where, "groups", Int, p.Groups),
            Activation = Opt(e, where, "activation", (w, v) => Enum(w, Activations, v), p.Activation),
            Slope = Opt(e, where, "slope", Float, p.Slope),
            BottomDropout = Opt(e, where, "bottomDropout", Float, p.BottomDropout),
            Merge = Opt(e, where, "merge", (w, v) => Enum(w, Merges, v), p.Merge),
            Gate = Opt(e, where, "gate", Int, 0),
        }, validate: false);
    }

    /// <summary>Parses a description from JSON text.</summary>
    /// <exception cref="DescriptionJsonException">The text is not a description; says where and why.</exception>
    public static NetSpec Parse(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw Bad("(document)", $"not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad("(document)", "expected an object with \"inChannels\" and \"unet\" or \"layers\"");
            AllowOnly("(document)", root, "inChannels", "dims", "unet", "layers", "normalize");
            var inChannels = Prop(root, "inChannels") is { } c ? Int("inChannels", c) : 1;
            var dims = Prop(root, "dims") is { } d ? Int("dims", d) : 2;
            if (dims is < 1 or > 3) throw Bad("dims", $"CropCat builds nets of 1, 2 or 3 spatial axes, got {dims}");
            var net = (Prop(root, "unet"), Prop(root, "layers")) switch
            {
                ({ } u, null) => UNetForm(inChannels, dims, u),
                (null, { } l) => new NetSpec(inChannels, Layers("layers", l), dims),
                (not null, not null) => throw Bad("(document)", "give either \"unet\" or \"layers\", not both"),
                _ => throw Bad("(document)", "needs \"unet\" (the U-Net form) or \"layers\" (the free form)"),
            };
            return Prop(root, "normalize") is { } n ? net with { Normalization = Normalize(n) } : net;
        }
    }

    /// <summary>Loads a description from <paramref name="path"/>; errors name the file and the problem.</summary>
    /// <exception cref="InvalidDataException">The file is missing, unreadable or not a description.</exception>
    public static NetSpec Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{path}: no such file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot read: {e.Message}");
        }
        try
        {
            return Parse(text);
        }
        catch (DescriptionJsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Where}: {e.Problem}");
        }
    }

    private static string Name<T>((string Name, T Value)[] choices, T v) => choices.First(c => EqualityComparer<T>.Default.Equals(c.Value, v)).Name;

    private static JsonArray WriteItems(IEnumerable<Spec> items) => new(items.Select(WriteLayer).ToArray<JsonNode?>());

    private static JsonNode WriteLayer(Spec spec)
    {
        switch (spec)
        {
            case BlockSpec b:
                {
                    var o = new JsonObject { ["block"] = b.Width };
                    if (b.Padding != Padding.Valid) o["padding"] = Name(Paddings, b.Padding);
                    if (b.BatchNorm) o["batchNorm"] = true;
                    if (b.Norm is BlockNorm.Instance or BlockNorm.Group) o["norm"] = Name(Norms, b.Norm);
                    // Every field that differs from its default is written, used or not, so the JSON form gives the
                    // description back exactly.
                    if (b.Groups != 8) o["groups"] = b.Groups;
                    if (b.Activation != BlockActivation.ReLU) o["activation"] = Name(Activations, b.Activation);
                    if (b.Slope != 0.01) o["slope"] = b.Slope;
                    if (b.Dropout != 0) o["dropout"] = b.Dropout;
                    if (b.Mid is { } m) o["mid"] = m;
                    if (!b.FinalRelu) o["finalRelu"] = false;
                    return o;
                }
            case PoolSpec p:
                return new JsonObject { ["down"] = Name(Pools, p.Mode) };
            case UpSpec u:
                {
                    var o = new JsonObject { ["up"] = u.Width };
                    if (u.Mode != UpMode.Transposed) o["mode"] = Name(Ups, u.Mode);
                    return o;
                }
            case HeadSpec h:
                return new JsonObject { ["head"] = h.Classes };
            case SkipSpec s:
                {
                    var o = new JsonObject { ["skip"] = Name(Merges, s.Merge), ["body"] = WriteBody(s.Body) };
                    if (s.Gate is { } g) o["gate"] = g.Channels;
                    return o;
                }
            case ChainSpec c:
                return new JsonObject { ["seq"] = WriteItems(c.Items) };
            case ResNetStemSpec r:
                return new JsonObject { ["resnetStem"] = r.Width, ["sizes"] = Name(Pools, r.Sizes) };
            case ResNetStageSpec r:
                return new JsonObject { ["resnetStage"] = r.Stage, ["blocks"] = r.Blocks, ["width"] = r.Width, ["bottleneck"] = r.Bottleneck, ["sizes"] = Name(Pools, r.Sizes) };
            case NearestUpSpec:
                return new JsonObject { ["nearestUp"] = true };
            case BodyFirstSkipSpec b:
                return new JsonObject { ["bodyFirstSkip"] = WriteBody(b.Body) };
            case SmpDecoderBlockSpec d:
                return new JsonObject { ["smpDecoder"] = d.Index, ["width"] = d.Width };
            case SmpHeadSpec h:
                return new JsonObject { ["smpHead"] = h.Classes };
            default:
                throw new NotSupportedException($"the JSON form has no key for {spec.GetType().Name}; add one in SpecJson");
        }
    }

    // A skip body or the top level: a chain is written as the list of its items, anything else as one layer object.
    private static JsonNode WriteBody(Spec s) => s is ChainSpec c ? WriteItems(c.Items) : WriteLayer(s);

    /// <summary>The free JSON form of <paramref name="net"/>; <see cref="Parse"/> gives back an equal description.</summary>
    public static string Write(NetSpec net)
    {
        var root = new JsonObject { ["inChannels"] = net.InChannels, ["dims"] = net.Dims, ["layers"] = WriteBody(net.Body) };
        if (net.Normalization is { } n)
            root["normalize"] = new JsonObject
            {
                ["mean"] = new JsonArray(n.Mean.Select(v => (JsonNode?)v).ToArray()),
                ["std"] = new JsonArray(n.Std.Select(v => (JsonNode?)v).ToArray()),
            };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
