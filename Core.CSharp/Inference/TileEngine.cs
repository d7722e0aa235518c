using CropCat.Nets;
using TorchSharp;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// The forward pass that overlap-tile inference runs on each batch of tiles. The tiler plans from the
/// network's description (valid sizes, margins, classes); the engine only computes the function, so
/// another runtime that computes the same function (ONNX Runtime on an exported graph) can take the
/// network's place without a second tiler.
/// </summary>
public interface ITileEngine
{
    /// <summary>A short name for reports ("torchsharp", "onnxruntime").</summary>
    string Name { get; }

    /// <summary>The device the batch of tiles is moved to before <see cref="Forward"/>.</summary>
    Device Device { get; }

    /// <summary>
    /// The network's logits for a (N, C, spatial...) float32 batch on <see cref="Device"/>; called under
    /// no_grad inside the tiler's per-batch dispose scope, so the result may be a new tensor of that scope.
    /// </summary>
    Tensor Forward(Tensor batch);
}

/// <summary>The default engine: the CropCat network itself, in eval mode for the duration of a prediction.</summary>
public sealed class NetworkEngine : ITileEngine
{
    /// <summary>An engine that runs <paramref name="network"/>.</summary>
    public NetworkEngine(Network network) => Network = network;

    /// <summary>The network that computes each batch.</summary>
    public Network Network { get; }

    /// <inheritdoc />
    public string Name => "torchsharp";

    /// <inheritdoc />
    public Device Device => OverlapTile.DeviceOf(Network);

    /// <inheritdoc />
    public Tensor Forward(Tensor batch) => Network.forward(batch);
}
