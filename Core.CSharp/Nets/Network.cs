using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Layers;
using CropCat.Runtime;
using CropCat.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Nets;

/// <summary>
/// A CropCat network as a TorchSharp module: a tree of <see cref="Layer"/>s whose trainable
/// modules are registered explicitly under readable, stable names ("enc1.conv1.weight",
/// "dec3.up.weight", "head.weight"), so parameters(), state_dict(), train()/eval() and
/// checkpoints see every weight. Every forward checks the input shape first, so a size the
/// net cannot take fails with a <see cref="ShapeException"/> before any activation is allocated.
/// </summary>
public sealed partial class Network : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, Scope> _scopes = new();

    /// <summary>Wraps <paramref name="root"/> and registers every module in it.</summary>
    /// <param name="root">The layer tree.</param>
    /// <param name="inChannels">Channels of the input image.</param>
    /// <param name="name">Module name.</param>
    public Network(Layer root, int inChannels, string name = "CropCat") : base(name)
    {
        NativeRuntime.EnsureLoaded();
        Root = root;
        InChannels = inChannels;
        foreach (var layer in Flatten(root))
            foreach (var (scope, local, module) in layer.Modules)
            {
                if (local.Length == 0) register_module(scope, module);
                else ScopeFor(scope).Add(local, module);
            }
        Layout = MemoryLayouts.Default;
    }

    /// <summary>The layer tree.</summary>
    public Layer Root { get; }

    /// <summary>Channels the input image must have.</summary>
    public int InChannels { get; }

    /// <summary>Trainable parameters, from the hyperparameters (equals the sum over parameters()).</summary>
    public long ParameterCount => Root.ParameterCount;

    /// <summary>All layers of the tree, depth first.</summary>
    public static IEnumerable<Layer> Flatten(Layer root) =>
        new[] { root }.Concat(root.Children.SelectMany(Flatten));

    /// <summary>The output shape for an input of <paramref name="height"/> x <paramref name="width"/>.</summary>
    /// <exception cref="ShapeException">Some layer refuses; the message names it.</exception>
    public Shape Infer(int height, int width) => Root.Infer(new Shape(InChannels, height, width));

    /// <summary>Every layer's output shape and parameter count for the given input, in execution order.</summary>
    public IReadOnlyList<ShapeTrace> Trace(int height, int width)
    {
        var rows = new List<ShapeTrace>();
        Root.Infer(new Shape(InChannels, height, width), rows);
        return rows;
    }

    /// <summary>Computes class logits for a batch (N, C, H, W) after checking the shape; the result is NCHW-contiguous.</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4)
            throw new ArgumentException($"CropCat expects a 4-D batch (N, C, H, W), got shape [{string.Join(", ", x.shape)}]");
        Root.Infer(new Shape((int)x.shape[1], (int)x.shape[2], (int)x.shape[3]));
        // Each module casts its input to its own dtype, so an fp32 image reaches an fp32-kept first
        // convolution unrounded; the logits always leave as fp32.
        var logits = Forward(x);
        if (logits.dtype == ScalarType.Float32 || x.dtype != ScalarType.Float32) return logits;
        using (logits) return logits.to_type(ScalarType.Float32);
    }

    private Tensor Forward(Tensor x)
    {
        var layout = _layout == MemoryLayout.Auto ? AutoLayout(x) : _layout;
        return ForwardIn(x, layout);
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
