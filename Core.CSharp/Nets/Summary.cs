using System.Linq;
using System.Text;
using CropCat.Shapes;

namespace CropCat.Nets;

/// <summary>A torchinfo-like table of a network for one input size, computed from the shape algebra alone.</summary>
public static class Summary
{
    /// <summary>Renders the path, kind, output shape and parameters of every layer, then the totals.</summary>
    /// <exception cref="ShapeException">The net cannot take this size.</exception>
    public static string Render(Network net, int height, int width) => Render(net, [height, width]);

    /// <summary>The table for an input of the given spatial <paramref name="extents"/> (3-D: depth, height, width).</summary>
    /// <exception cref="ShapeException">The net cannot take this size.</exception>
    public static string Render(Network net, params int[] extents) =>
        Render(net.Spec.Infer(extents)) + NormalizationLine(net) + LayoutLine(net, extents) + System.Environment.NewLine;

    /// <summary>The input normalisation the net applies, when it has one (nothing for nets fed standardised images).</summary>
    private static string NormalizationLine(Network net) =>
        net.Spec.Normalization is { } n ? $"Input normalisation: {n} on [0, 1] intensities{System.Environment.NewLine}" : "";

    /// <summary>The table of one inference: every layer's path, kind, output and parameters, then the totals and sizes.</summary>
    public static string Render(Architecture.Inferred inferred)
    {
        var rows = inferred.Rows;
        var dims = inferred.Input.Dims;
        var pw = System.Math.Max(24, rows.Max(r => r.Path.Length) + 2);
        var sb = new StringBuilder();
        var axes = dims switch { 1 => "CxW", 2 => "CxHxW", 3 => "CxDxHxW", _ => "C x spatial" };
        sb.AppendLine($"{"Layer (path)".PadRight(pw)}{"Kind",-16}{$"Output ({axes})",-18}{"Params",14}");
        sb.AppendLine(new string('=', pw + 48));
        sb.AppendLine($"{"input".PadRight(pw)}{"",-16}{inferred.Input.ToString(),-18}{0,14:N0}");
        foreach (var r in rows)
            sb.AppendLine($"{r.Path.PadRight(pw)}{r.Kind,-16}{r.Output.ToString(),-18}{r.Parameters,14:N0}");
        sb.AppendLine(new string('=', pw + 48));
        sb.AppendLine($"Total params: {inferred.Parameters:N0}");
        var o = inferred.Output;
        sb.AppendLine($"Input {inferred.Input.SizeText} -> output {o.SizeText}x{o.Channels}");
        return sb.ToString();
    }

    /// <summary>The memory layout policy and, under Auto, what was chosen for a batch of one at this size.</summary>
    private static string LayoutLine(Network net, int[] extents)
    {
        if (net.Layout != Runtime.MemoryLayout.Auto) return $"Memory layout: {net.Layout}";
        long[] shape = [1, net.InChannels, .. extents.Select(e => (long)e)];
        var parts = new[] { false, true }.Select(training => (training, net.LayoutChoiceFor(shape, training)))
            .Where(p => p.Item2 is not null)
            .Select(p => System.FormattableString.Invariant(
                $"{(p.training ? "training" : "inference")} {string.Join("x", shape)} -> {p.Item2!.Layout} (NCHW {p.Item2.ContiguousMs:F1} ms, channels-last {p.Item2.ChannelsLastMs:F1} ms{(p.Item2.FromCache ? ", cached" : "")})"))
            .ToList();
        return parts.Count == 0 ? "Memory layout: Auto (timed per input size at first use)" : $"Memory layout: Auto; {string.Join("; ", parts)}";
    }
}
