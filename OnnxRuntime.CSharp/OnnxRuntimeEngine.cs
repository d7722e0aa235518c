using System;
using System.Linq;
using CropCat.Inference;
using CropCat.Interop.Onnx;
using CropCat.Nets;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.OnnxRuntime;

/// <summary>
/// An overlap-tile engine (<see cref="ITileEngine"/>) that computes each batch of tiles with ONNX Runtime on
/// a CropCat network's ONNX graph (<see cref="OnnxExport"/>), on the CPU. The tiler still plans from the
/// network's description; this engine only replaces the forward pass. ONNX Runtime gets as many intra-op
/// threads as libtorch uses (<c>torch.get_num_threads()</c>), so the two engines compete on equal terms.
/// </summary>
public sealed class OnnxRuntimeEngine : ITileEngine, IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input, _output;
    private readonly RunOptions _run = new();

    /// <summary>An engine on the ONNX model <paramref name="model"/> (a file's bytes or <see cref="OnnxModel.Bytes"/>).</summary>
    /// <param name="model">The ONNX ModelProto.</param>
    /// <param name="threads">Intra-op threads; null for libtorch's count.</param>
    public OnnxRuntimeEngine(byte[] model, int? threads = null)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads ?? torch.get_num_threads(),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        // No spin-waiting between runs: in overlap-tile inference libtorch works between two batches (blending,
        // the next tile's crop), and on a shared machine spinning threads take the cores it needs.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        Threads = options.IntraOpNumThreads;
        _session = new InferenceSession(model, options);
        if (_session.InputMetadata.Count != 1 || _session.OutputMetadata.Count != 1)
            throw new ArgumentException($"a tile engine needs a model of one input and one output, got {_session.InputMetadata.Count} and {_session.OutputMetadata.Count}");
        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.Single();
    }

    /// <summary>An engine on <paramref name="network"/>'s exported graph (exported in memory now).</summary>
    public static OnnxRuntimeEngine For(Network network, int? threads = null) => new(OnnxExport.ToModel(network).Bytes, threads);

    /// <summary>An engine on the ONNX file at <paramref name="path"/>.</summary>
    public static OnnxRuntimeEngine FromFile(string path, int? threads = null) => new(System.IO.File.ReadAllBytes(path), threads);

    /// <summary>The model's metadata_props (an exported CropCat model holds its description and valid sizes there).</summary>
    public System.Collections.Generic.IReadOnlyDictionary<string, string> Metadata => _session.ModelMetadata.CustomMetadataMap;

    /// <summary>ONNX Runtime's intra-op threads.</summary>
    public int Threads { get; }

    /// <inheritdoc />
    public string Name => "onnxruntime";

    /// <inheritdoc />
    public Device Device => CPU;

    /// <inheritdoc />
    public Tensor Forward(Tensor batch)
    {
        using var scope = NewDisposeScope();
        var dense = batch.to_type(ScalarType.Float32).cpu().contiguous();
        var values = dense.data<float>().ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(values, dense.shape);
        using var results = _session.Run(_run, [_input], [input], [_output]);
        var y = results[0];
        var shape = y.GetTensorTypeAndShape().Shape;
        // Copied into a libtorch tensor: the ONNX Runtime buffer dies with the results.
        return tensor(y.GetTensorDataAsSpan<float>().ToArray(), shape).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the ONNX Runtime session.</summary>
    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
