using System.Collections.Generic;
using System.Linq;

namespace CropCat.Interop.Onnx;

/// <summary>
/// An ONNX graph under construction: nodes in execution order, initializers (weights and the small int64
/// constants of the shape arithmetic) and fresh, readable value names ("level 1 / enc/conv1").
/// </summary>
internal sealed class OnnxGraph
{
    private readonly List<ProtoWriter> _nodes = [];
    private readonly List<ProtoWriter> _initializers = [];
    private readonly HashSet<string> _names = [];
    private readonly Dictionary<string, string> _constants = [];

    /// <summary>The nodes so far, in execution order.</summary>
    public IReadOnlyList<ProtoWriter> Nodes => _nodes;

    /// <summary>The initializers so far.</summary>
    public IReadOnlyList<ProtoWriter> Initializers => _initializers;

    /// <summary>Number of nodes of each operator type (for reports).</summary>
    public Dictionary<string, int> OpCounts { get; } = [];

    /// <summary>A value name built from <paramref name="hint"/> that no other value has.</summary>
    public string Fresh(string hint)
    {
        if (_names.Add(hint)) return hint;
        var k = 2;
        while (!_names.Add($"{hint}#{k}")) k++;
        return $"{hint}#{k}";
    }

    /// <summary>Adds an <paramref name="op"/> node and returns the name of its (single) output.</summary>
    public string Node(string op, string hint, IEnumerable<string> inputs, params ProtoWriter[] attributes)
    {
        var output = Fresh(hint);
        _nodes.Add(OnnxMessages.Node(op, inputs, output, output, attributes));
        OpCounts[op] = OpCounts.GetValueOrDefault(op) + 1;
        return output;
    }

    /// <summary>Adds a float initializer named <paramref name="name"/> (a parameter's state-dict name).</summary>
    public string Weight(string name, long[] dims, float[] values)
    {
        var n = Fresh(name);
        _initializers.Add(OnnxMessages.FloatTensor(n, dims, values));
        return n;
    }

    /// <summary>A 1-D int64 constant, shared by every node that needs the same values.</summary>
    public string Int64s(params long[] values)
    {
        var key = "i64:" + string.Join(",", values);
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var n = Fresh($"const[{string.Join(",", values)}]");
        _initializers.Add(OnnxMessages.Int64Tensor(n, [values.Length], values));
        return _constants[key] = n;
    }

    /// <summary>A 1-D float constant, shared like <see cref="Int64s"/>.</summary>
    public string Floats(params float[] values)
    {
        var key = "f32:" + string.Join(",", values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        if (_constants.TryGetValue(key, out var existing)) return existing;
        var n = Fresh($"const[{string.Join(",", values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]");
        _initializers.Add(OnnxMessages.FloatTensor(n, [values.Length], values));
        return _constants[key] = n;
    }
}
