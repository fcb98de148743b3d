using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.CompilerServices;

// The inference forward x·wᵀ over a B packed ahead of time (PackedWeights): the panels the packed path would make of wᵀ
// on every call, made once per weight change. Same tiles, same K blocks, same epilogue as PackedBody and SharedRun, so
// the bits are those of the unpacked call.
internal static unsafe partial class Gemm
{
    /// <summary>Whether <see cref="Run{TAct}"/> would pack B for this product on <paramref name="isa"/> (the packed
    /// path or the shared row split): the products a prepacked B can serve. The dot and dot-tile paths read w in place.</summary>
    internal static bool PacksB(ref GemmArgs g, KernelIsa isa)
    {
        if (g.M <= 0 || g.N <= 0 || g.K <= 0 || isa == KernelIsa.Scalar) return false;
        GemmArgs* pg = (GemmArgs*)Unsafe.AsPointer(ref g);
        if (IsDot(pg)) return false;
        if (isa == KernelIsa.Vector512 && (IsDotTile(pg) || IsDirect(pg))) return false;
        return true;
    }

    /// <summary>Floats of a prepacked B of K × N (whole panels of the widest NR, so any instruction set fits).</summary>
    internal static long PackedFloats(int k, int n) => (long)k * ((n + Kernel512.NR - 1) / Kernel512.NR) * Kernel512.NR;

    /// <summary>Packs all of B (as <paramref name="g"/> addresses it) into <paramref name="dst"/>: K block by K block,
    /// each block's NR-wide panels in order, kc × NR floats each (the layout <see cref="SharedRun{TK, TAct}"/> shares).</summary>
    internal static void PackAllB(GemmArgs* g, KernelIsa isa, float* dst)
    {
        if (isa == KernelIsa.Vector512) PackAllB<Kernel512>(g, dst);
        else PackAllB<Kernel256>(g, dst);
    }

    private static void PackAllB<TK>(GemmArgs* g, float* dst) where TK : struct, IKernel
    {
        int nr = TK.NR, k = g->K, kcStep = KcStep(k), panels = (g->N + nr - 1) / nr;
        for (int pc = 0; pc < k; pc += kcStep)
        {
            int kc = Math.Min(kcStep, k - pc);
            float* block = dst + (nint)pc * panels * nr;
            for (int p = 0; p < panels; p++)
                TK.PackB(g, pc, kc, p * nr, Math.Min(nr, g->N - p * nr), block + (nint)p * kc * nr);
        }
    }

    /// <summary>
    /// The product over a B that <see cref="PackAllB"/> packed for <paramref name="isa"/>: on two cores, 256 rows or more
    /// split into <see cref="MC"/>-row blocks, fewer rows into two column halves (whole panels); otherwise one thread.
    /// No split cuts a K sum: the same bits on one core or two, and the same as <see cref="Run{TAct}"/>.
    /// </summary>
    internal static void RunPrepacked<TAct>(ref GemmArgs g, KernelIsa isa, float* packed) where TAct : struct, IActivation
    {
        g.Chunks = 1;
        g.SharedA = null;
        g.AFlags = null;
        GemmArgs* pg = (GemmArgs*)Unsafe.AsPointer(ref g); // g lives on the caller's stack
        int nr = isa == KernelIsa.Vector512 ? Kernel512.NR : Kernel256.NR, panels = (g.N + nr - 1) / nr;
        var job = new PrepackedJob { G = pg, BPack = packed, Panels = panels };
        delegate*<void*, int, void> part = isa == KernelIsa.Vector512 ? &PrepackedPart<Kernel512, TAct> : &PrepackedPart<Kernel256, TAct>;
        long work = (long)g.M * g.N * g.K;
        if (work >= ParallelMinWork && (g.M >= SharedMinRows || panels >= 2) && Worker.TryEnter())
        {
            try
            {
                if (g.M >= SharedMinRows) { job.SplitRows = true; job.Chunks = (g.M + MC - 1) / MC; }
                else if (SmallRowSplit && g.M >= 2 * Kernel512.MR) { job.HalfRows = true; job.Chunks = 2; }
                else job.Chunks = PanelChunks ? Math.Min(panels, MaxChunks) : 2;
                Worker.Run(part, &job, job.Chunks);
            }
            finally { Worker.Exit(); }
            return;
        }
        job.Chunks = 1;
        part(&job, 0);
    }

