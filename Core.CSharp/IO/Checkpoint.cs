using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using CropCat.Architecture;
using CropCat.Data;
using CropCat.Nets;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CropCat.IO;

/// <summary>A checkpoint does not fit the network or optimizer it is loaded into; the message lists every mismatch.</summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Creates the error.</summary>
    public CheckpointMismatchException(string message) : base(message) { }
}

/// <summary>What a checkpoint says besides its tensors.</summary>
/// <param name="Architecture">The network description.</param>
/// <param name="Labels">The label schema the net was trained with.</param>
/// <param name="Epoch">Completed epochs.</param>
/// <param name="Step">Completed optimisation steps.</param>
/// <param name="Optimizer">"sgd", "adam" or "" when no optimizer state is stored.</param>
/// <param name="Extra">Any further metadata (training options, seed).</param>
public sealed record CheckpointInfo(NetworkDescription Architecture, LabelSchema Labels, int Epoch, long Step, string Optimizer, IReadOnlyDictionary<string, string> Extra)
{
    /// <summary>
    /// Steps already done in the epoch after the <see cref="Epoch"/> completed ones: non-zero when training
    /// stopped mid-epoch (a step limit or time budget), so that a resumed run finishes that epoch's order.
    /// </summary>
    public int EpochStep { get; init; }
}

/// <summary>
/// Checkpoints as safetensors files: the network's state ("model.enc1.conv1.weight", ...), the optimizer's
/// per-parameter state ("optim.enc1.conv1.weight.momentum_buffer", Adam's exp_avg / exp_avg_sq / step), and
/// metadata (format, architecture kind and JSON, label schema, epoch, step, optimizer). Written atomically,
/// so a crash or a diverged run never damages the last good checkpoint.
/// </summary>
public static class Checkpoint
{
    /// <summary>The format tag stored under "format".</summary>
    public const string Format = "cropcat-checkpoint/1";

