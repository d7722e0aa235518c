using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>Decoding for the layouts that build samples themselves (run-length CSV, DSB instances, ISBI slices): one message per failure, naming the file.</summary>
internal static class LayoutImages
{
    /// <summary>An image's planes as the network reads them, with its size.</summary>
    public sealed record Planes(int Height, int Width, float[] Values);

    /// <summary>Decodes page <paramref name="page"/> of <paramref name="path"/> (a single image has page 0 only).</summary>
    /// <exception cref="DatasetException">The file cannot be decoded, or a single image is a stack.</exception>
    public static PlanarImage Decode(string path, LoadOptions options, int page = -1)
    {
        PlanarImage image;
        try
        {
            image = page < 0 ? ImageFile.Read(path, options.Limits) : ImageFile.ReadPage(path, page, options.Limits);
        }
        catch (ImageFormatException e)
        {
            throw new DatasetException($"cannot read {path}: {e.Reason}", e);
        }
        if (page < 0 && image.PageCount > 1)
            throw new DatasetException($"cannot read {path}: it is a stack of {image.PageCount} pages; a dataset folder holds single images");
        return image;
    }

    /// <summary>Decodes an image (page <paramref name="page"/> of a stack when not negative) into <see cref="LoadOptions.Channels"/> planes.</summary>
    /// <exception cref="DatasetException">The file cannot be decoded or has too few channels.</exception>
    public static Planes Read(string path, LoadOptions options, int page = -1)
    {
        var image = Decode(path, options, page);
        var planes = image.ToPlanes(options.Channels)
            ?? throw new DatasetException($"image {path} is {image.ChannelsInWords} but the network reads {options.Channels} channels" +
                                          (options.Channels == 3 ? "; give RGB or RGBA images" : ""));
        return new Planes(image.Height, image.Width, planes);
    }

    /// <summary>The mask values of a decoded mask, mapped by the schema to classes.</summary>
    /// <exception cref="DatasetException">Float samples that are no labels.</exception>
    /// <exception cref="LabelSchemaException">A value the schema does not map.</exception>
    public static int[] Classes(PlanarImage mask, LabelSchema schema, string name)
    {
        int[] values;
        try
        {
            values = mask.ToLabelValues();
        }
        catch (ImageFormatException e)
        {
            throw new DatasetException($"cannot read {mask.Path} as a mask: {e.Reason}", e);
        }
        return schema.Apply(values, mask.Width, name);
    }
}
