using System;
using CropCat.Numerics;
using static TorchSharp.torch;

namespace CropCat.Inference;

/// <summary>
/// The input of streamed overlap-tile prediction (<see cref="StreamingOverlapTile"/>): a (C, H, W) image that is read
/// window by window instead of held whole, e.g. a TIFF larger than memory (<see cref="TiffTileSource"/>).
/// </summary>
public interface ITileSource
{
    /// <summary>Channels the windows hold (the net's input channels).</summary>
    int Channels { get; }

    /// <summary>Height of the image in pixels.</summary>
    int Height { get; }

    /// <summary>Width of the image in pixels.</summary>
    int Width { get; }

    /// <summary>
    /// The window rows [<paramref name="top"/>, top + size) x columns [<paramref name="left"/>, left + size) of the
    /// image's mirror extension (<see cref="Mirror"/>, numpy's reflect; coordinates may lie outside the image), as
    /// <see cref="Channels"/> planes of size x size float values, channel-major: exactly the values
    /// <see cref="OverlapTile"/> cuts from the whole image held in memory.
    /// </summary>
    float[] ReadWindow(long top, long left, int size);
}

/// <summary>A (C, H, W) or (H, W) image held in memory as a tile source: the reference the streamed path is tested against.</summary>
public sealed class TensorTileSource : ITileSource, IDisposable
{
    private readonly Tensor _image;

    /// <summary>A source over <paramref name="image"/> (copied to a float32 CPU tensor; the caller keeps its own).</summary>
    /// <exception cref="ArgumentException">Not (C, H, W) or (H, W).</exception>
    public TensorTileSource(Tensor image)
    {
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (image.dim() is not (2 or 3)) throw new ArgumentException($"a tile source holds an image (C, H, W) or (H, W), got shape [{string.Join(", ", image.shape)}]");
        using var scope = NewDisposeScope();
        var t = image.dim() == 2 ? image.unsqueeze(0) : image.alias();
        _image = t.to(ScalarType.Float32).cpu().contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public int Channels => (int)_image.shape[0];

    /// <inheritdoc />
    public int Height => (int)_image.shape[1];

    /// <inheritdoc />
    public int Width => (int)_image.shape[2];

    /// <inheritdoc />
    public float[] ReadWindow(long top, long left, int size)
    {
        using var window = Mirror.Window(_image, top, left, size, size);
        using var flat = window.contiguous();
        return flat.data<float>().ToArray();
    }

    /// <summary>Frees the source's copy of the image.</summary>
    public void Dispose() => _image.Dispose();
}
