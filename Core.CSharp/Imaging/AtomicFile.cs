using System;
using System.IO;

namespace CropCat.Imaging;

/// <summary>Writes files atomically: to a temporary file beside the target, then a rename, so a crash never leaves a half-written file.</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>; the old file (if any) stays intact until the rename.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            using (var s = FaultInjection is { } wrap ? wrap(file) : file)
            {
                write(s);
                s.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw;
        }
    }

    /// <summary>
    /// Tests only: wraps the temporary file's stream, e.g. in one that fails after some bytes like a full disk,
    /// to show that a failed write leaves the previous file intact and no temporary file behind.
    /// </summary>
    internal static Func<Stream, Stream>? FaultInjection;

    /// <summary>Writes text atomically (UTF-8).</summary>
    public static void WriteText(string path, string text) =>
        Write(path, s =>
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            s.Write(bytes);
        });
}
