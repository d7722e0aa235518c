using System;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CropCat.Architecture;

/// <summary>
/// What network a checkpoint belongs to: a kind and a JSON description. CropCat writes kind "CropCat"
/// (<see cref="SpecJson"/>'s free form of the network's <see cref="NetSpec"/>); checkpoints of earlier
/// releases hold kind "UNet" (<see cref="UNetOptions"/> as JSON) or "CropCat.Dsl" (the DSL's JSON text),
/// and still load.
/// </summary>
/// <param name="Kind">Who understands <paramref name="Json"/>: "CropCat", "UNet" or "CropCat.Dsl".</param>
/// <param name="Json">The architecture description.</param>
public sealed record NetworkDescription(string Kind, string Json)
{
    /// <summary>The kind of descriptions in <see cref="SpecJson"/>'s form, as CropCat writes them now.</summary>
    public const string SpecKind = "CropCat";

    /// <summary>The kind of <see cref="UNetOptions"/> JSON, as written before descriptions had one form.</summary>
    public const string UNetKind = "UNet";

    /// <summary>The kind of the F# DSL's JSON text, as written before descriptions had one form.</summary>
    public const string DslKind = "CropCat.Dsl";

    private static readonly JsonSerializerOptions Options = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Describes <paramref name="spec"/> for a checkpoint.</summary>
    public static NetworkDescription Of(NetSpec spec) => new(SpecKind, SpecJson.Write(spec));

    /// <summary>The description of a network of <paramref name="options"/>.</summary>
    public static NetworkDescription FromUNet(UNetOptions options) => Of(UNets.Describe(options));

    /// <summary>The network description this checkpoint entry holds, whichever kind wrote it.</summary>
    /// <exception cref="InvalidDataException">An unknown kind, or a description that does not parse; the message says which.</exception>
    public NetSpec ToSpec()
    {
        try
        {
            return Kind switch
            {
                SpecKind or DslKind => SpecJson.Parse(Json),
                UNetKind => UNets.Describe(ToUNetOptions()),
                _ => throw new InvalidDataException($"unknown network kind '{Kind}' (known: {SpecKind}, {UNetKind}, {DslKind})"),
            };
        }
        catch (DescriptionJsonException e)
        {
            throw new InvalidDataException($"the stored {Kind} description is malformed at {e.Where}: {e.Problem}");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"the stored {Kind} description cannot be built: {e.Message}");
        }
    }

    /// <summary>The U-Net options of a "UNet" description (checkpoints of earlier releases).</summary>
    /// <exception cref="InvalidDataException">Another kind, or JSON that is not UNetOptions.</exception>
    public UNetOptions ToUNetOptions()
    {
        if (Kind != UNetKind) throw new InvalidDataException($"the network is of kind '{Kind}', not '{UNetKind}'");
        try
        {
            return JsonSerializer.Deserialize<UNetOptions>(Json, Options) ?? throw new InvalidDataException("the UNet description is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the UNet description is not valid UNetOptions JSON ({e.Message}): {Json}", e);
        }
    }
}
