using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using System.Text;

namespace CropCat.Interop;

/// <summary>A .pt file is not a plain state dict, or is damaged; the message names the file and what was refused.</summary>
public sealed class PickleRefusedException : Exception
{
    /// <summary>Creates the error.</summary>
    public PickleRefusedException(string message) : base(message) { }
}

/// <summary>A class reference from the pickle that the unpickler allows (OrderedDict, tensor rebuilders, storage types).</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    /// <summary>"module.name".</summary>
    public string FullName => $"{Module}.{Name}";
}

/// <summary>A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel).</summary>
public sealed record StorageRef(string StorageType, string Key, string Location, long Numel);

/// <summary>A tensor as torch._utils._rebuild_tensor_v2 describes it: a strided view into a storage.</summary>
public sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>An (ordered) dictionary from the pickle; keys keep their insertion order.</summary>
public sealed class PickleDict
{
    /// <summary>The entries in insertion order.</summary>
    public List<KeyValuePair<object?, object?>> Items { get; } = new();
}

/// <summary>
/// A small interpreter for pickle protocols 2 to 5 that loads only what a PyTorch
/// <c>torch.save(model.state_dict())</c> contains: dicts, lists, tuples, strings, numbers,
/// <c>collections.OrderedDict</c>, tensors rebuilt by <c>torch._utils._rebuild_tensor_v2</c> (or
/// <c>_rebuild_parameter</c> around one) over storages named by persistent ids with a
/// <c>torch.*Storage</c> type. Any other class reference (GLOBAL / STACK_GLOBAL), object construction
/// or unknown opcode is refused with an error naming it — unlike Python's pickle, nothing in the
/// file can run code. Prefer safetensors files, which carry no code at all.
/// </summary>
public static class RestrictedUnpickler
{
    private static readonly HashSet<string> StorageTypes = new(StringComparer.Ordinal)
    {
        "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
        "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
    };

    private static bool Allowed(string module, string name) =>
        (module == "collections" && name == "OrderedDict")
        || (module == "torch._utils" && name is "_rebuild_tensor_v2" or "_rebuild_parameter")
        || (module == "torch" && StorageTypes.Contains(name));

    private sealed class Mark { public static readonly Mark Instance = new(); }

    /// <summary>Interprets <paramref name="data"/> (the bytes of data.pkl); <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="PickleRefusedException">A refused class, an unsupported opcode or a truncated stream.</exception>
    public static object? Load(ReadOnlySpan<byte> data, string source)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        var pos = 0;
        // torch.save(model) pickles the module classes by name; a state dict never names them.
        var holdsModules = data.IndexOf("torch.nn.modules"u8) >= 0;

        PickleRefusedException Fail(string why) =>
            new($"{source}: {why} (at byte {pos} of the pickle). CropCat loads only plain state dicts (torch.save(model.state_dict())); prefer a .safetensors file.");

        ReadOnlySpan<byte> Take(ReadOnlySpan<byte> d, long n)
        {
            if (n < 0 || pos + n > d.Length) throw Fail("the pickle ends early");
            var s = d.Slice(pos, (int)n);
            pos += (int)n;
            return s;
        }

        object? Pop()
        {
            if (stack.Count == 0) throw Fail("stack underflow");
            var v = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return v;
        }

        List<object?> PopToMark()
        {
            var i = stack.FindLastIndex(o => ReferenceEquals(o, Mark.Instance));
            if (i < 0) throw Fail("MARK missing");
            var items = stack.GetRange(i + 1, stack.Count - i - 1);
            stack.RemoveRange(i, stack.Count - i);
            return items;
        }

        string ReadLine(ReadOnlySpan<byte> d)
        {
            var end = d[pos..].IndexOf((byte)'\n');
            if (end < 0) throw Fail("the pickle ends early");
            var s = Encoding.ASCII.GetString(d.Slice(pos, end));
            pos += end + 1;
            return s;
        }

        object? Global(string module, string name)
        {
            if (!Allowed(module, name))
                throw Fail(holdsModules
                    ? $"refused pickle global '{module}.{name}': the file holds a whole model (torch.save(model)), not a state dict, and rebuilding it would run its code; in PyTorch, save model.state_dict() instead"
                    : $"refused pickle global '{module}.{name}': it is not part of a plain state dict");
            return new PickleGlobal(module, name);
        }

        void SetItems(object? target, List<object?> kv)
        {
            if (target is not PickleDict dict) throw Fail("SETITEM(S) on something that is not a dict");
            for (var i = 0; i + 1 < kv.Count; i += 2) dict.Items.Add(new(kv[i], kv[i + 1]));
        }

        object? Reduce(object? callable, object? args)
        {
            if (callable is not PickleGlobal g) throw Fail("REDUCE on something that is not an allowed global");
            var a = args as object?[] ?? throw Fail($"REDUCE of {g.FullName} without an argument tuple");
            switch (g.FullName)
            {
                case "collections.OrderedDict":
                    if (a.Length != 0) throw Fail("OrderedDict built with arguments");
                    return new PickleDict();
                case "torch._utils._rebuild_tensor_v2":
                    if (a.Length < 4 || a[0] is not StorageRef st) throw Fail("_rebuild_tensor_v2 with unexpected arguments");
                    return new TensorRef(st, AsLong(a[1]), AsLongs(a[2]), AsLongs(a[3]));
                case "torch._utils._rebuild_parameter":
                    if (a.Length < 1 || a[0] is not TensorRef t) throw Fail("_rebuild_parameter with unexpected arguments");
                    return t;
                default:
                    throw Fail($"refused call of '{g.FullName}'");
            }
        }

