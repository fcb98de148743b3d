using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

// Small products that the packed path serves badly: x·wᵀ at a few dozen rows, where packing wᵀ (a transpose of the
// whole weight, every call) costs a fifth of the product, and a 10-wide output layer fills a third of a 32-wide tile.
internal static unsafe partial class Gemm
{
    /// <summary>Columns below which a product with K-contiguous A and B (x·wᵀ, more than <see cref="DotMaxRows"/> rows)
    /// runs as 4 × 4 blocks of dot products read straight from x and w on AVX-512: a narrow output layer (10 classes)
    /// fills a third of the packed path's 32-wide tile, and its transposed packing costs as much as the product.
    /// Wider products stay on the packed path, which measured faster at 64 × 784 × 128 (66 against 71-75 µs on one core).</summary>
    public const int DotTileMaxColumns = 32;

    /// <summary>Rows of w a dot-tile pass keeps in L1 while it walks the blocks of four x rows.</summary>
    private const int DotTileBlock = 8;

    /// <summary>x·wᵀ with both operands K-contiguous, more than a few rows and few columns: the dot-tile path (AVX-512 only).</summary>
    private static bool IsDotTile(GemmArgs* g) =>
        g->RsB == 1 && g->CsA == 1 && g->M > DotMaxRows && g->N < DotTileMaxColumns;

    /// <summary>The part [m0, m1) × [n0, n1) as 4 × 4 tiles of dot products: for each group of four w rows (kept in L1)
    /// every block of four x rows, then the bias and activation per row. Each element is one K-vectorised dot product
    /// reduced by the same tree wherever its tile sits, so results do not depend on how the columns are split.</summary>
    private static void DotTileBody<TAct>(GemmArgs* g, int m0, int m1, int n0, int n1) where TAct : struct, IActivation
    {
        int k = g->K;
        for (int nb = n0; nb < n1; nb += DotTileBlock)
        {
            int nbEnd = Math.Min(n1, nb + DotTileBlock);
            for (int m = m0; m < m1; m += 4)
                for (int n = nb; n < nbEnd; n += 4)
                    DotTile512(g->A + m * g->RsA, g->RsA, g->B + n * g->CsB, g->CsB, k, g->C + m * g->LdC + n, g->LdC,
                        Math.Min(4, m1 - m), Math.Min(4, nbEnd - n));
        }
        for (int m = m0; m < m1; m++)
        {
            nint off = m * g->LdC + n0;
            Kernel512.Epilogue<TAct>(g->C + off, g->Pre != null ? g->Pre + off : null, g->Bias != null ? g->Bias + n0 : null, n1 - n0);
        }
    }

