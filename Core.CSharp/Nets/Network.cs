using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;
using CropCat.Layers;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>
/// A CropCat network as a TorchSharp module, built from and carrying its description (<see cref="Spec"/>):
/// the description's runtime layers, whose trainable modules are registered explicitly under readable,
/// stable names ("enc1.conv1.weight", "dec3.up.weight", "head.weight"), so parameters(), state_dict(),
/// train()/eval() and checkpoints see every weight. Every forward checks the input shape first, so a size
/// the net cannot take fails with a <see cref="ShapeException"/> before any activation is allocated.
/// </summary>
public sealed partial class Network : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, Scope> _scopes = new();
    private readonly Named _named;

    /// <summary>Builds the runtime layers of <paramref name="spec"/> (fresh He-initialised weights) and registers them.</summary>
    /// <param name="spec">The description.</param>
    /// <param name="name">Module name.</param>
    /// <exception cref="ShapeException">The description cannot work at any size (zero channels, bad dropout, ...); the message names the layer.</exception>
    public Network(NetSpec spec, string name = "CropCat") : base(name)
    {
        NativeRuntime.EnsureLoaded();
        _named = spec.Named;
        if (spec.Check() is { } e) throw e.ToException();
        Spec = spec;
        Root = spec.Body.Build(_named, spec.InChannels, spec.Dims);
        foreach (var layer in Flatten(Root))
            foreach (var (scope, local, module) in layer.Modules)
            {
                if (local.Length == 0) register_module(scope, module);
                else ScopeFor(scope).Add(local, module);
            }
        Layout = spec.Dims == 2 ? MemoryLayouts.Default : MemoryLayout.Contiguous;
    }

    /// <summary>Builds <paramref name="spec"/> as a network on <see cref="Devices.Default"/> (or <paramref name="device"/>).</summary>
    public static Network Create(NetSpec spec, string name = "CropCat", Device? device = null)
    {
        var net = new Network(spec, name);
        net.to(device ?? Devices.Default);
        return net;
    }

    /// <summary>The description the network was built from: shapes, names, parameter counts and valid sizes come from it.</summary>
    public NetSpec Spec { get; }

    /// <summary>The description as a checkpoint stores it.</summary>
    public NetworkDescription Description => NetworkDescription.Of(Spec);

    /// <summary>The valid input sizes of every axis (<see cref="ValidSizes.Solve"/> of <see cref="Spec"/>), solved once per network.</summary>
    public SolveOutcome Sizes => _sizes ??= ValidSizes.Solve(Spec);

    private SolveOutcome? _sizes;

    /// <summary>The runtime layer tree.</summary>
    public Layer Root { get; }

    /// <summary>Channels the input must have.</summary>
    public int InChannels => Spec.InChannels;

    /// <summary>Spatial axes of the input (2 for images, 3 for volumes).</summary>
    public int Dims => Spec.Dims;

    /// <summary>Trainable parameters, from the description (equals the sum over parameters()).</summary>
    public long ParameterCount => Spec.Body.Parameters(_named, Spec.InChannels, Spec.Dims);

    /// <summary>All layers of the tree, depth first.</summary>
    public static IEnumerable<Layer> Flatten(Layer root) =>
        new[] { root }.Concat(root.Children.SelectMany(Flatten));

    /// <summary>The output shape for an input of the given spatial <paramref name="extents"/> (2-D: height, width).</summary>
    /// <exception cref="ShapeException">Some layer refuses; the message names it and the axis.</exception>
    public Shape Infer(params int[] extents) => InferAll(extents).Output;

    /// <summary>Every layer's output shape and parameter count for the given input, in execution order.</summary>
    public IReadOnlyList<ShapeTrace> Trace(params int[] extents) => InferAll(extents).Rows;

    private Inferred InferAll(int[] extents)
    {
        var o = Spec.TryInfer(_named, extents);
        return o.Value ?? throw o.Error!.ToException();
    }

    /// <summary>
    /// Computes class logits for a batch (N, C, spatial...) after checking the shape; the result is contiguous. A
    /// description with an <see cref="NetSpec.Normalization"/> normalises the batch first (the input is not changed).
    /// </summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != Dims + 2)
        {
            var form = Dims switch { 2 => "(N, C, H, W)", 3 => "(N, C, D, H, W)", _ => "(N, C, W)" };
            throw new ArgumentException($"CropCat expects a {Dims + 2}-D batch {form}, got shape [{string.Join(", ", x.shape)}]");
        }
        if (x.shape[1] != InChannels)
            throw new ShapeException("input", $"the network expects {InChannels} input channels, got {x.shape[1]}");
        InferAll(x.shape[2..].Select(v => (int)v).ToArray());
        // Each module casts its input to its own dtype, so an fp32 image reaches an fp32-kept first
        // convolution unrounded; the logits always leave as fp32.
        var logits = Forward(x);
        if (logits.dtype == ScalarType.Float32 || x.dtype != ScalarType.Float32) return logits;
        using (logits) return logits.to_type(ScalarType.Float32);
    }

    private Tensor Forward(Tensor x)
    {
        if (Spec.Normalization is not { } n) return ForwardIn(x, _layout == MemoryLayout.Auto ? AutoLayout(x) : _layout);
        using var normalized = InputNormalizer.Apply(n, x);
        return ForwardIn(normalized, _layout == MemoryLayout.Auto ? AutoLayout(normalized) : _layout);
    }

    private Tensor ForwardIn(Tensor x, MemoryLayout layout)
    {
        if (layout != _active) Activate(layout);
        if (layout == MemoryLayout.Contiguous) return Root.Forward(x);
        // The input is re-strided once so every layer runs the weights' layout; the logits are
        // returned as plain NCHW because callers read them densely (argmax, data<T>(), PNG writers).
        using var input = MemoryLayouts.To(x, layout);
        using var y = Root.Forward(input);
        return y.contiguous();
    }

    private Scope ScopeFor(string dotted)
    {
        if (_scopes.TryGetValue(dotted, out var s)) return s;
        var dot = dotted.LastIndexOf('.');
        var scope = new Scope(dot < 0 ? dotted : dotted[(dot + 1)..]);
        if (dot < 0) register_module(dotted, scope);
        else ScopeFor(dotted[..dot]).Add(dotted[(dot + 1)..], scope);
        _scopes[dotted] = scope;
        return scope;
    }

    /// <summary>A named container that only groups parameters ("enc1", "dec3").</summary>
    private sealed class Scope : nn.Module
    {
        public Scope(string name) : base(name) { }
        public void Add(string name, nn.Module m) => register_module(name, m);
    }
}
