using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// The copy of NHWC rows into the planar kernels' layout for 2 to 8 channels on AVX-512 (the weight gradient's output
/// gradient, 6 filters in LeNet-5's conv1): 16 pixels at a time, in registers. The 16·c floats of 16 NHWC pixels are c
/// vectors; a planar row (one channel, 16 pixels) takes from each pair of them with one two-source permute
/// (<c>vpermt2ps</c>) merged under a lane mask, so a 16-pixel group costs c·⌈c/2⌉ permutes instead of 16·c scalar loads
/// and stores. The copy is exact, so the kernels' results do not change; a partial group (the end of an image row) is
/// loaded and stored under lane masks.
/// </summary>
/// <remarks>Measured against the scalar copies in one process (one core, loaded machine, best of single calls): conv1's
/// weight gradient 263 → 221 µs at batch 64. The same scheme for 16 channels (8 permutes per row) and in the other
/// direction (planar → NHWC, the forward's output and the input gradient) measured slower than the scalar copies
/// (conv1 forward 191 → 206 µs, conv2 input gradient 462 → 537), so those keep the scalar copies.</remarks>
public static unsafe partial class Conv2D
{
    /// <summary>False makes the planar kernels copy NHWC rows element by element (tests and benchmarks compare the two).</summary>
    internal static bool TransposeInRegisters = true;

    /// <summary>Whether the in-register copy handles <paramref name="c"/> channels here.</summary>
    private static bool CanTranspose(int c) => TransposeInRegisters && Gemm.Isa == KernelIsa.Vector512 && c >= 2 && c <= 8;

    /// <summary>
    /// Index and mask vectors for c channels, built once per channel count (never freed): [row ch][pair m] selects lane i
    /// from float i·c + ch of the group (in NHWC vectors 2m, 2m + 1).
    /// </summary>
    private sealed class TransposeTable
    {
        public readonly int* ToPlanarIndex, ToPlanarMask;
        public readonly int Pairs;

        public TransposeTable(int c)
        {
            Pairs = (c + 1) / 2;
            nint ints = (nint)c * Pairs * 16;
            int* block = (int*)NativeMemory.AlignedAlloc((nuint)(2 * ints * sizeof(int)), 64);
            ToPlanarIndex = block; ToPlanarMask = block + ints;
            new Span<int>(block, checked((int)(2 * ints))).Clear();
            for (int v = 0; v < c; v++)
                for (int m = 0; m < Pairs; m++)
                {
                    nint at = ((nint)v * Pairs + m) * 16;
                    for (int i = 0; i < 16; i++)
                    {
                        // Planar row v, lane i: float i·c + v of the group.
                        int f = i * c + v;
                        if (f / 32 == m) { ToPlanarIndex[at + i] = f - 32 * m; ToPlanarMask[at + i] = -1; }
                    }
                }
        }
    }

    private static readonly TransposeTable?[] s_transposeTables = new TransposeTable?[9];

    /// <summary>The table for <paramref name="c"/> channels (2..8), built on first use.</summary>
    private static TransposeTable Table(int c) => s_transposeTables[c] ??= new TransposeTable(c);

    /// <summary>
    /// One NHWC row to planar rows: dst[ch·<paramref name="stride"/> + i] = src[i·c + ch] for i &lt; <paramref name="pixels"/>,
    /// ch &lt; c. Nothing past the pixels is written on either side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ToPlanar(TransposeTable t, float* src, int pixels, int c, float* dst, nint stride)
    {
        int pairs = t.Pairs;
        // The group's c vectors, and one zero vector more when c is odd (the last pair's upper half).
        Vector512<float>* v = stackalloc Vector512<float>[10];
        v[c] = Vector512<float>.Zero;
        for (int i0 = 0; i0 < pixels; i0 += 16, src += 16 * c, dst += 16)
        {
            int n = Math.Min(16, pixels - i0), floats = n * c;
            for (int k = 0; k < c; k++)
            {
                int left = floats - 16 * k;
                v[k] = left >= 16 ? Vector512.Load(src + 16 * k)
                    : left > 0 ? Avx512F.MaskLoad(src + 16 * k, Kernel512.Mask(left), Vector512<float>.Zero)
                    : Vector512<float>.Zero;
            }
            Vector512<float> laneMask = Kernel512.Mask(n);
            int* index = t.ToPlanarIndex, mask = t.ToPlanarMask;
            for (int ch = 0; ch < c; ch++)
            {
                Vector512<float> row = Vector512<float>.Zero;
                for (int m = 0; m < pairs; m++, index += 16, mask += 16)
                {
                    Vector512<float> p = Avx512F.PermuteVar16x32x2(v[2 * m], Vector512.Load(index), v[2 * m + 1]);
                    row = Vector512.ConditionalSelect(Vector512.Load(mask).AsSingle(), p, row);
                }
                if (n == 16) row.Store(dst + ch * stride);
                else Avx512F.MaskStore(dst + ch * stride, laneMask, row);
            }
        }
    }
}
