using System;

namespace CropCat.Imaging;

/// <summary>
/// An image file cannot be read: missing, unreadable, of an unknown format, truncated, corrupt, unsupported or
/// larger than the pixel budget. The message names the format, the file and the reason, so callers that skip bad
/// inputs catch this one type for every format (<see cref="PngException"/> and
/// <see cref="ImageTooLargeException"/> derive from it).
/// </summary>
public class ImageFormatException : Exception
{
    /// <summary>Creates the error for <paramref name="path"/>, read as <paramref name="format"/> ("PNG", "JPEG", "TIFF", "image", ...).</summary>
    public ImageFormatException(string format, string path, string reason, Exception? inner = null)
        : base($"{format} {path}: {reason}", inner)
    {
        Format = format;
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The format the file was read as, in words ("PNG", "JPEG", ...; "image" when it is not known).</summary>
    public string Format { get; }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }
}
