using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Compiled;

/// <summary>Byte pixels to floats in [0, 1] (<c>x / 255</c>, exactly as torchvision's <c>ToTensor</c> divides).</summary>
internal static class PixelConversion
{
    /// <summary>The float for each byte value: <c>b / 255f</c>, identical to what the vector path computes.</summary>
    internal static readonly float[] UnitTable = CreateTable();

    private static float[] CreateTable()
    {
        var table = new float[256];
        for (int i = 0; i < table.Length; i++) table[i] = i / 255f;
        return table;
    }

    /// <summary>dst[i] = src[i] / 255 for every i; <paramref name="dst"/> must be at least as long as <paramref name="src"/>.</summary>
    public static void ToUnitRange(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length < src.Length)
            throw new ArgumentException($"dst holds {dst.Length} floats, but src has {src.Length} bytes.", nameof(dst));
        ref byte s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        nuint n = (nuint)src.Length, i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<byte>.Count)
        {
            Vector512<float> div = Vector512.Create(255f);
            for (; i + (nuint)Vector512<byte>.Count <= n; i += (nuint)Vector512<byte>.Count)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, i));
                var (a, b) = Vector512.Widen(lo);
                var (c, e) = Vector512.Widen(hi);
                (Vector512.ConvertToSingle(a.AsInt32()) / div).StoreUnsafe(ref d, i);
                (Vector512.ConvertToSingle(b.AsInt32()) / div).StoreUnsafe(ref d, i + 16);
                (Vector512.ConvertToSingle(c.AsInt32()) / div).StoreUnsafe(ref d, i + 32);
                (Vector512.ConvertToSingle(e.AsInt32()) / div).StoreUnsafe(ref d, i + 48);
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<byte>.Count)
        {
            Vector256<float> div = Vector256.Create(255f);
            for (; i + (nuint)Vector256<byte>.Count <= n; i += (nuint)Vector256<byte>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, i));
                var (a, b) = Vector256.Widen(lo);
                var (c, e) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(a.AsInt32()) / div).StoreUnsafe(ref d, i);
                (Vector256.ConvertToSingle(b.AsInt32()) / div).StoreUnsafe(ref d, i + 8);
                (Vector256.ConvertToSingle(c.AsInt32()) / div).StoreUnsafe(ref d, i + 16);
                (Vector256.ConvertToSingle(e.AsInt32()) / div).StoreUnsafe(ref d, i + 24);
            }
        }

        float[] table = UnitTable;
        for (; i < n; i++) Unsafe.Add(ref d, i) = table[Unsafe.Add(ref s, i)];
    }
}
