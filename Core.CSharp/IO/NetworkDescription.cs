using System;
using System.Text.Json;
using System.Text.Json.Serialization;
using CropCat.Nets;

namespace CropCat.IO;

/// <summary>
/// What network a checkpoint belongs to: a kind ("UNet" for <see cref="UNetOptions"/>) and an opaque JSON
/// description that the library owning that kind can rebuild the net from (the F# DSL stores its own spec
/// under its own kind).
/// </summary>
/// <param name="Kind">Who understands <paramref name="Json"/>: "UNet", or another library's name.</param>
/// <param name="Json">The architecture description.</param>
public sealed record NetworkDescription(string Kind, string Json)
{
    /// <summary>The kind of descriptions made by <see cref="FromUNet"/>.</summary>
    public const string UNetKind = "UNet";

    private static readonly JsonSerializerOptions Options = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Describes a U-Net by its options.</summary>
    public static NetworkDescription FromUNet(UNetOptions options) => new(UNetKind, JsonSerializer.Serialize(options, Options));

    /// <summary>The U-Net options of a "UNet" description.</summary>
    /// <exception cref="InvalidOperationException">Another kind, or JSON that is not UNetOptions.</exception>
    public UNetOptions ToUNetOptions()
    {
        if (Kind != UNetKind) throw new InvalidOperationException($"the network is of kind '{Kind}', not '{UNetKind}'; build it with the library that wrote it");
        try
        {
            return JsonSerializer.Deserialize<UNetOptions>(Json, Options) ?? throw new InvalidOperationException("the UNet description is null");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"the UNet description is not valid UNetOptions JSON ({e.Message}): {Json}", e);
        }
    }

    /// <summary>Builds the network of a "UNet" description.</summary>
    public Network BuildUNet(TorchSharp.torch.Device? device = null) => UNet.Create(ToUNetOptions(), device);
}
