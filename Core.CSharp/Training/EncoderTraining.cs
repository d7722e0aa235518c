using System;
using System.Collections.Generic;
using System.Linq;
using CropCat.Architecture;
using CropCat.Nets;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.Training;

/// <summary>
/// The pretrained encoder's part in training (<see cref="TrainerOptions.EncoderLearningRate"/>,
/// <see cref="TrainerOptions.FreezeEncoderEpochs"/>): its parameters (named "encoder.*"), the optimizer's parameter
/// groups, and freezing (no gradients, batch norm in eval mode).
/// </summary>
internal sealed class EncoderTraining
{
    private readonly Network _net;
    private readonly List<Parameter> _encoder;
    private readonly List<Parameter> _rest;
    private readonly List<BatchNorm> _norms;
    private bool _frozen;

    public EncoderTraining(Network net)
    {
        _net = net;
        var named = net.named_parameters().ToList();
        _encoder = named.Where(p => IsEncoder(p.name)).Select(p => p.parameter).ToList();
        _rest = named.Where(p => !IsEncoder(p.name)).Select(p => p.parameter).ToList();
        _norms = net.named_modules().Where(m => IsEncoder(m.name + ".") && m.module is BatchNorm).Select(m => (BatchNorm)m.module).ToList();
        Names = named.Where(p => IsEncoder(p.name)).Select(p => p.name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Whether a parameter or module path belongs to the encoder.</summary>
    public static bool IsEncoder(string name) => name.StartsWith(ResNetUNets.EncoderPrefix, StringComparison.Ordinal);

    /// <summary>The encoder's parameter names.</summary>
    public IReadOnlySet<string> Names { get; }

    /// <summary>Whether the net has an encoder at all.</summary>
    public bool Any => _encoder.Count > 0;

    /// <summary>
    /// The optimizer: one group over every parameter (no encoder rate), or two, the decoder and head at
    /// <paramref name="o"/>.LearningRate first and the encoder at its own rate second.
    /// </summary>
    public optim.Optimizer Optimizer(TrainerOptions o)
    {
        if (o.EncoderLearningRate is not { } elr)
            return o.Optimizer switch
            {
                OptimizerKind.Sgd => optim.SGD(_net.parameters(), o.LearningRate, o.Momentum, weight_decay: o.WeightDecay),
                OptimizerKind.Adam => optim.Adam(_net.parameters(), o.LearningRate, weight_decay: o.WeightDecay),
                _ => throw new ArgumentOutOfRangeException(nameof(o), o.Optimizer, "unknown optimizer"),
            };
        return o.Optimizer switch
        {
            OptimizerKind.Sgd => optim.SGD(
                [new SGD.ParamGroup(_rest, new SGD.Options { LearningRate = o.LearningRate }), new SGD.ParamGroup(_encoder, new SGD.Options { LearningRate = elr })],
                o.LearningRate, o.Momentum, weight_decay: o.WeightDecay),
            OptimizerKind.Adam => optim.Adam(
                [new Adam.ParamGroup(_rest, new Adam.Options { LearningRate = o.LearningRate }), new Adam.ParamGroup(_encoder, new Adam.Options { LearningRate = elr })],
                o.LearningRate, weight_decay: o.WeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Optimizer, "unknown optimizer"),
        };
    }

    /// <summary>The base learning rate of each parameter group, in the optimizer's order.</summary>
    public static double[] BaseRates(TrainerOptions o) =>
        o.EncoderLearningRate is { } elr ? [o.LearningRate, elr] : [o.LearningRate];

    /// <summary>Whether the encoder is frozen in the epoch after <paramref name="completedEpochs"/> completed ones.</summary>
    public static bool FrozenAt(TrainerOptions o, int completedEpochs) => completedEpochs < o.FreezeEncoderEpochs;

    /// <summary>
    /// Whether the encoder has had any optimisation step by a checkpoint at <paramref name="epoch"/> completed epochs and
    /// <paramref name="epochStep"/> steps into the next: not while every step so far fell in frozen epochs.
    /// </summary>
    public static bool SteppedBy(TrainerOptions o, int epoch, int epochStep) =>
        epoch > o.FreezeEncoderEpochs || (epoch == o.FreezeEncoderEpochs && epochStep > 0);

    /// <summary>
    /// Freezes or releases the encoder for the next step: gradients off or on for its parameters, and (while frozen and
    /// the net trains) its batch norms in eval mode. Called before every step, since <c>train()</c> puts them back.
    /// </summary>
    public void Apply(bool frozen)
    {
        if (frozen != _frozen)
        {
            foreach (var p in _encoder) p.requires_grad = !frozen;
            _frozen = frozen;
        }
        if (frozen && _net.training)
            foreach (var n in _norms) n.eval();
    }

    /// <summary>Gives the encoder back trainable (gradients on, batch norm following the net's mode).</summary>
    public void Release()
    {
        if (!_frozen) return;
        Apply(false);
        if (_net.training) _net.train();
    }
}
