using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace CropCat.Interop.Onnx;

/// <summary>
/// The few ONNX messages the exporter writes, encoded by hand with <see cref="ProtoWriter"/>. Field numbers
/// are those of onnx.proto (ONNX 1.12+): ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
/// ValueInfoProto (with TypeProto.Tensor and TensorShapeProto), OperatorSetIdProto, StringStringEntryProto.
/// </summary>
internal static class OnnxMessages
{
    /// <summary>TensorProto.DataType FLOAT.</summary>
    public const int Float = 1;

    /// <summary>TensorProto.DataType INT64.</summary>
    public const int Int64 = 7;

    /// <summary>A NodeProto: op_type 4, input 1, output 2, name 3, attribute 5.</summary>
    public static ProtoWriter Node(string op, IEnumerable<string> inputs, string output, string name, IEnumerable<ProtoWriter> attributes)
    {
        var w = new ProtoWriter();
        foreach (var i in inputs) w.String(1, i);
        w.String(2, output).String(3, name).String(4, op);
        foreach (var a in attributes) w.Message(5, a);
        return w;
    }

    /// <summary>An INTS attribute (AttributeProto: name 1, ints 8, type 20 = INTS 7).</summary>
    public static ProtoWriter Ints(string name, IEnumerable<long> values)
    {
        var w = new ProtoWriter().String(1, name);
        foreach (var v in values) w.Varint(8, v);
        return w.Varint(20, 7);
    }

    /// <summary>An INT attribute (i 3, type INT 2).</summary>
    public static ProtoWriter Int(string name, long value) => new ProtoWriter().String(1, name).Varint(3, value).Varint(20, 2);

    /// <summary>A FLOAT attribute (f 2, type FLOAT 1).</summary>
    public static ProtoWriter FloatAttr(string name, float value) => new ProtoWriter().String(1, name).Float(2, value).Varint(20, 1);

    /// <summary>A STRING attribute (s 4, type STRING 3).</summary>
    public static ProtoWriter StringAttr(string name, string value) => new ProtoWriter().String(1, name).String(4, value).Varint(20, 3);

    /// <summary>A float TensorProto (dims 1, data_type 2, name 8, raw_data 9 little-endian).</summary>
    public static ProtoWriter FloatTensor(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values) =>
        Tensor(name, dims, Float, MemoryMarshal.AsBytes(values));

    /// <summary>An int64 TensorProto.</summary>
    public static ProtoWriter Int64Tensor(string name, IReadOnlyList<long> dims, ReadOnlySpan<long> values) =>
        Tensor(name, dims, Int64, MemoryMarshal.AsBytes(values));

    private static ProtoWriter Tensor(string name, IReadOnlyList<long> dims, int type, ReadOnlySpan<byte> raw)
    {
        // raw_data is little-endian by the ONNX spec; the platforms .NET runs CropCat on are little-endian.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export writes little-endian raw data");
        var w = new ProtoWriter();
        foreach (var d in dims) w.Varint(1, d);
        return w.Varint(2, type).String(8, name).Bytes(9, raw);
    }

    /// <summary>
    /// A ValueInfoProto (name 1, type 2) of a float tensor: TypeProto.tensor_type 1 {elem_type 1, shape 2
    /// {dim 1 {dim_value 1 | dim_param 2}}}; a dimension is a fixed size or a symbolic name.
    /// </summary>
    public static ProtoWriter FloatValue(string name, IEnumerable<(long? Value, string? Param)> dims)
    {
        var shape = new ProtoWriter();
        foreach (var (value, param) in dims)
        {
            var d = new ProtoWriter();
            if (value is { } v) d.Varint(1, v);
            else d.String(2, param!);
            shape.Message(1, d);
        }
        var tensor = new ProtoWriter().Varint(1, Float).Message(2, shape);
        var type = new ProtoWriter().Message(1, tensor);
        return new ProtoWriter().String(1, name).Message(2, type);
    }

    /// <summary>A GraphProto: node 1, name 2, initializer 5, input 11, output 12.</summary>
    public static ProtoWriter Graph(string name, IEnumerable<ProtoWriter> nodes, IEnumerable<ProtoWriter> initializers, ProtoWriter input, ProtoWriter output)
    {
        var w = new ProtoWriter();
        foreach (var n in nodes) w.Message(1, n);
        w.String(2, name);
        foreach (var i in initializers) w.Message(5, i);
        return w.Message(11, input).Message(12, output);
    }

    /// <summary>
    /// A ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8 {domain 1,
    /// version 2}, metadata_props 14 {key 1, value 2}.
    /// </summary>
    public static ProtoWriter Model(long irVersion, long opset, string producer, string version, ProtoWriter graph, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var w = new ProtoWriter().Varint(1, irVersion).String(2, producer).String(3, version).Message(7, graph);
        w.Message(8, new ProtoWriter().String(1, "").Varint(2, opset));
        foreach (var (k, v) in metadata) w.Message(14, new ProtoWriter().String(1, k).String(2, v));
        return w;
    }
}