    /// <summary>Writes the checkpoint (the optimizer may be null for weights only).</summary>
    public static void Save(string path, Network net, optim.Optimizer? optimizer, CheckpointInfo info)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, t) in net.state_dict()) tensors["model." + name] = t;
        var kind = optimizer is null ? "" : OptimizerState.Export(net, optimizer, tensors);
        var meta = new Dictionary<string, string>(info.Extra)
        {
            ["format"] = Format,
            ["architecture.kind"] = info.Architecture.Kind,
            ["architecture"] = info.Architecture.Json,
            ["labels"] = info.Labels.ToJson(),
            ["epoch"] = info.Epoch.ToString(CultureInfo.InvariantCulture),
            ["step"] = info.Step.ToString(CultureInfo.InvariantCulture),
            ["epoch_step"] = info.EpochStep.ToString(CultureInfo.InvariantCulture),
            ["optimizer"] = kind,
        };
        Safetensors.Write(path, tensors, meta);
    }

    /// <summary>Reads only the metadata of a checkpoint.</summary>
    /// <exception cref="SafetensorsException">Corrupt file, or not a CropCat checkpoint.</exception>
    public static CheckpointInfo ReadInfo(string path)
    {
        var (tensors, meta) = Safetensors.Read(path);
        foreach (var t in tensors.Values) t.Dispose();
        return Info(path, meta);
    }

    /// <summary>
    /// Reads the checkpoint at <paramref name="path"/>, rebuilds the network its description names (any kind
    /// CropCat has written) and loads the weights (no optimizer state). The caller owns the network.
    /// </summary>
    /// <exception cref="System.IO.FileNotFoundException">No such file.</exception>
    /// <exception cref="SafetensorsException">A corrupt file or not a CropCat checkpoint.</exception>
    /// <exception cref="System.IO.InvalidDataException">The stored description cannot be rebuilt (the message names the file).</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not fit the rebuilt network.</exception>
    public static (Network Network, CheckpointInfo Info) LoadNetwork(string path, Device? device = null)
    {
        var info = ReadInfo(path);
        Network net;
        try
        {
            net = info.Architecture.Build(device);
        }
        catch (System.IO.InvalidDataException e)
        {
            throw new System.IO.InvalidDataException($"checkpoint {path}: {e.Message}", e);
        }
        try
        {
            return (net, Load(path, net));
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the weights into <paramref name="net"/> and, when given, the state into <paramref name="optimizer"/>.
    /// Nothing is changed unless every tensor fits. The optimizer may have several parameter groups: its state is
    /// stored per parameter name, whatever group a parameter is in.
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="net">The network to load the weights into.</param>
    /// <param name="optimizer">The optimizer to load the state into, or null for weights only.</param>
    /// <param name="unsteppedParameters">
    /// Parameters the run has not updated yet (a frozen encoder): SGD has no momentum buffer for them, so its absence
    /// is expected rather than refused. Null: every parameter has been stepped once the checkpoint's step is above 0.
    /// </param>
    /// <exception cref="CheckpointMismatchException">Missing, unexpected or mis-shaped keys (all listed), or another optimizer kind.</exception>
    public static CheckpointInfo Load(string path, Network net, optim.Optimizer? optimizer = null, IReadOnlySet<string>? unsteppedParameters = null)
    {
        var (tensors, meta) = Safetensors.Read(path);
        try
        {
            var info = Info(path, meta);
            var state = net.state_dict();
            var problems = new List<string>();
            var stored = tensors.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(k => k["model.".Length..], k => tensors[k]);
            var missing = state.Keys.Where(k => !stored.ContainsKey(k)).ToList();
            var unexpected = stored.Keys.Where(k => !state.ContainsKey(k)).ToList();
            var misShaped = state.Keys.Where(stored.ContainsKey)
                .Where(k => !state[k].shape.SequenceEqual(stored[k].shape) || state[k].dtype != stored[k].dtype)
                .Select(k => $"{k} (net [{string.Join(", ", state[k].shape)}] {state[k].dtype}, file [{string.Join(", ", stored[k].shape)}] {stored[k].dtype})")
                .ToList();
            if (missing.Count > 0) problems.Add("missing: " + string.Join(", ", missing));
            if (unexpected.Count > 0) problems.Add("unexpected: " + string.Join(", ", unexpected));
            if (misShaped.Count > 0) problems.Add("mis-shaped: " + string.Join("; ", misShaped));
            if (problems.Count > 0)
                throw new CheckpointMismatchException($"checkpoint {path} does not fit this network ({info.Architecture.Kind} {info.Architecture.Json}): {string.Join(" | ", problems)}");
            // Weights only at step 0 (an imported or freshly exported net): a new optimizer state is exactly right.
            var weightsOnly = info.Optimizer == "" && info.Step == 0;
            if (optimizer is not null && !weightsOnly) OptimizerState.Check(path, net, optimizer, info, tensors, unsteppedParameters);
            using (no_grad())
            {
                foreach (var (k, t) in state) t.copy_(stored[k]);
            }
            if (optimizer is not null && !weightsOnly) OptimizerState.Import(net, optimizer, tensors);
            return info;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static CheckpointInfo Info(string path, Dictionary<string, string> meta)
    {
        string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new SafetensorsException(path, $"not a CropCat checkpoint: metadata '{key}' is missing");
        if (Get("format") != Format) throw new SafetensorsException(path, $"checkpoint format '{meta["format"]}' is not {Format}");
        var known = new HashSet<string> { "format", "architecture.kind", "architecture", "labels", "epoch", "step", "epoch_step", "optimizer" };
        // Checkpoints written before epoch_step existed stopped only at epoch boundaries as far as they knew.
        var epochStep = meta.TryGetValue("epoch_step", out var es) ? int.Parse(es, CultureInfo.InvariantCulture) : 0;
        return new CheckpointInfo(
            new NetworkDescription(Get("architecture.kind"), Get("architecture")),
            LabelSchema.FromJson(Get("labels")),
            int.Parse(Get("epoch"), CultureInfo.InvariantCulture),
            long.Parse(Get("step"), CultureInfo.InvariantCulture),
            Get("optimizer"),
            meta.Where(p => !known.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value))
        { EpochStep = epochStep };
    }
}

/// <summary>Moves the per-parameter state of TorchSharp's SGD and Adam to and from named tensors.</summary>
internal static class OptimizerState
{
    /// <summary>
    /// Each parameter's optimizer state with the parameter's name: the states come in the optimizer's order (group by
    /// group), so each is named through its parameter, not by position in the network.
    /// </summary>
    private static List<(string Name, OptimizerState_ State)> States(Network net, optim.Optimizer optimizer)
    {
        var helper = optimizer as OptimizerHelper ?? throw new NotSupportedException($"optimizer {optimizer.GetType().Name} cannot be checkpointed");
        var nameOf = net.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        var parameters = helper.parameters().ToList();
        var states = helper.state_dict().State;
        if (states.Count != nameOf.Count || parameters.Count != states.Count)
            throw new InvalidOperationException($"the optimizer holds {states.Count} parameter states but the network has {nameOf.Count} parameters; create it over net.parameters()");
        return parameters.Select((p, i) => nameOf.TryGetValue(p.Handle, out var n)
                ? (n, new OptimizerState_(states[i]))
                : throw new InvalidOperationException("the optimizer holds a parameter the network does not have; create it over net.parameters()"))
            .ToList();
    }

    public static string KindOf(optim.Optimizer o) => o switch
    {
        SGD => "sgd",
        Adam => "adam",
        _ => throw new NotSupportedException($"optimizer {o.GetType().Name} cannot be checkpointed (SGD and Adam can)"),
    };

    public static string Export(Network net, optim.Optimizer optimizer, Dictionary<string, Tensor> into)
    {
        var kind = KindOf(optimizer);
        foreach (var (name, s) in States(net, optimizer))
            foreach (var (field, t) in s.Tensors())
                into[$"optim.{name}.{field}"] = t;
        return kind;
    }

    public static void Check(string path, Network net, optim.Optimizer optimizer, CheckpointInfo info, Dictionary<string, Tensor> tensors, IReadOnlySet<string>? unstepped)
    {
        var kind = KindOf(optimizer);
        var stored = info.Optimizer;
        if (stored != kind)
            throw new CheckpointMismatchException($"checkpoint {path} holds {(stored.Length == 0 ? "no optimizer state" : $"'{stored}' optimizer state")}, but a '{kind}' optimizer was given");
        var missing = new List<string>();
        foreach (var (name, s) in States(net, optimizer))
            foreach (var field in s.Fields)
                if (!tensors.ContainsKey($"optim.{name}.{field}") && !(field == "momentum_buffer" && (NoMomentumYet(optimizer, info) || unstepped?.Contains(name) == true)))
                    missing.Add($"optim.{name}.{field}");
        if (missing.Count > 0) throw new CheckpointMismatchException($"checkpoint {path}: optimizer state missing: {string.Join(", ", missing)}");
    }

    /// <summary>
    /// SGD holds no momentum buffer before its first step, or at all with momentum 0; after a step with
    /// momentum a missing buffer would silently restart the run without momentum, so it is an error then.
    /// </summary>
    private static bool NoMomentumYet(optim.Optimizer optimizer, CheckpointInfo info) =>
        info.Step == 0 || optimizer is SGD { Momentum: 0 };

    public static void Import(Network net, optim.Optimizer optimizer, Dictionary<string, Tensor> tensors)
    {
        foreach (var (name, s) in States(net, optimizer))
            s.Load(name, tensors);
    }

    /// <summary>Uniform access to SGD.State and Adam.State.</summary>
    private sealed class OptimizerState_(TorchSharp.Modules.OptimizerState s)
    {
        public IEnumerable<string> Fields => s switch
        {
            SGD.State => ["momentum_buffer"],
            Adam.State => ["step", "exp_avg", "exp_avg_sq"],
            _ => [],
        };

        public IEnumerable<(string, Tensor)> Tensors()
        {
            switch (s)
            {
                case SGD.State g:
                    // Before the first step SGD has no momentum buffer yet; then there is nothing to store.
                    if (g.momentum_buffer is not null) yield return ("momentum_buffer", g.momentum_buffer);
                    break;
                case Adam.State a:
                    yield return ("step", tensor(a.step));
                    yield return ("exp_avg", a.exp_avg);
                    yield return ("exp_avg_sq", a.exp_avg_sq);
                    if (a.max_exp_avg_sq is not null) yield return ("max_exp_avg_sq", a.max_exp_avg_sq);
                    break;
            }
        }

        public void Load(string name, Dictionary<string, Tensor> tensors)
        {
            using var _ = no_grad();
            switch (s)
            {
                case SGD.State g:
                    if (tensors.TryGetValue($"optim.{name}.momentum_buffer", out var m))
                        g.momentum_buffer = Into(g.momentum_buffer, m);
                    break;
                case Adam.State a:
                    a.step = tensors[$"optim.{name}.step"].item<long>();
                    a.exp_avg = Into(a.exp_avg, tensors[$"optim.{name}.exp_avg"]);
                    a.exp_avg_sq = Into(a.exp_avg_sq, tensors[$"optim.{name}.exp_avg_sq"]);
                    if (tensors.TryGetValue($"optim.{name}.max_exp_avg_sq", out var mx))
                        a.max_exp_avg_sq = Into(a.max_exp_avg_sq, mx);
                    break;
            }
        }

        /// <summary>Copies into the live tensor when there is one, else a fresh clone that outlives any dispose scope.</summary>
        private static Tensor Into(Tensor? live, Tensor stored)
        {
            if (live is not null && !live.IsInvalid && live.shape.SequenceEqual(stored.shape))
            {
                live.copy_(stored);
                return live;
            }
            return stored.clone().DetachFromDisposeScope();
        }
    }
}
