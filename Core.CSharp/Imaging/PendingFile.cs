using System;
using System.IO;

namespace CropCat.Imaging;

/// <summary>
/// A file written over time and published atomically: the bytes go to a temporary file beside the target (same
/// folder, so the final rename does not cross file systems), <see cref="Commit"/> flushes it to disk and renames it
/// onto the target, and disposing a pending file that was not committed deletes the temporary file. So an error or
/// a crash in the middle of a long write never leaves a partial output under the target's name.
/// <see cref="AtomicFile"/> does the same for a file written in one call.
/// </summary>
public sealed class PendingFile : IDisposable
{
    private readonly FileStream _file;
    private bool _done;

    /// <summary>Starts writing <paramref name="path"/>: creates its folder and a new temporary file beside it.</summary>
    /// <exception cref="IOException">The folder or the temporary file cannot be created.</exception>
    public PendingFile(string path)
    {
        Target = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(Target)!;
        Directory.CreateDirectory(dir);
        TemporaryPath = Path.Combine(dir, $".{Path.GetFileName(Target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        // Read access too: libtiff reads back what it wrote when it links directories.
        _file = new FileStream(TemporaryPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        Stream = AtomicFile.FaultInjection is { } wrap ? wrap(_file) : _file;
    }

    /// <summary>The file that appears at <see cref="Commit"/> (full path).</summary>
    public string Target { get; }

    /// <summary>The temporary file being written (deleted or renamed in the end).</summary>
    public string TemporaryPath { get; }

    /// <summary>The stream to write (seekable and readable).</summary>
    public Stream Stream { get; }

    /// <summary>Flushes the file to disk and renames it onto <see cref="Target"/> (replacing a file there).</summary>
    /// <exception cref="InvalidOperationException">Already committed or disposed.</exception>
    public void Commit()
    {
        if (_done) throw new InvalidOperationException($"{Target}: the pending file was already committed or abandoned");
        try
        {
            Stream.Flush();
            _file.Flush(flushToDisk: true);
            Stream.Dispose();
            _file.Dispose();
            File.Move(TemporaryPath, Target, overwrite: true);
            _done = true;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Abandons an uncommitted file: closes and deletes the temporary file. Does nothing after <see cref="Commit"/>.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        try
        {
            Stream.Dispose();
        }
        catch (IOException)
        {
            // A failing stream (a full disk) may fail again on close; the file is deleted below all the same.
        }
        _file.Dispose();
        if (File.Exists(TemporaryPath)) File.Delete(TemporaryPath);
    }
}
