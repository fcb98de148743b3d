using System.Buffers.Binary;
using System.Text;

namespace Compiled.Onnx;

/// <summary>
/// The protocol-buffers wire format, as much of it as an ONNX model needs: varints (wire type 0), 32-bit floats (wire
/// type 5) and length-delimited fields (wire type 2: strings, bytes, packed arrays and nested messages). A nested message
/// is written into its own writer and copied in with its length, so no size has to be computed ahead.
/// </summary>
internal sealed class ProtoWriter
{
    private const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;

    private byte[] _buffer = new byte[256];
    private int _length;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>An int64/int32/enum field: the tag, then the value as a varint (negative values take ten bytes).</summary>
    public void Int(int field, long value)
    {
        Tag(field, Varint);
        RawVarint((ulong)value);
    }

    /// <summary>A float field, four little-endian bytes.</summary>
    public void Float(int field, float value)
    {
        Tag(field, Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
    }

    /// <summary>A string field, UTF-8.</summary>
    public void String(int field, string value)
    {
        Tag(field, LengthDelimited);
        int count = Encoding.UTF8.GetByteCount(value);
        RawVarint((ulong)count);
        Encoding.UTF8.GetBytes(value, Reserve(count));
    }

    /// <summary>A bytes field.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        RawVarint((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>A repeated int64 field, packed: one length-delimited run of varints.</summary>
    public void PackedInts(int field, ReadOnlySpan<long> values)
    {
        var run = new ProtoWriter();
        foreach (long v in values) run.RawVarint((ulong)v);
        Bytes(field, run.Written);
    }

    /// <summary>A nested message: <paramref name="write"/> fills it, then it goes in with its length.</summary>
    public void Message(int field, Action<ProtoWriter> write)
    {
        var inner = new ProtoWriter();
        write(inner);
        Bytes(field, inner.Written);
    }

    private void Tag(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

    private void RawVarint(ulong value)
    {
        // Seven bits at a time, low first; the top bit says another byte follows.
        while (value >= 0x80)
        {
            Reserve(1)[0] = (byte)(value | 0x80);
            value >>= 7;
        }
        Reserve(1)[0] = (byte)value;
    }

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        Span<byte> span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
