using System.IO;
using CropCat.Architecture;
using CropCat.Shapes;

namespace CropCat.Nets;

/// <summary>Networks from stored descriptions.</summary>
public static class NetworkDescriptions
{
    /// <summary>Builds the (untrained) network of <paramref name="description"/> on the default device (or <paramref name="device"/>).</summary>
    /// <exception cref="InvalidDataException">See <see cref="NetworkDescription.ToSpec"/>; also a description that cannot work at any size.</exception>
    public static Network Build(this NetworkDescription description, TorchSharp.torch.Device? device = null)
    {
        var spec = description.ToSpec();
        try
        {
            return Network.Create(spec, description.Kind == NetworkDescription.UNetKind ? "UNet" : "CropCat", device);
        }
        catch (ShapeException e)
        {
            throw new InvalidDataException($"the stored description cannot be built: {e.Message}");
        }
    }
}
