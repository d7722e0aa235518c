using CropCat.Imaging;

namespace CropCat.Data;

/// <summary>Header reads for dataset layouts: an unreadable header is a <see cref="DatasetException"/> naming the file, as a failed decode is.</summary>
internal static class Headers
{
    /// <summary>The header of <paramref name="path"/>.</summary>
    /// <exception cref="DatasetException">The file cannot be read or its header is bad or over the budget.</exception>
    public static ImageHeader Probe(string path, ImageLimits? limits)
    {
        try
        {
            return ImageFile.Probe(path, limits);
        }
        catch (ImageFormatException e)
        {
            throw new DatasetException($"cannot read {path}: {e.Reason}", e);
        }
    }

    /// <summary>The header of a single image (not a stack), as the folder layouts need.</summary>
    /// <exception cref="DatasetException">Unreadable, or a stack of several pages.</exception>
    public static ImageHeader ProbeSingle(string path, ImageLimits? limits)
    {
        var h = Probe(path, limits);
        if (h.Pages > 1)
            throw new DatasetException($"cannot read {path}: it is a stack of {h.Pages} pages; a dataset folder holds single images");
        return h;
    }

    /// <summary>Refuses an image that cannot give the network's channels, with <see cref="FolderDataset.LoadPair"/>'s message.</summary>
    /// <exception cref="DatasetException">A 3-channel net and an image with fewer than 3 channels.</exception>
    public static void CheckChannels(string path, ImageHeader h, int channels)
    {
        if (channels == 3 && h.Channels < 3)
            throw new DatasetException($"image {path} is {Words(h.Channels)} but the network reads {channels} channels; give RGB or RGBA images");
        if (channels is not (1 or 3))
            throw new DatasetException($"image {path}: the network reads {channels} channels; dataset layouts give 1 (gray) or 3 (RGB)");
    }

    /// <summary>Refuses a mask whose size is not its image's, with <see cref="FolderDataset.LoadPair"/>'s message.</summary>
    /// <exception cref="DatasetException">The sizes differ.</exception>
    public static void CheckSameSize(string imagePath, ImageHeader image, string maskPath, ImageHeader mask)
    {
        if (image.Width != mask.Width || image.Height != mask.Height)
            throw new DatasetException($"mask {maskPath} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
    }

    private static string Words(int channels) => channels switch { 1 => "gray", 2 => "gray+alpha", 3 => "RGB", 4 => "RGBA", _ => $"{channels} channels" };
}
