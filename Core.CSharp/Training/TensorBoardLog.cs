using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Numerics;
using System.Threading;
using Google.Protobuf;
using CropCat.Imaging;

namespace CropCat.Training;

/// <summary>
/// A TensorBoard event file (<c>events.out.tfevents.*</c>) that scalars and images are appended to: TFRecord
/// framing (length, masked CRC-32C of the length, an <c>Event</c> protobuf, masked CRC-32C of it) around the
/// Event messages TorchSharp ships (namespace <c>Tensorboard</c>). Written here rather than through TorchSharp's
/// SummaryWriter because that one stores wall time as <c>DateTime.Ticks</c> in a float (TensorBoard reads
/// seconds since 1970 as a double), reopens the file for every event, and encodes images through SkiaSharp 2.x
/// calls; this one keeps the file open, stamps seconds, and encodes images with CropCat's own PNG encoder.
/// </summary>
/// <remarks>
/// Not written atomically on purpose: TensorBoard reads an event file while it grows, so records are appended
/// whole and flushed; a crash can only cut off the last record, which TensorBoard skips.
/// </remarks>
public sealed class TensorBoardLog : IDisposable
{
    private readonly FileStream _file;
    private readonly Func<double> _now;

    /// <summary>Creates <paramref name="directory"/> if need be and a new event file in it.</summary>
    /// <param name="directory">The run's log directory (what <c>tensorboard --logdir</c> is pointed at, or one folder below).</param>
    /// <param name="now">Wall-time source in seconds since 1970 (tests pin it); default the system clock.</param>
    public TensorBoardLog(string directory, Func<double>? now = null)
    {
        _now = now ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
        Directory.CreateDirectory(directory);
        var start = (long)_now();
        var name = string.Create(CultureInfo.InvariantCulture,
            $"events.out.tfevents.{start}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref _serial)}.cropcat");
        Path = System.IO.Path.Combine(directory, name);
        try
        {
            _file = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        }
        catch (IOException e)
        {
            throw new IOException($"TensorBoard log {Path}: cannot create the event file ({e.Message})", e);
        }
        // TensorBoard recognises the file by this first record.
        Append(new Tensorboard.Event { WallTime = _now(), FileVersion = "brain.Event:2" });
    }

    private static int _serial;

    /// <summary>The event file's path.</summary>
    public string Path { get; }

    /// <summary>Appends scalar <paramref name="value"/> under <paramref name="tag"/> at <paramref name="step"/> (skipped when not finite, as TensorBoard would show a gap anyway).</summary>
    public void Scalar(string tag, double value, long step)
    {
        if (!double.IsFinite(value)) return;
        var summary = new Tensorboard.Summary();
        summary.Value.Add(new Tensorboard.Summary.Types.Value { Tag = tag, SimpleValue = (float)value });
        Append(new Tensorboard.Event { WallTime = _now(), Step = step, Summary = summary });
    }

    /// <summary>Appends <paramref name="picture"/> as a PNG image under <paramref name="tag"/> at <paramref name="step"/>.</summary>
    public void Image(string tag, Raster picture, long step)
    {
        var image = new Tensorboard.Summary.Types.Image
        {
            Height = picture.Height,
            Width = picture.Width,
            Colorspace = 3, // RGB
            EncodedImageString = ByteString.CopyFrom(picture.EncodePng()),
        };
        var summary = new Tensorboard.Summary();
        summary.Value.Add(new Tensorboard.Summary.Types.Value { Tag = tag, Image = image });
        Append(new Tensorboard.Event { WallTime = _now(), Step = step, Summary = summary });
    }

    /// <summary>Pushes appended records to the file so a running TensorBoard sees them.</summary>
    public void Flush() => _file.Flush(flushToDisk: false);

    private void Append(Tensorboard.Event e)
    {
        var data = e.ToByteArray();
        Span<byte> header = stackalloc byte[12];
        BitConverter.TryWriteBytes(header[..8], (ulong)data.LongLength);
        BitConverter.TryWriteBytes(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BitConverter.TryWriteBytes(footer, MaskedCrc(data));
        // One write per record, so a reader never sees a header without its data.
        var record = new byte[12 + data.Length + 4];
        header.CopyTo(record);
        data.CopyTo(record, 12);
        footer.CopyTo(record.AsSpan(12 + data.Length));
        _file.Write(record);
    }

    /// <summary>TFRecord's masked CRC-32C (Castagnoli): rotate right by 15 and add a constant, so CRCs of CRCs stay distinct.</summary>
    internal static uint MaskedCrc(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        var i = 0;
        for (; i + 8 <= bytes.Length; i += 8) crc = BitOperations.Crc32C(crc, BitConverter.ToUInt64(bytes.Slice(i, 8)));
        for (; i < bytes.Length; i++) crc = BitOperations.Crc32C(crc, bytes[i]);
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    /// <summary>Flushes and closes the event file.</summary>
    public void Dispose()
    {
        _file.Flush();
        _file.Dispose();
    }
}