    private struct PrepackedJob
    {
        public GemmArgs* G;
        public float* BPack;
        public int Panels, Chunks;
        public bool SplitRows, HalfRows;
    }

    /// <summary>Whether fewer rows than the row split takes are halved between the cores by rows (whole 8-row tiles)
    /// instead of by panels of B (benchmarks switch it to compare).</summary>
    internal static bool SmallRowSplit;

    /// <summary>Whether the column split makes one chunk per panel (up to <see cref="MaxChunks"/>), claimed by whichever
    /// core is free, instead of one half per core.</summary>
    internal static bool PanelChunks;

    /// <summary>Chunk <paramref name="chunk"/>: <see cref="MC"/> rows (row split) or a share of the panels (column split),
    /// K block by K block: its rows of A (packed, or read in place), then each of its panels against them.</summary>
    private static void PrepackedPart<TK, TAct>(void* argument, int chunk) where TK : struct, IKernel where TAct : struct, IActivation
    {
        PrepackedJob* j = (PrepackedJob*)argument;
        GemmArgs* g = j->G;
        int mr = TK.MR, nr = TK.NR, k = g->K, kcStep = KcStep(k), panels = j->Panels;
        int m0 = 0, m1 = g->M, p0 = 0, p1 = panels;
        if (j->SplitRows) { m0 = chunk * MC; m1 = Math.Min(g->M, m0 + MC); }
        else if (j->HalfRows)
        {
            int tiles = (g->M + 7) / 8, half = (tiles + 1) / 2 * 8; // whole 8-row tiles (no element's sum depends on its strip)
            if (chunk == 0) m1 = Math.Min(g->M, half); else m0 = Math.Min(g->M, half);
        }
        else if (j->Chunks > 1) { p0 = (int)((long)panels * chunk / j->Chunks); p1 = (int)((long)panels * (chunk + 1) / j->Chunks); }
        if (m0 >= m1 || p0 >= p1) return;
        // One row block at most, rows of A contiguous (a batch of inference up to 128): read A where it lies instead of
        // packing it (each core's half of the columns would pack all of it). Batch 64, 784 -> 128 on one core: 60-63 ->
        // 57-60 µs. With more rows a packed block of A is reused by more panels and wins: batch 1024 on one core,
        // 784-1024-1024-10, 22.3-24.4 ms in place against 21.7-21.9 packed (FWD_REPORT, loaded machine).
        bool inPlace = ReadsAInPlace(g);
        float* apack = PackBuffer.Get() + PackBuffer.BFloats;
        int mcStep = MC / mr * mr;
        for (int pc = 0; pc < k; pc += kcStep)
        {
            int kc = Math.Min(kcStep, k - pc);
            bool first = pc == 0, last = pc + kc == k;
            float* bBlock = j->BPack + (nint)pc * panels * nr;
            for (int mc0 = m0; mc0 < m1; mc0 += mcStep)
            {
                int mc = Math.Min(mcStep, m1 - mc0);
                if (inPlace)
                {
                    for (int p = p0; p < p1; p++)
                    {
                        int n = p * nr, cols = Math.Min(nr, g->N - n);
                        InPlaceStrips<TK, TAct>(g, bBlock + (nint)p * kc * nr, pc, kc, mc0, mc, n, cols, first, last);
                    }
                    continue;
                }
                int strips = (mc + mr - 1) / mr;
                for (int i = 0; i < strips; i++)
                    TK.PackA(g, mc0 + i * mr, Math.Min(mr, mc - i * mr), pc, kc, apack + (nint)i * kc * mr);
                for (int p = p0; p < p1; p++)
                {
                    int n = p * nr, cols = Math.Min(nr, g->N - n);
                    Strips<TK, TAct>(g, apack, bBlock + (nint)p * kc * nr, kc, mc0, mc, n, cols, first, last);
                }
            }
        }
    }

    /// <summary>Whether <see cref="Dense"/>'s prediction forward uses its prepacked weights (benchmarks switch it off to
    /// compare with the per-call packing).</summary>
    internal static bool UsePrepacked = true;

    /// <summary>Whether products of up to <see cref="MC"/> rows with rows of A contiguous read A in place instead of packing
    /// it (tests and benchmarks switch it to compare).</summary>
    internal static bool InPlaceA = true;

    /// <summary>One row block at most with rows of A contiguous and A not shared between chunks: the tiles read A where it
    /// lies (<see cref="InPlaceStrips{TK, TAct}"/>), the same FMAs in the same order as from packed panels.</summary>
    private static bool ReadsAInPlace(GemmArgs* g) => InPlaceA && g->CsA == 1 && g->M <= MC && g->AFlags == null;

