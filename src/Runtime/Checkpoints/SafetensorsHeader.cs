using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Compiled;

/// <summary>One tensor described by a safetensors header; offsets are relative to the first byte after the header.</summary>
internal sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// A safetensors file's header, parsed and checked as hostile input with <see cref="Utf8JsonReader"/> (no reflection):
/// <c>[u64 little-endian N][N bytes of UTF-8 JSON][data]</c>, the JSON mapping each tensor name to
/// <c>{"dtype", "shape", "data_offsets": [begin, end]}</c>, plus an optional <c>"__metadata__"</c> of strings.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>
    /// The JSON header of a file that holds <paramref name="tensors"/> back to back in this order:
    /// <c>{"__metadata__":{..},"&lt;name&gt;":{"dtype":..,"shape":[..],"data_offsets":[b,e]},..}</c>, padded with spaces
    /// to a multiple of 8 bytes.
    /// </summary>
    public static byte[] Write(IEnumerable<(string Key, string Value)> metadata,
        IEnumerable<(string Name, string DType, IReadOnlyList<int> Shape, long Bytes)> tensors)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach ((string key, string value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach ((string name, string dtype, IReadOnlyList<int> shape, long bytes) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (int d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += bytes;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>The largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderSize = 100_000_000;

    private const int MaxDepth = 4;

    private SafetensorsHeader(List<SafetensorsEntry> entries, Dictionary<string, string> metadata, long dataStart, long dataLength)
    {
        Entries = entries;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
    }

    /// <summary>The tensors in header order.</summary>
    public List<SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> strings (empty when absent).</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>Where the data region starts in the file: 8 + N.</summary>
    public long DataStart { get; }

    /// <summary>Bytes in the data region.</summary>
    public long DataLength { get; }

    /// <summary>
    /// Reads and checks the header of <paramref name="file"/>, and checks that the tensors tile the data region
    /// exactly: each size is product(shape)·sizeof(dtype), no two overlap, none leaves a gap or runs past the end,
    /// and nothing trails the last one (the rules the reference implementation enforces).
    /// </summary>
    public static SafetensorsHeader Read(Stream file, string path)
    {
        long length = file.Length;
        if (length < 8)
            throw Bad($"{path} is {length} bytes long, too short for a safetensors file, which starts with an 8-byte header size.");
        Span<byte> prefix = stackalloc byte[8];
        file.Position = 0;
        file.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(length - 8))
            throw Bad($"{path} declares a header of {n} bytes, but only {length - 8} bytes follow the 8-byte header size: " +
                "the file is truncated or is not a safetensors file.");
        if (n > MaxHeaderSize)
            throw Bad($"{path} declares a header of {n} bytes, more than the {MaxHeaderSize}-byte limit.");
        if (n < 2)
            throw Bad($"{path} declares a header of {n} bytes, too small to hold a JSON object.");
        byte[] json = new byte[n];
        file.ReadExactly(json);

        var (entries, metadata) = Parse(json, path);
        var header = new SafetensorsHeader(entries, metadata, 8 + (long)n, length - 8 - (long)n);
        header.CheckRegions(path);
        return header;
    }

    private static (List<SafetensorsEntry>, Dictionary<string, string>) Parse(ReadOnlySpan<byte> json, string path)
    {
        if (!Utf8.IsValid(json)) throw Bad($"The header of {path} is not valid UTF-8.");
        if (json[0] != (byte)'{')
            throw Bad($"The header of {path} does not start with '{{' (found byte 0x{json[0]:X2}); it is not a safetensors header.");
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
            reader.Read(); // the StartObject checked above
            while (true)
            {
                Next(ref reader, path);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = reader.GetString()!;
                if (!seen.Add(name)) throw Bad($"The header of {path} names \"{name}\" twice.");
                Next(ref reader, path);
                if (name == "__metadata__") ParseMetadata(ref reader, metadata, path);
                else entries.Add(ParseTensor(ref reader, name, path));
            }
            // Only whitespace (the spec pads with spaces) may follow; the reader throws on anything else.
            if (reader.Read()) throw Bad($"The header of {path} has data after its JSON object.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The header of {path} is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // GetString on a string whose escapes are not valid UTF-16 (a lone surrogate such as "\ud800").
            throw new InvalidDataException($"The header of {path} holds a string that is not valid Unicode: {ex.Message}", ex);
        }
        return (entries, metadata);
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string path)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Bad($"__metadata__ in {path} is {Describe(reader.TokenType)}, but must be an object of strings.");
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            Next(ref reader, path);
            if (reader.TokenType != JsonTokenType.String)
                throw Bad($"__metadata__ entry \"{key}\" in {path} is {Describe(reader.TokenType)}, but metadata values must be strings.");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Bad($"__metadata__ in {path} names \"{key}\" twice.");
        }
    }

    private static SafetensorsEntry ParseTensor(ref Utf8JsonReader reader, string name, string path)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Bad($"Tensor \"{name}\" in {path} is {Describe(reader.TokenType)}, but must be an object with dtype, shape and data_offsets.");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            Next(ref reader, path);
            switch (field)
            {
                case "dtype" when dtype is null:
                    if (reader.TokenType != JsonTokenType.String)
                        throw Bad($"dtype of \"{name}\" in {path} is {Describe(reader.TokenType)}, but must be a string such as \"F32\".");
                    dtype = reader.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(ref reader, name, "shape", path, int.MaxValue);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(ref reader, name, "data_offsets", path, long.MaxValue);
                    if (offsets.Length != 2)
                        throw Bad($"data_offsets of \"{name}\" in {path} has {offsets.Length} numbers, but must be [begin, end].");
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw Bad($"\"{name}\" in {path} gives {field} twice.");
                default:
                    throw Bad($"\"{name}\" in {path} has an unknown field \"{field}\"; a tensor has only dtype, shape and data_offsets.");
            }
        }
        if (dtype is null || shape is null || offsets is null)
        {
            string lacks = string.Join(", ", new[] { dtype is null ? "dtype" : null, shape is null ? "shape" : null, offsets is null ? "data_offsets" : null }
                .Where(s => s is not null));
            throw Bad($"\"{name}\" in {path} lacks {lacks}.");
        }
        if (offsets[1] < offsets[0])
            throw Bad($"\"{name}\" in {path} has data_offsets [{offsets[0]}, {offsets[1]}], which end before they begin.");
        return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /// <summary>An array of whole numbers in [0, max].</summary>
    private static long[] ReadIntegers(ref Utf8JsonReader reader, string name, string field, string path, long max)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Bad($"{field} of \"{name}\" in {path} is {Describe(reader.TokenType)}, but must be an array of whole numbers.");
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndArray) return values.ToArray();
            if (reader.TokenType != JsonTokenType.Number)
                throw Bad($"{field} of \"{name}\" in {path} holds {Describe(reader.TokenType)}, but must hold whole numbers only.");
            if (!reader.TryGetUInt64(out ulong value) || value > (ulong)max)
                throw Bad($"{field} of \"{name}\" in {path} holds {System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}, " +
                    $"which is not a whole number in [0, {max}].");
            values.Add((long)value);
        }
    }

    private void CheckRegions(string path)
    {
        foreach (SafetensorsEntry e in Entries)
        {
            int elementSize = ElementSize(e.DType)
                ?? throw Bad($"\"{e.Name}\" in {path} has unknown dtype \"{e.DType}\".");
            // Dimensions are at most int.MaxValue; a product past long.MaxValue / 8 is absurd for any file.
            long count = 1;
            bool absurd = false;
            if (e.Shape.Contains(0)) count = 0;
            else
                foreach (long d in e.Shape)
                {
                    if (count > long.MaxValue / 8 / d) absurd = true;
                    else count *= d;
                }
            long needed = absurd ? -1 : count * elementSize;
            if (needed != e.ByteLength)
                throw Bad($"\"{e.Name}\" in {path} has data_offsets [{e.Begin}, {e.End}] ({e.ByteLength} bytes), but shape " +
                    $"{FormatShape(e.Shape)} of {e.DType} needs {(absurd ? "more bytes than any file holds" : needed + " bytes")}.");
            if (e.End > DataLength)
                throw Bad($"{path} is truncated: \"{e.Name}\" needs bytes [{e.Begin}, {e.End}) of the data region, but only {DataLength} bytes follow the header.");
        }
        SafetensorsEntry[] byOffset = [.. Entries.OrderBy(e => e.Begin).ThenBy(e => e.End)];
        long covered = 0;
        SafetensorsEntry? previous = null;
        foreach (SafetensorsEntry e in byOffset)
        {
            if (e.Begin < covered)
                throw Bad($"\"{e.Name}\" (bytes [{e.Begin}, {e.End})) overlaps \"{previous!.Name}\" (bytes [{previous.Begin}, {previous.End})) in {path}.");
            if (e.Begin > covered)
                throw Bad($"{path} has {e.Begin - covered} unused bytes before \"{e.Name}\" in its data region; tensors must lie back to back.");
            covered = e.End;
            previous = e;
        }
        if (covered != DataLength)
            throw Bad($"{path} has {DataLength - covered} bytes of trailing data after the last tensor.");
    }

    /// <summary>Bytes per element of a safetensors dtype, or null when unknown.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static void Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read()) throw Bad($"The header of {path} ends before its JSON object is closed.");
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static InvalidDataException Bad(string message) => new(message);
}
