using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Shapes;
using static TorchSharp.torch;

namespace CropCat.Layers;

/// <summary>
/// The skip connection y = merge(x, body(x)) (<see cref="Architecture.SkipSpec"/>). With
/// <see cref="Merge.CropConcat"/> x is centre-cropped to the body's spatial size and concatenated on
/// channels as [x, body(x)]: "don't think copy and crop, think crop and cat". <see cref="Merge.Concat"/>
/// needs equal sizes, <see cref="Merge.PadConcat"/> zero-pads the body to x's size, <see cref="Merge.Add"/>
/// needs equal shapes. An <see cref="AttentionGate"/> weighs the (cropped) x by the body before it is merged.
/// </summary>
public sealed class Skip : Layer
{
    /// <summary>Creates the skip around <paramref name="body"/>.</summary>
    public Skip(string path, Layer body, Merge merge, AttentionGate? gate = null) : base(path)
    {
        Body = body;
        Merge = merge;
        Gate = gate;
    }

    /// <summary>The layer the skip goes around.</summary>
    public Layer Body { get; }

    /// <summary>How x and body(x) are merged.</summary>
    public Merge Merge { get; }

    /// <summary>The attention gate on x, if any.</summary>
    public AttentionGate? Gate { get; }

    /// <inheritdoc />
    public override IEnumerable<Layer> Children => [Body];

    /// <inheritdoc />
    public override IEnumerable<(string Scope, string Name, TorchSharp.torch.nn.Module Module)> Modules =>
        Gate?.Modules ?? [];

    /// <inheritdoc />
    public override Tensor Forward(Tensor x)
    {
        using var body = Body.Forward(x);
        using var b = MixedPrecision.Like(body, x);
        switch (Merge)
        {
            case Merge.CropConcat:
                {
                    using var c = Crop.Center(x, Crop.Spatial(b));
                    if (Gate is null) return cat([c, b], 1);
                    using var gated = Gate.Apply(c, b);
                    return cat([gated, b], 1);
                }
            case Merge.Concat:
                {
                    if (Gate is null) return cat([x, b], 1);
                    using var gated = Gate.Apply(x, b);
                    return cat([gated, b], 1);
                }
            case Merge.PadConcat:
                {
                    var n = (int)b.dim() - 2;
                    var diff = Enumerable.Range(0, n).Select(a => x.shape[2 + a] - b.shape[2 + a]).ToArray();
                    if (diff.All(d => d == 0)) return cat([x, b], 1);
                    // F.pad lists the last axis first: [left, right, top, bottom, front, back].
                    var pad = new long[2 * n];
                    for (var a = 0; a < n; a++)
                    {
                        var d = diff[n - 1 - a];
                        pad[2 * a] = d / 2;
                        pad[2 * a + 1] = d - d / 2;
                    }
                    using var padded = nn.functional.pad(b, pad);
                    return cat([x, padded], 1);
                }
            case Merge.Add:
                return x + b;
            default:
                throw new InvalidOperationException($"unknown merge {Merge}");
        }
    }
}