    /// <summary>c[i·ldc + j] = Σ_k a[i·rsA + k]·w[j·ldw + k] for i &lt; rows, j &lt; cols (both ≤ 4): sixteen vector
    /// accumulators over K, then one transposing reduction tree. Missing rows and columns read row 0 and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotTile512(float* a, nint rsA, float* w, nint ldw, int k, float* c, nint ldc, int rows, int cols)
    {
        float* a0 = a, a1 = rows > 1 ? a0 + rsA : a0, a2 = rows > 2 ? a0 + 2 * rsA : a0, a3 = rows > 3 ? a0 + 3 * rsA : a0;
        float* w0 = w, w1 = cols > 1 ? w0 + ldw : w0, w2 = cols > 2 ? w0 + 2 * ldw : w0, w3 = cols > 3 ? w0 + 3 * ldw : w0;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            Vector512<float> x0 = Vector512.Load(a0 + i), x1 = Vector512.Load(a1 + i), x2 = Vector512.Load(a2 + i), x3 = Vector512.Load(a3 + i);
            Vector512<float> v = Vector512.Load(w0 + i);
            c00 = Vector512.FusedMultiplyAdd(x0, v, c00); c10 = Vector512.FusedMultiplyAdd(x1, v, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, v, c20); c30 = Vector512.FusedMultiplyAdd(x3, v, c30);
            v = Vector512.Load(w1 + i);
            c01 = Vector512.FusedMultiplyAdd(x0, v, c01); c11 = Vector512.FusedMultiplyAdd(x1, v, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, v, c21); c31 = Vector512.FusedMultiplyAdd(x3, v, c31);
            v = Vector512.Load(w2 + i);
            c02 = Vector512.FusedMultiplyAdd(x0, v, c02); c12 = Vector512.FusedMultiplyAdd(x1, v, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, v, c22); c32 = Vector512.FusedMultiplyAdd(x3, v, c32);
            v = Vector512.Load(w3 + i);
            c03 = Vector512.FusedMultiplyAdd(x0, v, c03); c13 = Vector512.FusedMultiplyAdd(x1, v, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, v, c23); c33 = Vector512.FusedMultiplyAdd(x3, v, c33);
        }
        if (i < k)
        {
            Vector512<float> m = Kernel512.Mask(k - i), z = Vector512<float>.Zero;
            Vector512<float> x0 = Avx512F.MaskLoad(a0 + i, m, z), x1 = Avx512F.MaskLoad(a1 + i, m, z);
            Vector512<float> x2 = Avx512F.MaskLoad(a2 + i, m, z), x3 = Avx512F.MaskLoad(a3 + i, m, z);
            Vector512<float> v = Avx512F.MaskLoad(w0 + i, m, z);
            c00 = Vector512.FusedMultiplyAdd(x0, v, c00); c10 = Vector512.FusedMultiplyAdd(x1, v, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, v, c20); c30 = Vector512.FusedMultiplyAdd(x3, v, c30);
            v = Avx512F.MaskLoad(w1 + i, m, z);
            c01 = Vector512.FusedMultiplyAdd(x0, v, c01); c11 = Vector512.FusedMultiplyAdd(x1, v, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, v, c21); c31 = Vector512.FusedMultiplyAdd(x3, v, c31);
            v = Avx512F.MaskLoad(w2 + i, m, z);
            c02 = Vector512.FusedMultiplyAdd(x0, v, c02); c12 = Vector512.FusedMultiplyAdd(x1, v, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, v, c22); c32 = Vector512.FusedMultiplyAdd(x3, v, c32);
            v = Avx512F.MaskLoad(w3 + i, m, z);
            c03 = Vector512.FusedMultiplyAdd(x0, v, c03); c13 = Vector512.FusedMultiplyAdd(x1, v, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, v, c23); c33 = Vector512.FusedMultiplyAdd(x3, v, c33);
        }

        // Block i (128 bits) of r holds row i's four sums, column j in element j.
        Vector512<float> q0 = RowSums(c00, c01, c02, c03), q1 = RowSums(c10, c11, c12, c13);
        Vector512<float> q2 = RowSums(c20, c21, c22, c23), q3 = RowSums(c30, c31, c32, c33);
        Vector512<float> s01 = Avx512F.Shuffle4x128(q0, q1, 0x44) + Avx512F.Shuffle4x128(q0, q1, 0xEE);
        Vector512<float> s23 = Avx512F.Shuffle4x128(q2, q3, 0x44) + Avx512F.Shuffle4x128(q2, q3, 0xEE);
        Vector512<float> r = Avx512F.Shuffle4x128(s01, s23, 0x88) + Avx512F.Shuffle4x128(s01, s23, 0xDD);
        if (rows == 4 && cols == 4)
        {
            r.GetLower().GetLower().Store(c);
            r.GetLower().GetUpper().Store(c + ldc);
            r.GetUpper().GetLower().Store(c + 2 * ldc);
            r.GetUpper().GetUpper().Store(c + 3 * ldc);
            return;
        }
        for (int row = 0; row < rows; row++)
            for (int col = 0; col < cols; col++)
                c[row * ldc + col] = r.GetElement(4 * row + col);
    }

    /// <summary>Four accumulators of one row folded within each 128-bit block: element j of block L is the partial
    /// sum of column j's lanes 4L..4L+3 (pairs (0, 2) and (1, 3) first, then their sum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> RowSums(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        Vector512<float> ab = Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b); // a0+a2, b0+b2, a1+a3, b1+b3
        Vector512<float> cd = Avx512F.UnpackLow(c, d) + Avx512F.UnpackHigh(c, d);
        return Avx512F.Shuffle(ab, cd, 0x44) + Avx512F.Shuffle(ab, cd, 0xEE);
    }
}

// Products with a short, row-contiguous B (K ≤ KC: the weight gradient dzᵀ·x at a training batch, dz·w for a narrow
// layer): the packed path copies B into panels that each row tile then reads once per k; reading B's rows in place
// costs the same in the micro-kernel (two loads per k either way, the rows of a 32-column strip stay in L1 across the
// row tiles) and saves the copy.
internal static unsafe partial class Gemm
{
    /// <summary>B row-contiguous, no deeper than one KC block, and its 32-column strip stays in L1 across the row
    /// tiles: the micro-kernel reads B where it lies (AVX-512 only). Same arithmetic as the packed path, same bits.</summary>
    private static bool IsDirect(GemmArgs* g) => g->CsB == 1 && g->K <= KC && g->M > DotMaxRows && StripFitsL1(g->RsB, g->K);

