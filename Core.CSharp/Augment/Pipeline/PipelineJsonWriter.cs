using System;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CropCat.Augment;

/// <summary>
/// Writes the JSON form documented on <see cref="AugmentPipeline"/>, with every setting explicit (ranges as
/// [low, high]) so that reading it back gives the same pipeline.
/// </summary>
internal static class PipelineJsonWriter
{
    public static string Write(Transform t) => Node(t).ToJsonString(new JsonSerializerOptions { WriteIndented = false });

    private static JsonArray Range(Interval r) => [r.Lo, r.Hi];

    private static JsonObject Leaf(string kind, JsonObject settings, double p)
    {
        settings["p"] = p;
        return new JsonObject { [kind] = settings };
    }

    private static JsonObject WithResampling(JsonObject o, Resampling r)
    {
        o["border"] = Border(r.Border);
        o["fill"] = (double)r.Fill;
        o["interpolation"] = r.Interpolation == ImageInterpolation.Bicubic ? "bicubic" : "bilinear";
        return o;
    }

    private static string Border(BorderMode b) => b == BorderMode.Reflect ? "reflect" : "constant";

    private static JsonArray Size(Window w) => [w.Height, w.Width];

    private static JsonObject Node(Transform t) => t switch
    {
        Compose c => new JsonObject { ["compose"] = new JsonArray(c.Children.Select(x => (JsonNode)Node(x)).ToArray()), ["p"] = c.P },
        OneOf o => new JsonObject
        {
            ["oneOf"] = new JsonArray(o.Children.Select(x => (JsonNode)Node(x)).ToArray()),
            ["weights"] = new JsonArray(o.Weights.Select(x => (JsonNode)x).ToArray()),
            ["p"] = o.P,
        },
        Flip f => Leaf("flip", new() { ["axis"] = f.Axis == FlipAxis.Horizontal ? "horizontal" : "vertical" }, f.P),
        QuarterTurns q => Leaf("rotate90", new() { ["turns"] = new JsonArray(q.Turns.Select(x => (JsonNode)x).ToArray()) }, q.P),
        Affine a => Leaf("affine", WithResampling(new()
        {
            ["shift"] = Range(a.Shift),
            ["scale"] = Range(a.Scale),
            ["rotate"] = Range(a.Rotate),
            ["shear"] = Range(a.Shear),
        }, a.Resampling), a.P),
        ElasticGrid e => Leaf("elastic", WithResampling(new() { ["grid"] = e.Grid, ["sigma"] = e.Sigma }, e.Resampling), e.P),
        ElasticSimard e => Leaf("elastic", WithResampling(new() { ["alpha"] = e.Alpha, ["sigma"] = e.Sigma }, e.Resampling), e.P),
        GridDistortion g => Leaf("gridDistortion", WithResampling(new() { ["steps"] = g.Steps, ["limit"] = g.Limit }, g.Resampling), g.P),
        RandomCrop c => Leaf("crop", new() { ["size"] = Size(c), ["border"] = Border(c.Border), ["fill"] = (double)c.Fill }, c.P),
        PadIfNeeded c => Leaf("padIfNeeded", new() { ["size"] = Size(c), ["border"] = Border(c.Border), ["fill"] = (double)c.Fill }, c.P),
        BrightnessContrast b => Leaf("brightnessContrast", new() { ["brightness"] = Range(b.Brightness), ["contrast"] = Range(b.Contrast) }, b.P),
        Gamma g => Leaf("gamma", new() { ["range"] = Range(g.Range) }, g.P),
        GaussianNoise n => Leaf("noise", new() { ["std"] = Range(n.Std) }, n.P),
        GaussianBlur b => Leaf("blur", new() { ["sigma"] = Range(b.Sigma) }, b.P),
        HueSaturation h => Leaf("hueSaturation", new() { ["hue"] = Range(h.Hue), ["saturation"] = Range(h.Saturation) }, h.P),
        _ => throw new NotSupportedException($"{t.GetType().Name} has no JSON form (only the built-in transforms do)"),
    };
}