        long AsLong(object? o) => o switch
        {
            long l => l,
            BigInteger b => (long)b,
            _ => throw Fail($"expected an integer, got {o?.GetType().Name ?? "None"}"),
        };

        long[] AsLongs(object? o) => o is object?[] t ? t.Select(AsLong).ToArray() : throw Fail("expected a tuple of integers");

        while (true)
        {
            if (pos >= data.Length) throw Fail("the pickle ends without STOP");
            var op = data[pos++];
            switch (op)
            {
                case 0x80: Take(data, 1); break; // PROTO
                case 0x95: Take(data, 8); break; // FRAME: framing is only a read-ahead hint
                case (byte)'.': // STOP
                    return Pop();
                case (byte)'(': stack.Add(Mark.Instance); break;
                case (byte)'}': stack.Add(new PickleDict()); break;
                case (byte)']': stack.Add(new List<object?>()); break;
                case (byte)')': stack.Add(Array.Empty<object?>()); break;
                case (byte)'t': stack.Add(PopToMark().ToArray()); break;
                case 0x85: stack.Add(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; }
                case (byte)'l': stack.Add(PopToMark()); break;
                case (byte)'d': { var kv = PopToMark(); var d = new PickleDict(); SetItems(d, kv); stack.Add(d); break; }
                case (byte)'a': { var v = Pop(); if (stack[^1] is List<object?> l) l.Add(v); else throw Fail("APPEND to a non-list"); break; }
                case (byte)'e': { var items = PopToMark(); if (stack[^1] is List<object?> l) l.AddRange(items); else throw Fail("APPENDS to a non-list"); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(stack[^1], new() { k, v }); break; }
                case (byte)'u': { var kv = PopToMark(); SetItems(stack[^1], kv); break; }
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Take(data, 4))); break;
                case (byte)'K': stack.Add((long)Take(data, 1)[0]); break;
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(data, 2))); break;
                case 0x8a: { var n = Take(data, 1)[0]; stack.Add(Long(Take(data, n))); break; }
                case 0x8b: { var n = BinaryPrimitives.ReadInt32LittleEndian(Take(data, 4)); stack.Add(Long(Take(data, n))); break; }
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Take(data, 8))); break;
                case (byte)'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case (byte)'X': stack.Add(Encoding.UTF8.GetString(Take(data, BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4))))); break;
                case 0x8c: stack.Add(Encoding.UTF8.GetString(Take(data, Take(data, 1)[0]))); break;
                case 0x8d: stack.Add(Encoding.UTF8.GetString(Take(data, (long)BinaryPrimitives.ReadUInt64LittleEndian(Take(data, 8))))); break;
                case (byte)'T': stack.Add(Encoding.Latin1.GetString(Take(data, BinaryPrimitives.ReadInt32LittleEndian(Take(data, 4))))); break;
                case (byte)'U': stack.Add(Encoding.Latin1.GetString(Take(data, Take(data, 1)[0]))); break;
                case (byte)'B': stack.Add(Take(data, BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4))).ToArray()); break;
                case (byte)'C': stack.Add(Take(data, Take(data, 1)[0]).ToArray()); break;
                case 0x8e: stack.Add(Take(data, (long)BinaryPrimitives.ReadUInt64LittleEndian(Take(data, 8))).ToArray()); break;
                case (byte)'c': { var module = ReadLine(data); var name = ReadLine(data); stack.Add(Global(module, name)); break; }
                case 0x93: { var name = Pop() as string; var module = Pop() as string; if (module is null || name is null) throw Fail("STACK_GLOBAL without strings"); stack.Add(Global(module, name)); break; }
                case (byte)'R': { var args = Pop(); var f = Pop(); stack.Add(Reduce(f, args)); break; }
                case (byte)'b': // BUILD: OrderedDict state (state_dict's _metadata) carries nothing CropCat needs
                    {
                        Pop();
                        if (stack.Count == 0 || stack[^1] is not (PickleDict or TensorRef)) throw Fail("BUILD on an object that is not a dict or tensor");
                        break;
                    }
                case (byte)'Q': stack.Add(Persistent(Pop())); break;
                case (byte)'q': memo[Take(data, 1)[0]] = stack[^1]; break;
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4))] = stack[^1]; break;
                case 0x94: memo[memo.Count] = stack[^1]; break;
                case (byte)'h': stack.Add(Memo(memo, Take(data, 1)[0])); break;
                case (byte)'j': stack.Add(Memo(memo, BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4)))); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopToMark(); break;
                case (byte)'2': stack.Add(stack[^1]); break;
                default:
                    pos--;
                    throw Fail($"unsupported pickle opcode 0x{op:x2} ('{(op >= 32 && op < 127 ? (char)op : '?')}')");
            }
        }

        object? Memo(Dictionary<long, object?> m, long key) =>
            m.TryGetValue(key, out var v) ? v : throw Fail($"memo key {key} missing");

        object Persistent(object? pid)
        {
            // ('storage', <torch.FloatStorage>, key, location, numel)
            if (pid is object?[] { Length: 5 } t && t[0] is "storage" && t[1] is PickleGlobal g && g.Module == "torch"
                && StorageTypes.Contains(g.Name) && t[2] is string key && t[3] is string location)
                return new StorageRef(g.Name, key, location, AsLong(t[4]));
            throw Fail("refused persistent id: only ('storage', torch.*Storage, key, location, numel) is allowed");
        }
    }

    private static object Long(ReadOnlySpan<byte> le)
    {
        var v = new BigInteger(le, isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }
}
