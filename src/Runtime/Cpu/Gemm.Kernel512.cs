using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// AVX-512 micro-kernel: an 8 × 32 tile in 16 zmm accumulators. Each k step loads two vectors of the packed B
/// panel and broadcasts eight A values from the packed A panel (contiguous, at constant offsets), 16 FMAs. Column
/// edges use masked loads and stores; row edges compute the packed zero rows and do not store them.
/// </summary>
internal readonly unsafe struct Kernel512 : IKernel
{
    public static int MR => 8;
    public static int NR => 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile<TAct>(float* ap, float* bp, int kc, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols, bool first, bool last) where TAct : struct, IActivation
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(bp), b1 = Vector512.Load(bp + 16), x;
            x = Vector512.Create(ap[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(ap[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(ap[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(ap[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(ap[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(ap[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(ap[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(ap[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            bp += 32;
            ap += 8;
        }
        Vector512<float> bias0 = default, bias1 = default;
        if (bias != null)
        {
            bias0 = Avx512F.MaskLoad(bias, Mask(cols), Vector512<float>.Zero);
            bias1 = Avx512F.MaskLoad(bias + 16, Mask(cols - 16), Vector512<float>.Zero);
        }
        StoreRow<TAct>(c, pre, c00, c01, bias0, bias1, first, last, cols);
        if (rows > 1) StoreRow<TAct>(c + ldc, pre == null ? null : pre + ldc, c10, c11, bias0, bias1, first, last, cols);
        if (rows > 2) StoreRow<TAct>(c + 2 * ldc, pre == null ? null : pre + 2 * ldc, c20, c21, bias0, bias1, first, last, cols);
        if (rows > 3) StoreRow<TAct>(c + 3 * ldc, pre == null ? null : pre + 3 * ldc, c30, c31, bias0, bias1, first, last, cols);
        if (rows > 4) StoreRow<TAct>(c + 4 * ldc, pre == null ? null : pre + 4 * ldc, c40, c41, bias0, bias1, first, last, cols);
        if (rows > 5) StoreRow<TAct>(c + 5 * ldc, pre == null ? null : pre + 5 * ldc, c50, c51, bias0, bias1, first, last, cols);
        if (rows > 6) StoreRow<TAct>(c + 6 * ldc, pre == null ? null : pre + 6 * ldc, c60, c61, bias0, bias1, first, last, cols);
        if (rows > 7) StoreRow<TAct>(c + 7 * ldc, pre == null ? null : pre + 7 * ldc, c70, c71, bias0, bias1, first, last, cols);
    }

    /// <summary>Lanes below <paramref name="count"/> set (all bits), the rest clear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Mask(int count) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreRow<TAct>(float* c, float* pre, Vector512<float> v0, Vector512<float> v1,
        Vector512<float> bias0, Vector512<float> bias1, bool first, bool last, int cols) where TAct : struct, IActivation
    {
        if (cols == 32)
        {
            if (!first) { v0 += Vector512.Load(c); v1 += Vector512.Load(c + 16); }
            if (last)
            {
                v0 += bias0; v1 += bias1;
                if (pre != null) { v0.Store(pre); v1.Store(pre + 16); }
                v0 = TAct.Apply(v0); v1 = TAct.Apply(v1);
            }
            v0.Store(c); v1.Store(c + 16);
        }
        else
        {
            Vector512<float> m0 = Mask(cols), m1 = Mask(cols - 16);
            if (!first)
            {
                v0 += Avx512F.MaskLoad(c, m0, Vector512<float>.Zero);
                v1 += Avx512F.MaskLoad(c + 16, m1, Vector512<float>.Zero);
            }
            if (last)
            {
                v0 += bias0; v1 += bias1;
                if (pre != null) { Avx512F.MaskStore(pre, m0, v0); Avx512F.MaskStore(pre + 16, m1, v1); }
                v0 = TAct.Apply(v0); v1 = TAct.Apply(v1);
            }
            Avx512F.MaskStore(c, m0, v0);
            Avx512F.MaskStore(c + 16, m1, v1);
        }
    }

    public static void PackA(GemmArgs* g, int m, int rows, int pc, int kc, float* dst)
    {
        nint rs = g->RsA, cs = g->CsA;
        float* src = g->A + m * rs + pc * cs;
        if (rs == 1)
        {
            // Columns of A are contiguous (A = dzᵀ): eight floats per k (masked past the bottom edge).
            if (rows == 8)
                for (int k = 0; k < kc; k++, src += cs, dst += 8) Vector256.Load(src).Store(dst);
            else
            {
                Vector512<float> mask = Mask(rows);
                for (int k = 0; k < kc; k++, src += cs, dst += 8)
                    Avx512F.MaskLoad(src, mask, Vector512<float>.Zero).GetLower().Store(dst);
            }
        }
        else if (cs == 1)
        {
            // Rows of A are contiguous: transpose 8 × 16 blocks in registers.
            int k = 0;
            for (; k + 16 <= kc; k += 16) Transpose8(src + k, rs, rows, dst + k * 8);
            for (; k < kc; k++)
                for (int r = 0; r < 8; r++)
                    dst[k * 8 + r] = r < rows ? src[r * rs + k] : 0f;
        }
        else
        {
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < 8; r++)
                    dst[k * 8 + r] = r < rows ? src[r * rs + k * cs] : 0f;
        }
    }

    /// <summary>dst[k·8 + r] = src[r·stride + k] for k &lt; 16, r &lt; 8; source rows at or past <paramref name="valid"/> read as zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float* src, nint stride, int valid, float* dst)
    {
        Vector512<float> r0 = Row(src, stride, 0, valid), r1 = Row(src, stride, 1, valid), r2 = Row(src, stride, 2, valid), r3 = Row(src, stride, 3, valid);
        Vector512<float> r4 = Row(src, stride, 4, valid), r5 = Row(src, stride, 5, valid), r6 = Row(src, stride, 6, valid), r7 = Row(src, stride, 7, valid);
        // Within each 128-bit lane L: u_e (e = 0..3) holds rows 0-3 at k = 4L + e, u_{4+e} rows 4-7.
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1), t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5), t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> u0 = Avx512F.Shuffle(t0, t2, 0x44), u1 = Avx512F.Shuffle(t0, t2, 0xEE), u2 = Avx512F.Shuffle(t1, t3, 0x44), u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> u4 = Avx512F.Shuffle(t4, t6, 0x44), u5 = Avx512F.Shuffle(t4, t6, 0xEE), u6 = Avx512F.Shuffle(t5, t7, 0x44), u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        // Join lane L of u_e and u_{4+e}: all eight rows at k = 4L + e, two k per vector.
        Vector512<int> lo = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        Vector512<int> hi = Vector512.Create(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
        Pair(u0, u4, lo, hi, dst, 0);
        Pair(u1, u5, lo, hi, dst, 1);
        Pair(u2, u6, lo, hi, dst, 2);
        Pair(u3, u7, lo, hi, dst, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(Vector512<float> top, Vector512<float> bottom, Vector512<int> lo, Vector512<int> hi, float* dst, int e)
    {
        Vector512<float> v = Avx512F.PermuteVar16x32x2(top, lo, bottom); // k = e, 4 + e
        Vector512<float> w = Avx512F.PermuteVar16x32x2(top, hi, bottom); // k = 8 + e, 12 + e
        v.GetLower().Store(dst + e * 8);
        v.GetUpper().Store(dst + (4 + e) * 8);
        w.GetLower().Store(dst + (8 + e) * 8);
        w.GetUpper().Store(dst + (12 + e) * 8);
    }

    public static void PackB(GemmArgs* g, int pc, int kc, int n, int cols, float* dst)
    {
        nint rs = g->RsB, cs = g->CsB;
        if (cs == 1)
        {
            // Rows of B are contiguous: copy 32 floats per k (masked past the right edge).
            float* src = g->B + pc * rs + n;
            if (cols == 32)
            {
                for (int k = 0; k < kc; k++, src += rs, dst += 32)
                {
                    Vector512.Load(src).Store(dst);
                    Vector512.Load(src + 16).Store(dst + 16);
                }
            }
            else
            {
                Vector512<float> m0 = Mask(cols), m1 = Mask(cols - 16);
                for (int k = 0; k < kc; k++, src += rs, dst += 32)
                {
                    Avx512F.MaskLoad(src, m0, Vector512<float>.Zero).Store(dst);
                    Avx512F.MaskLoad(src + 16, m1, Vector512<float>.Zero).Store(dst + 16);
                }
            }
        }
        else if (rs == 1)
        {
            // Columns of B are contiguous (B = wᵀ): transpose 16 × 16 blocks in registers.
            for (int h = 0; h < 32; h += 16)
            {
                int valid = Math.Clamp(cols - h, 0, 16);
                float* src = g->B + (n + h) * cs + pc;
                int k = 0;
                if (valid == 16)
                    for (; k + 16 <= kc; k += 16) Transpose16(src + k, cs, 16, dst + k * 32 + h);
                else if (valid > 0)
                    for (; k + 16 <= kc; k += 16) Transpose16(src + k, cs, valid, dst + k * 32 + h);
                for (; k < kc; k++)
                    for (int j = 0; j < 16; j++)
                        dst[k * 32 + h + j] = j < valid ? src[j * cs + k] : 0f;
            }
        }
        else
        {
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < 32; j++)
                    dst[k * 32 + j] = j < cols ? g->B[(pc + k) * rs + (n + j) * cs] : 0f;
        }
    }

    /// <summary>dst[k·32 + j] = src[j·stride + k] for a 16 × 16 block; source rows at or past <paramref name="valid"/> read as zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* src, nint stride, int valid, float* dst)
    {
        Vector512<float> r0 = Row(src, stride, 0, valid), r1 = Row(src, stride, 1, valid), r2 = Row(src, stride, 2, valid), r3 = Row(src, stride, 3, valid);
        Vector512<float> r4 = Row(src, stride, 4, valid), r5 = Row(src, stride, 5, valid), r6 = Row(src, stride, 6, valid), r7 = Row(src, stride, 7, valid);
        Vector512<float> r8 = Row(src, stride, 8, valid), r9 = Row(src, stride, 9, valid), r10 = Row(src, stride, 10, valid), r11 = Row(src, stride, 11, valid);
        Vector512<float> r12 = Row(src, stride, 12, valid), r13 = Row(src, stride, 13, valid), r14 = Row(src, stride, 14, valid), r15 = Row(src, stride, 15, valid);

        // Within each 128-bit lane: interleave pairs, then gather four rows' element e (e = 0..3).
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1), t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5), t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9), t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13), t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);

        Vector512<float> u00 = Avx512F.Shuffle(t0, t2, 0x44), u01 = Avx512F.Shuffle(t0, t2, 0xEE), u02 = Avx512F.Shuffle(t1, t3, 0x44), u03 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> u10 = Avx512F.Shuffle(t4, t6, 0x44), u11 = Avx512F.Shuffle(t4, t6, 0xEE), u12 = Avx512F.Shuffle(t5, t7, 0x44), u13 = Avx512F.Shuffle(t5, t7, 0xEE);
        Vector512<float> u20 = Avx512F.Shuffle(t8, t10, 0x44), u21 = Avx512F.Shuffle(t8, t10, 0xEE), u22 = Avx512F.Shuffle(t9, t11, 0x44), u23 = Avx512F.Shuffle(t9, t11, 0xEE);
        Vector512<float> u30 = Avx512F.Shuffle(t12, t14, 0x44), u31 = Avx512F.Shuffle(t12, t14, 0xEE), u32 = Avx512F.Shuffle(t13, t15, 0x44), u33 = Avx512F.Shuffle(t13, t15, 0xEE);

        // Lane L of u_ge holds rows 4g..4g+3 at k = 4L + e: transpose the 4 × 4 grid of 128-bit blocks.
        Blocks(u00, u10, u20, u30, dst, 0);
        Blocks(u01, u11, u21, u31, dst, 1);
        Blocks(u02, u12, u22, u32, dst, 2);
        Blocks(u03, u13, u23, u33, dst, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row(float* src, nint stride, int j, int valid) =>
        j < valid ? Vector512.Load(src + j * stride) : Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Blocks(Vector512<float> u0, Vector512<float> u1, Vector512<float> u2, Vector512<float> u3, float* dst, int e)
    {
        Vector512<float> v0 = Avx512F.Shuffle4x128(u0, u1, 0x44), v1 = Avx512F.Shuffle4x128(u0, u1, 0xEE);
        Vector512<float> v2 = Avx512F.Shuffle4x128(u2, u3, 0x44), v3 = Avx512F.Shuffle4x128(u2, u3, 0xEE);
        Avx512F.Shuffle4x128(v0, v2, 0x88).Store(dst + e * 32);
        Avx512F.Shuffle4x128(v0, v2, 0xDD).Store(dst + (4 + e) * 32);
        Avx512F.Shuffle4x128(v1, v3, 0x88).Store(dst + (8 + e) * 32);
        Avx512F.Shuffle4x128(v1, v3, 0xDD).Store(dst + (12 + e) * 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4(float* x, float* w, nint ldw, int k, float* result)
    {
        float* w0 = w, w1 = w + ldw, w2 = w + 2 * ldw, w3 = w + 3 * ldw;
        Vector512<float> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector512<float> s20 = default, s21 = default, s30 = default, s31 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            Vector512<float> xa = Vector512.Load(x + i), xb = Vector512.Load(x + i + 16);
            s00 = Vector512.FusedMultiplyAdd(xa, Vector512.Load(w0 + i), s00); s01 = Vector512.FusedMultiplyAdd(xb, Vector512.Load(w0 + i + 16), s01);
            s10 = Vector512.FusedMultiplyAdd(xa, Vector512.Load(w1 + i), s10); s11 = Vector512.FusedMultiplyAdd(xb, Vector512.Load(w1 + i + 16), s11);
            s20 = Vector512.FusedMultiplyAdd(xa, Vector512.Load(w2 + i), s20); s21 = Vector512.FusedMultiplyAdd(xb, Vector512.Load(w2 + i + 16), s21);
            s30 = Vector512.FusedMultiplyAdd(xa, Vector512.Load(w3 + i), s30); s31 = Vector512.FusedMultiplyAdd(xb, Vector512.Load(w3 + i + 16), s31);
        }
        for (; i < k; i += 16)
        {
            Vector512<float> m = Mask(k - i);
            Vector512<float> xa = Avx512F.MaskLoad(x + i, m, Vector512<float>.Zero);
            s00 = Vector512.FusedMultiplyAdd(xa, Avx512F.MaskLoad(w0 + i, m, Vector512<float>.Zero), s00);
            s10 = Vector512.FusedMultiplyAdd(xa, Avx512F.MaskLoad(w1 + i, m, Vector512<float>.Zero), s10);
            s20 = Vector512.FusedMultiplyAdd(xa, Avx512F.MaskLoad(w2 + i, m, Vector512<float>.Zero), s20);
            s30 = Vector512.FusedMultiplyAdd(xa, Avx512F.MaskLoad(w3 + i, m, Vector512<float>.Zero), s30);
        }
        result[0] = Vector512.Sum(s00 + s01);
        result[1] = Vector512.Sum(s10 + s11);
        result[2] = Vector512.Sum(s20 + s21);
        result[3] = Vector512.Sum(s30 + s31);
    }

    public static float Dot1(float* x, float* w, int k)
    {
        Vector512<float> s0 = default, s1 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(w + i), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), Vector512.Load(w + i + 16), s1);
        }
        for (; i < k; i += 16)
        {
            Vector512<float> m = Mask(k - i);
            s0 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(x + i, m, Vector512<float>.Zero), Avx512F.MaskLoad(w + i, m, Vector512<float>.Zero), s0);
        }
        return Vector512.Sum(s0 + s1);
    }

    public static void Epilogue<TAct>(float* c, float* pre, float* bias, int n) where TAct : struct, IActivation
    {
        for (int i = 0; i < n; i += 16)
        {
            Vector512<float> m = Mask(n - i);
            Vector512<float> z = Avx512F.MaskLoad(c + i, m, Vector512<float>.Zero);
            if (bias != null) z += Avx512F.MaskLoad(bias + i, m, Vector512<float>.Zero);
            if (pre != null) Avx512F.MaskStore(pre + i, m, z);
            Avx512F.MaskStore(c + i, m, TAct.Apply(z));
        }
    }
}
