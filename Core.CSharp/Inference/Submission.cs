using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using CropCat.Data;
using CropCat.Imaging;

namespace CropCat.Inference;

/// <summary>The Kaggle competitions whose run-length submission CSV <see cref="Submission"/> writes.</summary>
public enum SubmissionFormat
{
    /// <summary>Carvana image masking: <c>img,rle_mask</c>, img the file name with its extension, runs in row-major order.</summary>
    Carvana,

    /// <summary>TGS salt identification: <c>id,rle_mask</c>, id the file name without extension, runs in column-major order.</summary>
    Tgs,

    /// <summary>
    /// Data Science Bowl 2018: <c>ImageId,EncodedPixels</c>, ImageId the file name without extension, column-major, one
    /// row per predicted nucleus (4-connected component of the foreground); an image without one gets one row with
    /// empty EncodedPixels, as the competition's sample submission has.
    /// </summary>
    Dsb,
}

/// <summary>The predicted foreground of one image, the input of a submission row.</summary>
/// <param name="File">The image file the mask was predicted for (its name becomes the row's key).</param>
/// <param name="Height">Mask height.</param>
/// <param name="Width">Mask width.</param>
/// <param name="Foreground">Row-major H x W: true where the pixel is foreground (a class above 0, or a thresholded sigmoid).</param>
public sealed record SubmissionMask(string File, int Height, int Width, bool[] Foreground);

/// <summary>Writes Kaggle run-length submission CSVs (see <see cref="SubmissionFormat"/>) with <see cref="RunLength"/>.</summary>
public static class Submission
{
    /// <summary>The CSV header line of <paramref name="format"/>.</summary>
    public static string Header(SubmissionFormat format) => format switch
    {
        SubmissionFormat.Carvana => "img,rle_mask",
        SubmissionFormat.Tgs => "id,rle_mask",
        SubmissionFormat.Dsb => "ImageId,EncodedPixels",
        _ => throw Unknown(format),
    };

    /// <summary>The pixel order of <paramref name="format"/>'s run-length codes.</summary>
    public static PixelOrder Order(SubmissionFormat format) => format switch
    {
        SubmissionFormat.Carvana => PixelOrder.RowMajor,
        SubmissionFormat.Tgs or SubmissionFormat.Dsb => PixelOrder.ColumnMajor,
        _ => throw Unknown(format),
    };

    /// <summary>The key (first column) of <paramref name="file"/>'s rows: Carvana keeps the extension, TGS and DSB drop it.</summary>
    public static string Key(SubmissionFormat format, string file) =>
        format == SubmissionFormat.Carvana ? Path.GetFileName(file) : Path.GetFileNameWithoutExtension(file);

    /// <summary>
    /// The CSV lines (without line ends) of one image: one for Carvana and TGS, one per 4-connected component for
    /// DSB (in raster order of each component's first pixel), or one with an empty code when there is none.
    /// </summary>
    /// <exception cref="ArgumentException">The mask does not hold height x width values; the message names the file.</exception>
    public static IEnumerable<string> Rows(SubmissionFormat format, SubmissionMask mask)
    {
        var (h, w) = (mask.Height, mask.Width);
        if (h < 1 || w < 1 || (long)h * w != mask.Foreground.Length)
            throw new ArgumentException($"{mask.File}: a {w}x{h} mask needs {(long)h * w} values, got {mask.Foreground.Length}");
        var key = Quoted(Key(format, mask.File));
        var order = Order(format);
        if (format != SubmissionFormat.Dsb) return [$"{key},{RunLength.Encode(mask.Foreground, h, w, order)}"];
        return Instances(key, mask, order);
    }

    private static List<string> Instances(string key, SubmissionMask mask, PixelOrder order)
    {
        var ids = Components.Label(mask.Foreground, mask.Height, mask.Width);
        var pixels = new List<List<int>>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] == 0) continue;
            if (ids[i] > pixels.Count) pixels.Add([]);
            pixels[ids[i] - 1].Add(i);
        }
        if (pixels.Count == 0) return [$"{key},"];
        var rows = new List<string>(pixels.Count);
        // One buffer, set and cleared per instance: allocating a mask per nucleus would cost H x W bytes each.
        var one = new bool[ids.Length];
        foreach (var instance in pixels)
        {
            foreach (var i in instance) one[i] = true;
            rows.Add($"{key},{RunLength.Encode(one, mask.Height, mask.Width, order)}");
            foreach (var i in instance) one[i] = false;
        }
        return rows;
    }

    /// <summary>
    /// Writes the submission of <paramref name="masks"/> (in their order) to <paramref name="path"/> and returns the
    /// number of rows. The rows stream to a temporary file beside <paramref name="path"/> while <paramref name="masks"/>
    /// is enumerated (it may predict lazily), and the file replaces <paramref name="path"/> only once all are written:
    /// if a mask is bad or the enumeration throws, the exception propagates, the temporary file is removed and an
    /// existing file at <paramref name="path"/> is untouched.
    /// </summary>
    /// <exception cref="ArgumentException">A mask's size does not match its values.</exception>
    public static int Write(string path, SubmissionFormat format, IEnumerable<SubmissionMask> masks)
    {
        var rows = 0;
        AtomicFile.Write(path, stream =>
        {
            using var text = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16, leaveOpen: true);
            // Kaggle's own sample submissions end lines with \n; so does every writer the kernels use.
            text.NewLine = "\n";
            text.WriteLine(Header(format));
            foreach (var mask in masks)
                foreach (var row in Rows(format, mask))
                {
                    text.WriteLine(row);
                    rows++;
                }
            text.Flush();
        });
        return rows;
    }

    /// <summary>The format named <paramref name="name"/> (carvana, tgs or dsb, any case); null for any other name.</summary>
    public static SubmissionFormat? Parse(string name) => name.ToLowerInvariant() switch
    {
        "carvana" => SubmissionFormat.Carvana,
        "tgs" => SubmissionFormat.Tgs,
        "dsb" => SubmissionFormat.Dsb,
        _ => null,
    };

    // RFC 4180: a key holding a comma, quote or line break is quoted, its quotes doubled (Kaggle's ids never need it).
    private static string Quoted(string key) =>
        key.AsSpan().IndexOfAny(",\"\r\n") < 0 ? key : "\"" + key.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static ArgumentOutOfRangeException Unknown(SubmissionFormat format) =>
        new(nameof(format), format, "not a submission format");
}
