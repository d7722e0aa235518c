namespace CropCat.Data;

/// <summary>The entry of one image file with one mask file, shared by the folder, pairs and manifest layouts.</summary>
internal static class PairEntry
{
    /// <summary>
    /// An entry named <paramref name="name"/> (the image's file name when null), sized from the image's header;
    /// both headers are read now so that a missing, unreadable or mis-sized partner is found before training.
    /// </summary>
    /// <exception cref="DatasetException">A header cannot be read, a file is a stack, the sizes differ, or the image has too few channels.</exception>
    public static DatasetEntry Of(string imagePath, string maskPath, LoadOptions options, string? name = null)
    {
        var image = Headers.ProbeSingle(imagePath, options.Limits);
        var mask = Headers.ProbeSingle(maskPath, options.Limits);
        Headers.CheckSameSize(imagePath, image, maskPath, mask);
        Headers.CheckChannels(imagePath, image, options.Channels);
        var entryName = name ?? System.IO.Path.GetFileName(imagePath);
        return new DatasetEntry(entryName, $"{imagePath} + {maskPath}", image.Height, image.Width, () =>
        {
            var s = FolderDataset.LoadPair(imagePath, maskPath, options.Labels, options.Channels, options.Limits);
            // The sample carries the entry's name (a manifest's path), so both name it alike in messages.
            return s.Name == entryName ? s : new Sample(entryName, s.Height, s.Width, s.Image, s.Classes, s.Instances, s.Weights, s.Channels);
        });
    }
}