    /// <summary>Whether k rows of 128 bytes, <paramref name="rowStride"/> floats apart, spread over enough of a 64-set
    /// L1 that no set holds more than 8 of their lines. A stride that is a multiple of 4 KiB (1,024 floats, 4,096)
    /// puts every row in the same two sets and would thrash; 784 floats spreads them over all 64.</summary>
    internal static bool StripFitsL1(nint rowStride, int k)
    {
        long bytes = rowStride * sizeof(float);
        int pow2 = 4096; // the largest power of two (at most 4 KiB) dividing the stride
        while (bytes % pow2 != 0) pow2 >>= 1;
        int sets = Math.Min(64, 2 * (4096 / pow2));
        return 2L * k <= 8L * sets;
    }

    /// <summary>The part [m0, m1) × [n0, n1): 32-column strips of B read in place, each against every 8-row tile.</summary>
    private static void DirectBody<TAct>(GemmArgs* g, int m0, int m1, int n0, int n1) where TAct : struct, IActivation
    {
        for (int n = n0; n < n1; n += 32)
        {
            int cols = Math.Min(32, n1 - n);
            float* bias = g->Bias != null ? g->Bias + n : null;
            for (int m = m0; m < m1; m += 8)
            {
                nint cOff = m * g->LdC + n;
                DirectTile512<TAct>(g->A + m * g->RsA, g->RsA, g->CsA, g->B + n, g->RsB, g->K, g->C + cOff, g->LdC,
                    g->Pre != null ? g->Pre + cOff : null, bias, Math.Min(8, m1 - m), cols);
            }
        }
    }

