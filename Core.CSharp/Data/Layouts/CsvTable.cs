using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace CropCat.Data;

/// <summary>
/// A small CSV file read as RFC 4180 says: a header line naming the columns, then rows of comma-separated fields;
/// a field in double quotes may hold commas, line breaks and doubled quotes (""). Line ends may be LF or CRLF; a
/// blank line is skipped. Rows keep the line they start on, for messages.
/// </summary>
internal sealed class CsvTable
{
    private CsvTable(string path, string[] header, List<(int Line, string[] Fields)> rows)
    {
        Path = path;
        Header = header;
        Rows = rows;
    }

    /// <summary>The file, for messages.</summary>
    public string Path { get; }
    /// <summary>The column names of the header line, trimmed.</summary>
    public string[] Header { get; }
    /// <summary>The data rows with the 1-based line each starts on; every row has as many fields as the header.</summary>
    public List<(int Line, string[] Fields)> Rows { get; }

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="DatasetException">Missing or unreadable, empty, a quote left open, or a row with a field count other than the header's.</exception>
    public static CsvTable Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"cannot read {path}: {e.Message}", e);
        }
        var records = Parse(text, path);
        if (records.Count == 0) throw new DatasetException($"{path}: the file is empty; expected a header line such as 'id,rle_mask'");
        var header = records[0].Fields.Select(f => f.Trim()).ToArray();
        foreach (var (line, fields) in records.Skip(1))
            if (fields.Length != header.Length)
                throw new DatasetException($"{path}, line {line}: {fields.Length} field(s) but the header '{string.Join(",", header)}' has {header.Length}");
        return new CsvTable(path, header, records.Skip(1).ToList());
    }

    /// <summary>The index of the first column named one of <paramref name="names"/> (any case).</summary>
    /// <exception cref="DatasetException">No such column.</exception>
    public int Column(params string[] names)
    {
        for (var i = 0; i < Header.Length; i++)
            if (names.Any(n => string.Equals(n, Header[i], StringComparison.OrdinalIgnoreCase)))
                return i;
        throw new DatasetException($"{Path}: the header '{string.Join(",", Header)}' has no column {string.Join(" or ", names.Select(n => $"'{n}'"))}");
    }

    private static List<(int Line, string[] Fields)> Parse(string text, string path)
    {
        var records = new List<(int, string[])>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1, i = 0;
        if (text.StartsWith('\uFEFF')) i = 1; // a byte-order mark some spreadsheet exports write
        var quoted = false;
        var quotedAt = 0;
        void EndRecord()
        {
            fields.Add(field.ToString());
            field.Clear();
            if (fields.Count > 1 || fields[0].Length > 0) records.Add((start, fields.ToArray()));
            fields.Clear();
        }
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else { if (c == '\n') line++; field.Append(c); }
            }
            else if (c == '"' && field.Length == 0) { quoted = true; quotedAt = line; }
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c == '\n') { EndRecord(); line++; start = line; }
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') { }
            else field.Append(c);
        }
        if (quoted) throw new DatasetException($"{path}, line {quotedAt}: a quoted field is never closed");
        EndRecord();
        return records;
    }
}
