using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Compiled.Runtime.Tests.Checkpoints;

/// <summary>
/// Writes safetensors files by hand, independently of <see cref="Checkpoint"/>, so tests can build both valid files
/// laid out differently from ours and hostile ones.
/// </summary>
internal static class SafetensorsFiles
{
    public readonly record struct Entry(string Name, string DType, long[] Shape, long Begin, long End);

    /// <summary>The JSON text of a header: optional metadata, then the entries in the order given.</summary>
    public static string Header(string? metadataJson, params Entry[] entries)
    {
        var parts = new List<string>();
        if (metadataJson is not null) parts.Add($"\"__metadata__\":{metadataJson}");
        foreach (Entry e in entries)
            parts.Add($"\"{e.Name}\":{{\"dtype\":\"{e.DType}\",\"shape\":[{string.Join(",", e.Shape)}],\"data_offsets\":[{e.Begin},{e.End}]}}");
        return "{" + string.Join(",", parts) + "}";
    }

    /// <summary>[u64 size][header][data]; the size is the header's length unless <paramref name="declaredSize"/> says otherwise.</summary>
    public static void Write(string path, byte[] header, byte[] data, ulong? declaredSize = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredSize ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
    }

    public static void Write(string path, string header, byte[] data, ulong? declaredSize = null) =>
        Write(path, Encoding.UTF8.GetBytes(header), data, declaredSize);

    /// <summary>Little-endian F32 bytes of <paramref name="values"/>.</summary>
    public static byte[] F32(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    /// <summary><paramref name="count"/> distinct floats starting at <paramref name="start"/>, step 0.25 (exact in F32).</summary>
    public static float[] Ramp(int count, float start) => Enumerable.Range(0, count).Select(i => start + 0.25f * i).ToArray();

    /// <summary>The four tensors of <see cref="TinyMlp"/> back to back in arena order (92 bytes of data).</summary>
    public static Entry[] TinyEntries() =>
    [
        new("layers.0.weight", "F32", [3, 4], 0, 48),
        new("layers.0.bias", "F32", [3], 48, 60),
        new("layers.1.weight", "F32", [2, 3], 60, 84),
        new("layers.1.bias", "F32", [2], 84, 92),
    ];

    public static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
