namespace CropCat.Imaging;

/// <summary>
/// What an image file's header says, read by <see cref="ImageFile.Probe"/> without decoding pixels: enough for a
/// dataset to size its samples and plan tiles before any image is loaded.
/// </summary>
/// <param name="Format">The format, from the file's magic bytes.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">
/// The channels <see cref="ImageFile.Read"/> gives: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (a palette PNG is RGB, or
/// RGBA with a tRNS chunk). A GIF is 1 when every colour of its palettes is an opaque gray; Read also gives 1 for
/// a GIF whose colours that are used are all gray, so a GIF whose palette holds colours its pixels never use is 3
/// here and may be 1 there.
/// </param>
/// <param name="Pages">Pages of a TIFF stack; 1 for every other format.</param>
public sealed record ImageHeader(ImageFormat Format, int Width, int Height, int Channels, int Pages);