    /// <summary>The 8 × 32 tile of <see cref="Kernel512"/> over the whole of K with B(k, j) = b[k·ldb + j], then the
    /// epilogue (+ bias, keep z, activation, store). Spare rows read row 0 and are not stored; spare columns are masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectTile512<TAct>(float* a, nint rsA, nint csA, float* b, nint ldb, int k, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols) where TAct : struct, IActivation
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + rsA : a0;
        float* a2 = rows > 2 ? a0 + 2 * rsA : a0;
        float* a3 = rows > 3 ? a0 + 3 * rsA : a0;
        float* a4 = rows > 4 ? a0 + 4 * rsA : a0;
        float* a5 = rows > 5 ? a0 + 5 * rsA : a0;
        float* a6 = rows > 6 ? a0 + 6 * rsA : a0;
        float* a7 = rows > 7 ? a0 + 7 * rsA : a0;
        Vector512<float> m0 = Kernel512.Mask(cols), m1 = Kernel512.Mask(cols - 16), zero = Vector512<float>.Zero;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nint off = 0;
        if (cols == 32)
        {
            for (int kk = 0; kk < k; kk++, b += ldb, off += csA)
            {
                Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
                Vector512<float> x0 = Vector512.Create(a0[off]);
                c00 = Vector512.FusedMultiplyAdd(x0, b0, c00); c01 = Vector512.FusedMultiplyAdd(x0, b1, c01);
                Vector512<float> x1 = Vector512.Create(a1[off]);
                c10 = Vector512.FusedMultiplyAdd(x1, b0, c10); c11 = Vector512.FusedMultiplyAdd(x1, b1, c11);
                Vector512<float> x2 = Vector512.Create(a2[off]);
                c20 = Vector512.FusedMultiplyAdd(x2, b0, c20); c21 = Vector512.FusedMultiplyAdd(x2, b1, c21);
                Vector512<float> x3 = Vector512.Create(a3[off]);
                c30 = Vector512.FusedMultiplyAdd(x3, b0, c30); c31 = Vector512.FusedMultiplyAdd(x3, b1, c31);
                Vector512<float> x4 = Vector512.Create(a4[off]);
                c40 = Vector512.FusedMultiplyAdd(x4, b0, c40); c41 = Vector512.FusedMultiplyAdd(x4, b1, c41);
                Vector512<float> x5 = Vector512.Create(a5[off]);
                c50 = Vector512.FusedMultiplyAdd(x5, b0, c50); c51 = Vector512.FusedMultiplyAdd(x5, b1, c51);
                Vector512<float> x6 = Vector512.Create(a6[off]);
                c60 = Vector512.FusedMultiplyAdd(x6, b0, c60); c61 = Vector512.FusedMultiplyAdd(x6, b1, c61);
                Vector512<float> x7 = Vector512.Create(a7[off]);
                c70 = Vector512.FusedMultiplyAdd(x7, b0, c70); c71 = Vector512.FusedMultiplyAdd(x7, b1, c71);
            }
        }
        else
        {
            for (int kk = 0; kk < k; kk++, b += ldb, off += csA)
            {
                Vector512<float> b0 = Avx512F.MaskLoad(b, m0, zero), b1 = Avx512F.MaskLoad(b + 16, m1, zero);
                Vector512<float> x0 = Vector512.Create(a0[off]);
                c00 = Vector512.FusedMultiplyAdd(x0, b0, c00); c01 = Vector512.FusedMultiplyAdd(x0, b1, c01);
                Vector512<float> x1 = Vector512.Create(a1[off]);
                c10 = Vector512.FusedMultiplyAdd(x1, b0, c10); c11 = Vector512.FusedMultiplyAdd(x1, b1, c11);
                Vector512<float> x2 = Vector512.Create(a2[off]);
                c20 = Vector512.FusedMultiplyAdd(x2, b0, c20); c21 = Vector512.FusedMultiplyAdd(x2, b1, c21);
                Vector512<float> x3 = Vector512.Create(a3[off]);
                c30 = Vector512.FusedMultiplyAdd(x3, b0, c30); c31 = Vector512.FusedMultiplyAdd(x3, b1, c31);
                Vector512<float> x4 = Vector512.Create(a4[off]);
                c40 = Vector512.FusedMultiplyAdd(x4, b0, c40); c41 = Vector512.FusedMultiplyAdd(x4, b1, c41);
                Vector512<float> x5 = Vector512.Create(a5[off]);
                c50 = Vector512.FusedMultiplyAdd(x5, b0, c50); c51 = Vector512.FusedMultiplyAdd(x5, b1, c51);
                Vector512<float> x6 = Vector512.Create(a6[off]);
                c60 = Vector512.FusedMultiplyAdd(x6, b0, c60); c61 = Vector512.FusedMultiplyAdd(x6, b1, c61);
                Vector512<float> x7 = Vector512.Create(a7[off]);
                c70 = Vector512.FusedMultiplyAdd(x7, b0, c70); c71 = Vector512.FusedMultiplyAdd(x7, b1, c71);
            }
        }
        Vector512<float> bias0 = default, bias1 = default;
        if (bias != null)
        {
            bias0 = Avx512F.MaskLoad(bias, m0, zero);
            bias1 = Avx512F.MaskLoad(bias + 16, m1, zero);
        }
        Kernel512.StoreRow<TAct>(c, pre, c00, c01, bias0, bias1, first: true, last: true, cols);
        if (rows > 1) Kernel512.StoreRow<TAct>(c + ldc, pre == null ? null : pre + ldc, c10, c11, bias0, bias1, first: true, last: true, cols);
        if (rows > 2) Kernel512.StoreRow<TAct>(c + 2 * ldc, pre == null ? null : pre + 2 * ldc, c20, c21, bias0, bias1, first: true, last: true, cols);
        if (rows > 3) Kernel512.StoreRow<TAct>(c + 3 * ldc, pre == null ? null : pre + 3 * ldc, c30, c31, bias0, bias1, first: true, last: true, cols);
        if (rows > 4) Kernel512.StoreRow<TAct>(c + 4 * ldc, pre == null ? null : pre + 4 * ldc, c40, c41, bias0, bias1, first: true, last: true, cols);
        if (rows > 5) Kernel512.StoreRow<TAct>(c + 5 * ldc, pre == null ? null : pre + 5 * ldc, c50, c51, bias0, bias1, first: true, last: true, cols);
        if (rows > 6) Kernel512.StoreRow<TAct>(c + 6 * ldc, pre == null ? null : pre + 6 * ldc, c60, c61, bias0, bias1, first: true, last: true, cols);
        if (rows > 7) Kernel512.StoreRow<TAct>(c + 7 * ldc, pre == null ? null : pre + 7 * ldc, c70, c71, bias0, bias1, first: true, last: true, cols);
    }
}
