using System;
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Bench;

/// <summary>
/// One timed benchmark case: a network with its input (and, for training, target, weight map and
/// optimizer). Each <see cref="RunOnce"/> is one repetition inside its own dispose scope.
/// </summary>
public abstract class BenchCase : IDisposable
{
    /// <summary>Runs one repetition and returns its wall time in seconds.</summary>
    public abstract double RunOnce();

    /// <inheritdoc />
    public abstract void Dispose();

    /// <summary>
    /// Batch-1 forward in eval mode under no_grad, the output disposed at the end of the repetition.
    /// </summary>
    public static BenchCase Forward(nn.Module<Tensor, Tensor> net, int inChannels, int size, int seed = 1) =>
        new ForwardCase(net, inChannels, size, seed);

    /// <summary>A tensor drawn on the CPU from a seeded generator, moved to <see cref="Runtime.Devices.Default"/>.</summary>
    private static Tensor OnDevice(Tensor t)
    {
        var d = Runtime.Devices.Default;
        if (d.type == DeviceType.CPU) return t;
        var moved = t.to(d);
        t.Dispose();
        return moved;
    }

    /// <summary>
    /// One training step at batch 1: forward, pixel-weighted cross-entropy, backward, SGD step with
    /// momentum 0.99 (the paper's recipe). <paramref name="outSize"/> is the net's output edge length.
    /// </summary>
    public static BenchCase TrainStep(nn.Module<Tensor, Tensor> net, int inChannels, int size, int outSize, int classes, int seed = 1) =>
        new TrainCase(net, inChannels, size, outSize, classes, seed);

    private sealed class ForwardCase : BenchCase
    {
        private readonly nn.Module<Tensor, Tensor> _net;
        private readonly Tensor _x;

        public ForwardCase(nn.Module<Tensor, Tensor> net, int inChannels, int size, int seed)
        {
            _net = net;
            _net.eval();
            using var g = new Generator((ulong)seed);
            _x = OnDevice(rand(new long[] { 1, inChannels, size, size }, generator: g));
        }

        public override double RunOnce()
        {
            var sw = Stopwatch.StartNew();
            using (no_grad())
            using (NewDisposeScope())
            {
                using var y = _net.call(_x);
            }
            return sw.Elapsed.TotalSeconds;
        }

        public override void Dispose() => _x.Dispose();
    }

    private sealed class TrainCase : BenchCase
    {
        private readonly nn.Module<Tensor, Tensor> _net;
        private readonly Tensor _x, _target, _weight;
        private readonly optim.Optimizer _sgd;

        public TrainCase(nn.Module<Tensor, Tensor> net, int inChannels, int size, int outSize, int classes, int seed)
        {
            _net = net;
            _net.train();
            using var g = new Generator((ulong)seed);
            _x = OnDevice(rand(new long[] { 1, inChannels, size, size }, generator: g));
            _target = OnDevice(randint(0, classes, new long[] { 1, outSize, outSize }, generator: g));
            // A weight map of the paper's range (1 .. 11) without the cost of computing one.
            _weight = OnDevice(rand(new long[] { 1, outSize, outSize }, generator: g).mul_(10).add_(1));
            // A tiny learning rate keeps the weights finite over many repetitions; speed does not depend on it.
            _sgd = optim.SGD(_net.parameters(), 1e-7, momentum: 0.99);
        }

        public override double RunOnce()
        {
            var sw = Stopwatch.StartNew();
            using (NewDisposeScope())
            {
                _sgd.zero_grad();
                using var logits = _net.call(_x);
                using var ce = nn.functional.cross_entropy(logits, _target, reduction: nn.Reduction.None);
                using var weighted = ce.mul_(_weight);
                using var loss = weighted.mean();
                loss.backward();
                _sgd.step();
            }
            return sw.Elapsed.TotalSeconds;
        }

        public override void Dispose()
        {
            _x.Dispose();
            _target.Dispose();
            _weight.Dispose();
        }
    }
}
