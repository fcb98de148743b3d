using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.CompilerServices;

/// <summary>
/// Inverted dropout's kernels. The mask is a pure function of the step's seed and the element's index (a 32-bit integer
/// hash, <see cref="Keep"/>), so it needs no random state per element, costs the same on any number of threads, and is
/// the same bit for bit on the GPU (Compiled.Gpu's Dropout runs the same integer arithmetic).
/// </summary>
public static class Dropout
{
    /// <summary>Training: <c>mask[i] = Keep(seed, i, threshold) ? scale : 0</c> and <c>y[i] = x[i] · mask[i]</c> for i &lt; count.</summary>
    /// <param name="y">The output.</param>
    /// <param name="mask">Receives the mask the backward pass multiplies by.</param>
    /// <param name="x">The input.</param>
    /// <param name="seed">The step's random seed.</param>
    /// <param name="count">Elements: batch × features.</param>
    /// <param name="threshold">An element is kept when the top 24 bits of its hash are ≥ threshold (rate · 2²⁴).</param>
    /// <param name="scale">1 / (1 − rate).</param>
    public static void Forward(Span<float> y, Span<float> mask, ReadOnlySpan<float> x, uint seed, int count, uint threshold, float scale)
    {
        if ((uint)count > (uint)x.Length || y.Length < count || mask.Length < count) Activations.ThrowShort(nameof(count));
        ref float py = ref y[0], pm = ref mask[0];
        ref float px = ref Unsafe.AsRef(in x[0]);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Gemm.Isa == KernelIsa.Vector512)
        {
            Vector512<uint> lanes = Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            Vector512<uint> limit = Vector512.Create(threshold);
            Vector512<float> s = Vector512.Create(scale);
            for (; i + 16 <= count; i += 16)
            {
                Vector512<uint> h = Hash(lanes + Vector512.Create((uint)i), seed);
                Vector512<float> m = Vector512.GreaterThanOrEqual(Vector512.ShiftRightLogical(h, 8), limit).AsSingle() & s;
                m.StoreUnsafe(ref pm, (nuint)i);
                (Vector512.LoadUnsafe(ref px, (nuint)i) * m).StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && Gemm.Isa != KernelIsa.Scalar)
        {
            Vector256<uint> lanes = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
            Vector256<uint> limit = Vector256.Create(threshold);
            Vector256<float> s = Vector256.Create(scale);
            for (; i + 8 <= count; i += 8)
            {
                Vector256<uint> h = Hash(lanes + Vector256.Create((uint)i), seed);
                Vector256<float> m = Vector256.GreaterThanOrEqual(Vector256.ShiftRightLogical(h, 8), limit).AsSingle() & s;
                m.StoreUnsafe(ref pm, (nuint)i);
                (Vector256.LoadUnsafe(ref px, (nuint)i) * m).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < count; i++)
        {
            float m = Keep(seed, (uint)i, threshold) ? scale : 0f;
            Unsafe.Add(ref pm, i) = m;
            Unsafe.Add(ref py, i) = Unsafe.Add(ref px, i) * m;
        }
    }

    /// <summary>Backward: <c>dx[i] = dy[i] · mask[i]</c> for i &lt; count.</summary>
    public static void Backward(Span<float> dx, ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, int count)
    {
        if ((uint)count > (uint)dx.Length || dy.Length < count || mask.Length < count) Activations.ThrowShort(nameof(count));
        System.Numerics.Tensors.TensorPrimitives.Multiply(dy.Slice(0, count), mask.Slice(0, count), dx.Slice(0, count));
    }

    /// <summary>Predicting: the identity, <c>y = x</c> for the first <paramref name="count"/> elements.</summary>
    public static void Inference(Span<float> y, ReadOnlySpan<float> x, int count) => x.Slice(0, count).CopyTo(y);

    /// <summary>Whether element <paramref name="index"/> is kept in the step seeded <paramref name="seed"/>.</summary>
    public static bool Keep(uint seed, uint index, uint threshold) => Hash(index, seed) >> 8 >= threshold;

    /// <summary>A 32-bit integer hash of (index, seed): the golden-ratio multiply, then MurmurHash3's finaliser.</summary>
    public static uint Hash(uint index, uint seed)
    {
        uint h = unchecked(index * 0x9E3779B1u) ^ seed;
        h ^= h >> 16;
        h = unchecked(h * 0x85EBCA6Bu);
        h ^= h >> 13;
        h = unchecked(h * 0xC2B2AE35u);
        return h ^ (h >> 16);
    }

    private static Vector512<uint> Hash(Vector512<uint> index, uint seed)
    {
        Vector512<uint> h = (index * 0x9E3779B1u) ^ Vector512.Create(seed);
        h ^= Vector512.ShiftRightLogical(h, 16);
        h *= 0x85EBCA6Bu;
        h ^= Vector512.ShiftRightLogical(h, 13);
        h *= 0xC2B2AE35u;
        return h ^ Vector512.ShiftRightLogical(h, 16);
    }

    private static Vector256<uint> Hash(Vector256<uint> index, uint seed)
    {
        Vector256<uint> h = (index * 0x9E3779B1u) ^ Vector256.Create(seed);
        h ^= Vector256.ShiftRightLogical(h, 16);
        h *= 0x85EBCA6Bu;
        h ^= Vector256.ShiftRightLogical(h, 13);
        h *= 0xC2B2AE35u;
        return h ^ Vector256.ShiftRightLogical(h, 16);
    }
}
