using System;
using System.IO;
using System.Text;

namespace CropCat.Interop.Onnx;

/// <summary>
/// The protocol-buffers wire format, as far as ONNX's messages need it: varints (wire type 0), 32-bit
/// floats (type 5) and length-delimited bytes, strings and nested messages (type 2). A nested message is
/// written into its own writer first, so its length is known when it is embedded. Repeated scalars are
/// written one tagged element each (proto2's default, which every parser reads).
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    /// <summary>The encoded message so far.</summary>
    public byte[] ToArray() => _stream.ToArray();

    /// <summary>Writes field <paramref name="field"/> as a varint (int32, int64, enum).</summary>
    public ProtoWriter Varint(int field, long value)
    {
        Tag(field, 0);
        Raw((ulong)value);
        return this;
    }

    /// <summary>Writes field <paramref name="field"/> as a little-endian 32-bit float.</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _stream.Write(b);
        return this;
    }

    /// <summary>Writes field <paramref name="field"/> as length-delimited bytes.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Raw((ulong)value.Length);
        _stream.Write(value);
        return this;
    }

    /// <summary>Writes field <paramref name="field"/> as a UTF-8 string.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>Embeds <paramref name="message"/> as field <paramref name="field"/>.</summary>
    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    private void Tag(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

    private void Raw(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _stream.WriteByte((byte)value);
    }
}
