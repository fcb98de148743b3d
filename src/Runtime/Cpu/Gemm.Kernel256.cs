using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// AVX2 fallback micro-kernel: a 6 × 16 tile in 12 ymm accumulators, plus two B vectors and one broadcast: 15 of
/// the 16 registers, so nothing spills, and 12 FMAs for every 2 loads and 6 broadcasts (4 × 16 did 8). A comes
/// packed in 6-row panels.
/// Column edges go through a stack tile and a scalar epilogue.
/// </summary>
internal readonly unsafe struct Kernel256 : IKernel
{
    public static int MR => 6;
    public static int NR => 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile<TAct>(float* ap, float* bp, int kc, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols, bool first, bool last) where TAct : struct, IActivation
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(bp), b1 = Vector256.Load(bp + 8), x;
            x = Vector256.Create(ap[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(ap[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(ap[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(ap[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(ap[4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(ap[5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            bp += 16;
            ap += 6;
        }
        Finish<TAct>(c, ldc, pre, bias, rows, cols, first, last, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary><see cref="Tile{TAct}"/> with A's six rows read where they lie (row r at a + r·rsA, contiguous in k)
    /// instead of from a packed panel: the same FMAs in the same order, so the same bits. Spare rows read row 0 and
    /// are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InPlaceTile<TAct>(float* a, nint rsA, float* bp, int kc, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols, bool first, bool last) where TAct : struct, IActivation
    {
        float* a0 = a, a1 = rows > 1 ? a0 + rsA : a0, a2 = rows > 2 ? a0 + 2 * rsA : a0;
        float* a3 = rows > 3 ? a0 + 3 * rsA : a0, a4 = rows > 4 ? a0 + 4 * rsA : a0, a5 = rows > 5 ? a0 + 5 * rsA : a0;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(bp), b1 = Vector256.Load(bp + 8), x;
            x = Vector256.Create(a0[k]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[k]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[k]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[k]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[k]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[k]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            bp += 16;
        }
        Finish<TAct>(c, ldc, pre, bias, rows, cols, first, last, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>A tile's store: accumulate onto C unless first; + bias, keep z and the activation when last; column
    /// edges through a stack tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TAct>(float* c, nint ldc, float* pre, float* bias, int rows, int cols, bool first, bool last,
        Vector256<float> c00, Vector256<float> c01, Vector256<float> c10, Vector256<float> c11,
        Vector256<float> c20, Vector256<float> c21, Vector256<float> c30, Vector256<float> c31,
        Vector256<float> c40, Vector256<float> c41, Vector256<float> c50, Vector256<float> c51) where TAct : struct, IActivation
    {
        if (cols == 16)
        {
            Vector256<float> bias0 = bias != null ? Vector256.Load(bias) : default;
            Vector256<float> bias1 = bias != null ? Vector256.Load(bias + 8) : default;
            StoreRow<TAct>(c, pre, c00, c01, bias0, bias1, first, last);
            if (rows > 1) StoreRow<TAct>(c + ldc, pre == null ? null : pre + ldc, c10, c11, bias0, bias1, first, last);
            if (rows > 2) StoreRow<TAct>(c + 2 * ldc, pre == null ? null : pre + 2 * ldc, c20, c21, bias0, bias1, first, last);
            if (rows > 3) StoreRow<TAct>(c + 3 * ldc, pre == null ? null : pre + 3 * ldc, c30, c31, bias0, bias1, first, last);
            if (rows > 4) StoreRow<TAct>(c + 4 * ldc, pre == null ? null : pre + 4 * ldc, c40, c41, bias0, bias1, first, last);
            if (rows > 5) StoreRow<TAct>(c + 5 * ldc, pre == null ? null : pre + 5 * ldc, c50, c51, bias0, bias1, first, last);
            return;
        }
        float* tile = stackalloc float[96];
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                nint o = i * ldc + j;
                float v = tile[i * 16 + j];
                if (!first) v = c[o] + v;
                if (last)
                {
                    if (bias != null) v += bias[j];
                    if (pre != null) pre[o] = v;
                    v = TAct.Apply(v);
                }
                c[o] = v;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TAct>(float* c, float* pre, Vector256<float> v0, Vector256<float> v1,
        Vector256<float> bias0, Vector256<float> bias1, bool first, bool last) where TAct : struct, IActivation
    {
        if (!first) { v0 = Vector256.Load(c) + v0; v1 = Vector256.Load(c + 8) + v1; }
        if (last)
        {
            v0 += bias0; v1 += bias1;
            if (pre != null) { v0.Store(pre); v1.Store(pre + 8); }
            v0 = TAct.Apply(v0); v1 = TAct.Apply(v1);
        }
        v0.Store(c); v1.Store(c + 8);
    }

    public static void PackA(GemmArgs* g, int m, int rows, int pc, int kc, float* dst)
    {
        nint rs = g->RsA, cs = g->CsA;
        float* src = g->A + m * rs + pc * cs;
        if (rows == 6)
        {
            float* s0 = src, s1 = s0 + rs, s2 = s1 + rs, s3 = s2 + rs, s4 = s3 + rs, s5 = s4 + rs;
            for (int k = 0; k < kc; k++, dst += 6)
            {
                nint o = k * cs;
                dst[0] = s0[o]; dst[1] = s1[o]; dst[2] = s2[o]; dst[3] = s3[o]; dst[4] = s4[o]; dst[5] = s5[o];
            }
            return;
        }
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < 6; r++)
                dst[k * 6 + r] = r < rows ? src[r * rs + k * cs] : 0f;
    }

    public static void PackB(GemmArgs* g, int pc, int kc, int n, int cols, float* dst)
    {
        nint rs = g->RsB, cs = g->CsB;
        if (rs == 1 && cols == 16)
        {
            // B = wᵀ: each column is a row of w, contiguous in k. Two 8 × 8 register transposes per 8 k.
            float* src = g->B + pc + n * cs;
            int k = 0;
            for (; k + 8 <= kc; k += 8)
            {
                Transpose8(src + k, cs, dst + k * 16);
                Transpose8(src + 8 * cs + k, cs, dst + k * 16 + 8);
            }
            for (; k < kc; k++)
                for (int j = 0; j < 16; j++)
                    dst[k * 16 + j] = src[j * cs + k];
            return;
        }
        if (cs == 1 && cols == 16)
        {
            float* src = g->B + pc * rs + n;
            for (int k = 0; k < kc; k++, src += rs, dst += 16)
            {
                Vector256.Load(src).Store(dst);
                Vector256.Load(src + 8).Store(dst + 8);
            }
            return;
        }
        for (int k = 0; k < kc; k++)
            for (int j = 0; j < 16; j++)
                dst[k * 16 + j] = j < cols ? g->B[(pc + k) * rs + (n + j) * cs] : 0f;
    }

    public static void Dot4(float* x, float* w, nint ldw, int k, float* result)
    {
        float* w0 = w, w1 = w + ldw, w2 = w + 2 * ldw, w3 = w + 3 * ldw;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            Vector256<float> xv = Vector256.Load(x + i);
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w0 + i), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w1 + i), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w2 + i), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w3 + i), s3);
        }
        float r0 = Vector256.Sum(s0), r1 = Vector256.Sum(s1), r2 = Vector256.Sum(s2), r3 = Vector256.Sum(s3);
        for (; i < k; i++)
        {
            r0 += x[i] * w0[i]; r1 += x[i] * w1[i]; r2 += x[i] * w2[i]; r3 += x[i] * w3[i];
        }
        result[0] = r0; result[1] = r1; result[2] = r2; result[3] = r3;
    }

    public static float Dot1(float* x, float* w, int k)
    {
        Vector256<float> s = default;
        int i = 0;
        for (; i + 8 <= k; i += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(w + i), s);
        float r = Vector256.Sum(s);
        for (; i < k; i++) r += x[i] * w[i];
        return r;
    }

    public static void Epilogue<TAct>(float* c, float* pre, float* bias, int n) where TAct : struct, IActivation
    {
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> z = Vector256.Load(c + i);
            if (bias != null) z += Vector256.Load(bias + i);
            if (pre != null) z.Store(pre + i);
            TAct.Apply(z).Store(c + i);
        }
        for (; i < n; i++)
        {
            float z = c[i];
            if (bias != null) z += bias[i];
            if (pre != null) pre[i] = z;
            c[i] = TAct.Apply(z);
        }
    }

    /// <summary>d[k·16 + j] = s[j·stride + k] for j, k &lt; 8: eight rows of eight floats, transposed in registers
    /// (unpack, shuffle, then swap 128-bit halves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float* s, nint stride, float* d)
    {
        Vector256<float> r0 = Vector256.Load(s), r1 = Vector256.Load(s + stride), r2 = Vector256.Load(s + 2 * stride), r3 = Vector256.Load(s + 3 * stride);
        Vector256<float> r4 = Vector256.Load(s + 4 * stride), r5 = Vector256.Load(s + 5 * stride), r6 = Vector256.Load(s + 6 * stride), r7 = Vector256.Load(s + 7 * stride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(d);
        Avx.Permute2x128(u1, u5, 0x20).Store(d + 16);
        Avx.Permute2x128(u2, u6, 0x20).Store(d + 32);
        Avx.Permute2x128(u3, u7, 0x20).Store(d + 48);
        Avx.Permute2x128(u0, u4, 0x31).Store(d + 64);
        Avx.Permute2x128(u1, u5, 0x31).Store(d + 80);
        Avx.Permute2x128(u2, u6, 0x31).Store(d + 96);
        Avx.Permute2x128(u3, u7, 0x31).Store(d + 112);
    }
}
