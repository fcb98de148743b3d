using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Compiled;

/// <summary>Vectorised scans for values that would silently poison training: NaN and ±infinity.</summary>
internal static class FloatChecks
{
    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or -1 when every value is finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // A float is NaN or infinite exactly when its exponent bits are all ones.
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        ref uint start = ref MemoryMarshal.GetReference(bits);
        nuint n = (nuint)bits.Length, i = 0;
        const uint Exponent = 0x7F80_0000;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<uint>.Count)
        {
            Vector512<uint> mask = Vector512.Create(Exponent);
            for (; i + (nuint)(4 * Vector512<uint>.Count) <= n; i += (nuint)(4 * Vector512<uint>.Count))
            {
                Vector512<uint> a = Vector512.LoadUnsafe(ref start, i) & mask, b = Vector512.LoadUnsafe(ref start, i + 16) & mask;
                Vector512<uint> c = Vector512.LoadUnsafe(ref start, i + 32) & mask, d = Vector512.LoadUnsafe(ref start, i + 48) & mask;
                Vector512<uint> any = Vector512.Equals(a, mask) | Vector512.Equals(b, mask) | Vector512.Equals(c, mask) | Vector512.Equals(d, mask);
                if (any != Vector512<uint>.Zero) break;
            }
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<uint>.Count)
        {
            Vector256<uint> mask = Vector256.Create(Exponent);
            for (; i + (nuint)(4 * Vector256<uint>.Count) <= n; i += (nuint)(4 * Vector256<uint>.Count))
            {
                Vector256<uint> a = Vector256.LoadUnsafe(ref start, i) & mask, b = Vector256.LoadUnsafe(ref start, i + 8) & mask;
                Vector256<uint> c = Vector256.LoadUnsafe(ref start, i + 16) & mask, d = Vector256.LoadUnsafe(ref start, i + 24) & mask;
                Vector256<uint> any = Vector256.Equals(a, mask) | Vector256.Equals(b, mask) | Vector256.Equals(c, mask) | Vector256.Equals(d, mask);
                if (any != Vector256<uint>.Zero) break;
            }
        }
        for (; i < n; i++)
            if ((Unsafe.Add(ref start, i) & Exponent) == Exponent) return (int)i;
        return -1;
    }

    /// <summary>"NaN", "+Infinity" or "-Infinity" (or the number), as messages show a bad value.</summary>
    public static string Describe(float value) =>
        float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "+Infinity" : float.IsNegativeInfinity(value) ? "-Infinity"
        : value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