    /// <summary>The MR-row strips of A from row <paramref name="mc0"/>, read in place at depth pc.., against one packed B
    /// panel over one K block.</summary>
    private static void InPlaceStrips<TK, TAct>(GemmArgs* g, float* bp, int pc, int kc, int mc0, int mc, int n, int cols,
        bool first, bool last) where TK : struct, IKernel where TAct : struct, IActivation
    {
        float* bias = last && g->Bias != null ? g->Bias + n : null;
        int mr = TK.MR;
        for (int m = mc0; m < mc0 + mc; m += mr)
        {
            nint cOff = m * g->LdC + n;
            float* pre = last && g->Pre != null ? g->Pre + cOff : null;
            if (typeof(TK) == typeof(Kernel512))
                InPlaceTile512<TAct>(g->A + m * g->RsA + pc, g->RsA, bp, kc, g->C + cOff, g->LdC, pre, bias, Math.Min(mr, mc0 + mc - m), cols, first, last);
            else
                Kernel256.InPlaceTile<TAct>(g->A + m * g->RsA + pc, g->RsA, bp, kc, g->C + cOff, g->LdC, pre, bias, Math.Min(mr, mc0 + mc - m), cols, first, last);
        }
    }

    /// <summary><see cref="Kernel512.Tile{TAct}"/> with A's eight rows read where they lie (row r at a + r·rsA,
    /// contiguous in k) instead of from a packed panel: the same FMAs in the same order, so the same bits. Spare rows
    /// read row 0 and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InPlaceTile512<TAct>(float* a, nint rsA, float* bp, int kc, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols, bool first, bool last) where TAct : struct, IActivation
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + rsA : a0;
        float* a2 = rows > 2 ? a0 + 2 * rsA : a0;
        float* a3 = rows > 3 ? a0 + 3 * rsA : a0;
        float* a4 = rows > 4 ? a0 + 4 * rsA : a0;
        float* a5 = rows > 5 ? a0 + 5 * rsA : a0;
        float* a6 = rows > 6 ? a0 + 6 * rsA : a0;
        float* a7 = rows > 7 ? a0 + 7 * rsA : a0;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(bp), b1 = Vector512.Load(bp + 16), x;
            x = Vector512.Create(a0[k]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[k]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[k]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[k]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[k]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[k]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[k]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[k]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            bp += 32;
        }
        Vector512<float> bias0 = default, bias1 = default;
        if (bias != null)
        {
            bias0 = System.Runtime.Intrinsics.X86.Avx512F.MaskLoad(bias, Kernel512.Mask(cols), Vector512<float>.Zero);
            bias1 = System.Runtime.Intrinsics.X86.Avx512F.MaskLoad(bias + 16, Kernel512.Mask(cols - 16), Vector512<float>.Zero);
        }
        Kernel512.StoreRow<TAct>(c, pre, c00, c01, bias0, bias1, first, last, cols);
        if (rows > 1) Kernel512.StoreRow<TAct>(c + ldc, pre == null ? null : pre + ldc, c10, c11, bias0, bias1, first, last, cols);
        if (rows > 2) Kernel512.StoreRow<TAct>(c + 2 * ldc, pre == null ? null : pre + 2 * ldc, c20, c21, bias0, bias1, first, last, cols);
        if (rows > 3) Kernel512.StoreRow<TAct>(c + 3 * ldc, pre == null ? null : pre + 3 * ldc, c30, c31, bias0, bias1, first, last, cols);
        if (rows > 4) Kernel512.StoreRow<TAct>(c + 4 * ldc, pre == null ? null : pre + 4 * ldc, c40, c41, bias0, bias1, first, last, cols);
        if (rows > 5) Kernel512.StoreRow<TAct>(c + 5 * ldc, pre == null ? null : pre + 5 * ldc, c50, c51, bias0, bias1, first, last, cols);
        if (rows > 6) Kernel512.StoreRow<TAct>(c + 6 * ldc, pre == null ? null : pre + 6 * ldc, c60, c61, bias0, bias1, first, last, cols);
        if (rows > 7) Kernel512.StoreRow<TAct>(c + 7 * ldc, pre == null ? null : pre + 7 * ldc, c70, c71, bias0, bias1, first, last, cols);
    }
}
