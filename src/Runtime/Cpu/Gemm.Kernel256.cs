using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
}
