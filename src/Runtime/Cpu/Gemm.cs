using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>The widest vector instructions the kernels use.</summary>
internal enum KernelIsa { Scalar = 0, Vector256 = 1, Vector512 = 2 }

/// <summary>
/// One product C[M, N] = f(A[M, K] · B[K, N] + bias[N]) with every operand addressed through strides, so the three
/// products of a dense layer are the same GEMM: A(m, k) = A[m·RsA + k·CsA], B(k, n) = B[k·RsB + n·CsB],
/// C(m, n) = C[m·LdC + n]. With <see cref="Bias"/> null the bias is zero; with <see cref="Pre"/> not null it
/// receives z = A·B + bias (same layout as C) before f is applied.
/// </summary>
internal unsafe struct GemmArgs
{
    public float* A; public nint RsA, CsA;
    public float* B; public nint RsB, CsB;
    public float* C; public nint LdC;
    public float* Bias;
    public float* Pre;
    public int M, N, K;
    // Set by the driver: the product is cut into Chunks pieces along N (SplitN) or M, in whole units of Unit
    // columns or rows; chunk c covers units [U·c/Chunks, U·(c+1)/Chunks).
    internal int Chunks, Unit;
    internal bool SplitN;
    // Set by the driver when a column split shares one packed A: its MR-row panels, K block by K block, packed by the
    // first chunk that needs each (AFlags: 0 unpacked, 1 being packed, 2 ready, one per panel and K block).
    internal float* SharedA;
    internal int* AFlags;
}

/// <summary>
/// A BLIS-style single-precision GEMM: B is packed into NR-wide, KC-deep panels and A into MR-row, KC-deep panels
/// (both contiguous and zero-padded past the edges, so row- and column-major operands cost the same), and a
/// register-blocked micro-kernel accumulates an MR×NR tile over one KC block with FMAs, broadcasting A from its panel.
/// The last KC block runs the epilogue: + bias, keep z, apply the activation, store. On two cores, products of
/// <see cref="SharedMinRows"/> rows or more are split into <see cref="MC"/>-row blocks over one shared packed B;
/// smaller ones into column chunks over one shared packed A (<see cref="Worker"/>). The split never cuts the K sum,
/// so every element is computed by the same instruction sequence whatever the split: results are bit-identical run
/// to run and across core counts.
/// </summary>
/// <remarks>Kernels may be called from any thread; concurrent calls are safe (a caller that finds the worker busy
/// runs single-threaded on its own packing buffer).</remarks>
internal static unsafe partial class Gemm
{
    /// <summary>Depth of one packed block of B and A: 256 floats × NR keeps a B panel in L1 (32 KiB at NR = 32).</summary>
    public const int KC = 256;
    /// <summary>Columns of B packed at a time (a multiple of every NR): KC × NC floats = 512 KiB of L2.</summary>
    public const int NC = 512;
    /// <summary>Rows of A packed at a time (into MR-row panels): MC × KC floats = 128 KiB, kept in L2 beside B's block
    /// while every NR panel of B runs down them; also the unit in which the rows are shared between the cores.</summary>
    public const int MC = 128;
    /// <summary>Rows from which a two-core product shares one packed B and splits the rows (<see cref="SharedRun"/>);
    /// below, the columns are split and each chunk packs its own B panels.</summary>
    public const int SharedMinRows = 2 * MC;
    /// <summary>Rows of A at or below which a product with K-contiguous B (x·wᵀ) uses dot products instead of packing.</summary>
    public const int DotMaxRows = 4;
    /// <summary>Multiply-adds below which the second core is not worth waking.</summary>
    public const long ParallelMinWork = 1 << 17;
    /// <summary>The same for the dot path (a few rows against wᵀ, e.g. one prediction): it is bound by reading w, and
    /// each core reads its share from its own L2, so sharing pays from a smaller size (batch-1 784 → 128: 5.4 → 3.8 µs).</summary>
    public const long DotParallelMinWork = 1 << 15;

    /// <summary>The instruction set in use: the best this process can run, lowered by <c>COMPILED_ISA</c>; tests lower
    /// it further to exercise the fallbacks.</summary>
    internal static KernelIsa Isa = Limit(DetectIsa(), Environment.GetEnvironmentVariable("COMPILED_ISA"));

    /// <summary>
    /// The widest kernels this process can run. Under the JIT the checks see the machine's CPU. Under NativeAOT they
    /// are fixed when the binary is compiled: ILC never checks AVX2 or AVX-512 at run time, so they answer for the
    /// instruction set the publish targets (<c>IlcInstructionSet</c>; the package sets x86-64-v3, see
    /// build/Compiled.targets), and the binary refuses to start on a CPU below it.
    /// </summary>
    internal static KernelIsa DetectIsa() =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? KernelIsa.Vector512
        : Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported ? KernelIsa.Vector256
        : KernelIsa.Scalar;

    /// <summary><paramref name="best"/>, lowered to <paramref name="request"/> (<c>avx512</c>, <c>avx2</c> or
    /// <c>scalar</c>, any case) when that is lower; a request above <paramref name="best"/> or unknown changes nothing.</summary>
    internal static KernelIsa Limit(KernelIsa best, string? request)
    {
        KernelIsa? wanted = request?.Trim().ToLowerInvariant() switch
        {
            "avx512" or "avx-512" or "vector512" => KernelIsa.Vector512,
            "avx2" or "vector256" => KernelIsa.Vector256,
            "scalar" or "none" => KernelIsa.Scalar,
            _ => null,
        };
        return wanted is { } w && w < best ? w : best;
    }

    /// <summary>The name of an instruction set as <see cref="Hardware.KernelIsa"/> prints it.</summary>
    internal static string Name(KernelIsa isa) => isa switch
    {
        KernelIsa.Vector512 => "AVX-512",
        KernelIsa.Vector256 => "AVX2",
        _ => "scalar",
    };

    public static void Run<TAct>(ref GemmArgs g) where TAct : struct, IActivation
    {
        if (g.M <= 0 || g.N <= 0) return;
        g.Chunks = 1;
        g.SharedA = null;
        g.AFlags = null;
        KernelIsa isa = Isa;
        GemmArgs* pg = (GemmArgs*)Unsafe.AsPointer(ref g); // g lives on the caller's stack
        if (g.K <= 0 || isa == KernelIsa.Scalar)
        {
            ScalarGemm<TAct>(pg);
            return;
        }

        delegate*<void*, int, void> part = isa == KernelIsa.Vector512 ? &Part<Kernel512, TAct> : &Part<Kernel256, TAct>;
        long work = (long)g.M * g.N * g.K;
        // The shared row split runs the packed body: a product the dot-tile path takes on one core (its own summation
        // order) must split the same way on two, or the cores would disagree in the last bits.
        if (g.M >= SharedMinRows && work >= ParallelMinWork && !IsDot(pg) && !(isa == KernelIsa.Vector512 && IsDotTile(pg))
            && Worker.TryEnter())
        {
            try
            {
                if (isa == KernelIsa.Vector512) SharedRun<Kernel512, TAct>(pg);
                else SharedRun<Kernel256, TAct>(pg);
            }
            finally { Worker.Exit(); }
            return;
        }
        if (work >= (IsDot(pg) ? DotParallelMinWork : ParallelMinWork) && ChooseChunks(pg, isa == KernelIsa.Vector512 ? Kernel512.MR : Kernel256.MR,
                isa == KernelIsa.Vector512 ? Kernel512.NR : Kernel256.NR) && Worker.TryEnter())
        {
            try
            {
                if (g.SplitN && !IsDot(pg) && !(isa == KernelIsa.Vector512 && (IsDotTile(pg) || IsDirect(pg))))
                {
                    // One row block (a training or inference batch up to MC rows): one chunk per core, each packing all
                    // of A itself. Sharing one packed A between the cores made a 64-row x·wᵀ (784 -> 128) no faster on
                    // two cores than on one (each core's first chunk took twice its second); private packing runs it in
                    // 42-48 µs against 70-77 (--step-report, quiet machine).
                    if (g.M <= MC) g.Chunks = Math.Min(g.Chunks, 2);
                    else ShareA(pg, isa == KernelIsa.Vector512 ? Kernel512.MR : Kernel256.MR);
                }
                Worker.Run(part, pg, g.Chunks);
            }
            finally { Worker.Exit(); }
            return;
        }
        g.Chunks = 1;
        part(pg, 0);
    }

    /// <summary>A column split packs A once, into the shared buffer (the caller holds the worker): each chunk would
    /// otherwise repack all of A for its few B panels (batch 64 784 → 128: four chunks of one panel each).</summary>
    private static void ShareA(GemmArgs* g, int mr)
    {
        int strips = (g->M + mr - 1) / mr, kcStep = KcStep(g->K), kBlocks = (g->K + kcStep - 1) / kcStep;
        g->SharedA = SharedPack.Get((long)g->K * strips * mr, strips * kBlocks, out int* flags);
        g->AFlags = flags;
        new Span<int>(flags, strips * kBlocks).Clear();
    }

    /// <summary>Most chunks a product is cut into: enough to balance two cores when one is late, few enough that
    /// each chunk's share of A and its own packing stay cheap.</summary>
    public const int MaxChunks = 8;

    /// <summary>Cuts the columns on NR boundaries (4-row groups of w on the dot path) when there are at least two
    /// panels, else the rows on MR boundaries (4-row blocks on the narrow dot-tile path, which never cuts columns).</summary>
    private static bool ChooseChunks(GemmArgs* g, int mr, int nr)
    {
        if (nr == Kernel512.NR && IsDotTile(g)) { mr = 4; nr = int.MaxValue; } // narrow: cut the rows, 4 at a time
        else if (nr == Kernel512.NR && SplitWeightGradientRows && g->M >= 2 * mr && IsWeightGradient(g) && IsDirect(g))
            nr = int.MaxValue; // a weight gradient: cut the rows (see IsWeightGradient)
        bool dot = IsDot(g);
        int unitN = dot ? 4 : nr;
        int panels = unitN == int.MaxValue ? 1 : (g->N + unitN - 1) / unitN;
        if (panels >= 2)
        {
            g->SplitN = true;
            g->Unit = unitN;
            g->Chunks = Math.Min(panels, MaxChunks);
            return true;
        }
        int blocks = (g->M + mr - 1) / mr;
        if (!dot && blocks >= 2)
        {
            g->SplitN = false;
            g->Unit = mr;
            g->Chunks = Math.Min(blocks, MaxChunks);
            return true;
        }
        return false;
    }

    /// <summary>False cuts a direct weight gradient by columns as before (the step report's before/after).</summary>
    internal static bool SplitWeightGradientRows = true;

    /// <summary>
    /// A = dzᵀ read down its columns: the weight gradient dW[units, inputs] = dzᵀ·x. On the direct path (no B to pack)
    /// it is cut by rows, in 8-row tiles, so the caller writes the first units' rows of dW and the worker the last ones:
    /// the same rows of w that the forward's column split gave each core (its first and last output units) and the
    /// same halves of the arena the optimizer gives them (<see cref="Worker"/> claims from both ends). Cut by columns,
    /// every row of dW was half written by each core, and the optimizer then read half of it from the other core's
    /// cache (batch-64 784 → 128: 392 KiB per step).
    /// </summary>
    private static bool IsWeightGradient(GemmArgs* g) => g->RsA == 1 && g->CsA != 1;

    private static bool IsDot(GemmArgs* g) => g->RsB == 1 && g->CsA == 1 && g->M <= DotMaxRows;

    private static void Part<TK, TAct>(void* argument, int chunk) where TK : struct, IKernel where TAct : struct, IActivation
    {
        GemmArgs* g = (GemmArgs*)argument;
        int m0 = 0, m1 = g->M, n0 = 0, n1 = g->N;
        if (g->Chunks > 1)
        {
            int size = g->SplitN ? g->N : g->M;
            int units = (size + g->Unit - 1) / g->Unit;
            int lo = (int)((long)units * chunk / g->Chunks) * g->Unit;
            int hi = Math.Min(size, (int)((long)units * (chunk + 1) / g->Chunks) * g->Unit);
            if (g->SplitN) { n0 = lo; n1 = hi; } else { m0 = lo; m1 = hi; }
        }
        if (m0 >= m1 || n0 >= n1) return;
        if (IsDot(g)) DotBody<TK, TAct>(g, m0, m1, n0, n1);
        else if (typeof(TK) == typeof(Kernel512) && IsDotTile(g)) DotTileBody<TAct>(g, m0, m1, n0, n1);
        else if (typeof(TK) == typeof(Kernel512) && IsDirect(g)) DirectBody<TAct>(g, m0, m1, n0, n1);
        else PackedBody<TK, TAct>(g, m0, m1, n0, n1);
    }

    /// <summary>Depth of the K blocks: K cut into equal blocks of at most <see cref="KC"/> (784 → 4 × 196, not
    /// 3 × 256 + 16). It depends on K alone, so every split of the product sums each element in the same blocks.</summary>
    private static int KcStep(int k)
    {
        int blocks = (k + KC - 1) / KC;
        return (k + blocks - 1) / blocks;
    }

    /// <summary>The blocked loops over the part [m0, m1) × [n0, n1) on one thread: NC columns, then KC depth (pack
    /// B's kc × nc block), then <see cref="MC"/> rows (pack A's mc × kc block), then <see cref="Block"/>.</summary>
    private static void PackedBody<TK, TAct>(GemmArgs* g, int m0, int m1, int n0, int n1)
        where TK : struct, IKernel where TAct : struct, IActivation
    {
        int nr = TK.NR, k = g->K, kcStep = KcStep(k);
        float* pack = PackBuffer.Get();
        float* apack = pack + PackBuffer.BFloats;
        int mr = TK.MR, mcStep = MC / mr * mr, strips = (g->M + mr - 1) / mr;
        // One row block, rows of A contiguous (a training batch up to 128 through x·wᵀ): read A where it lies, as the
        // prepacked path does (same FMAs, same bits), instead of packing all of it on each core (AVX-512 and AVX2).
        bool inPlace = ReadsAInPlace(g);
        for (int nc0 = n0; nc0 < n1; nc0 += NC)
        {
            int nc = Math.Min(NC, n1 - nc0);
            int panels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int kc = Math.Min(kcStep, k - pc);
                bool first = pc == 0, last = pc + kc == k;
                for (int p = 0; p < panels; p++)
                {
                    int n = nc0 + p * nr;
                    TK.PackB(g, pc, kc, n, Math.Min(nr, nc0 + nc - n), pack + (nint)p * kc * nr);
                }
                for (int mc0 = m0; mc0 < m1; mc0 += mcStep)
                {
                    int mc = Math.Min(mcStep, m1 - mc0);
                    if (inPlace)
                        for (int p = 0; p < panels; p++)
                        {
                            int n = nc0 + p * nr;
                            InPlaceStrips<TK, TAct>(g, pack + (nint)p * kc * nr, pc, kc, mc0, mc, n, Math.Min(nr, nc0 + nc - n), first, last);
                        }
                    else if (g->AFlags == null) Block<TK, TAct>(g, pack, apack, null, mc0, mc, nc0, nc, pc, kc);
                    else // the shared A: this K block's panels from row mc0 on (mc0 is a whole number of panels)
                        Block<TK, TAct>(g, pack, g->SharedA + (nint)pc * strips * mr + (nint)(mc0 / mr) * kc * mr,
                            g->AFlags + pc / kcStep * strips + mc0 / mr, mc0, mc, nc0, nc, pc, kc);
                }
            }
        }
    }

    /// <summary>
    /// One mc × nc block of C over the depth [pc, pc + kc): packs the mc rows of A into MR-row panels (kc × MR floats
    /// each, contiguous, zero rows past the edge), then for each NR panel of the packed B (kept in L1) runs the
    /// micro-kernel down every A panel (streamed from L2). The first K block stores, later ones accumulate onto C, the
    /// last one runs the epilogue.
    /// </summary>
    /// <summary>The MR-row strips of packed A from row <paramref name="mc0"/> (<paramref name="mc"/> rows) against one
    /// packed B panel (columns n.., <paramref name="cols"/> wide) over one K block; the last block runs the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Strips<TK, TAct>(GemmArgs* g, float* apack, float* bp, int kc, int mc0, int mc, int n, int cols,
        bool first, bool last) where TK : struct, IKernel where TAct : struct, IActivation
    {
        int mr = TK.MR, strips = (mc + mr - 1) / mr;
        float* bias = last && g->Bias != null ? g->Bias + n : null;
        for (int i = 0; i < strips; i++)
        {
            int m = mc0 + i * mr;
            nint cOff = m * g->LdC + n;
            TK.Tile<TAct>(apack + (nint)i * kc * mr, bp, kc, g->C + cOff, g->LdC,
                last && g->Pre != null ? g->Pre + cOff : null, bias, Math.Min(mr, mc0 + mc - m), cols, first, last);
        }
    }

    private static void Block<TK, TAct>(GemmArgs* g, float* bpack, float* apack, int* aflags, int mc0, int mc, int nc0, int nc, int pc, int kc)
        where TK : struct, IKernel where TAct : struct, IActivation
    {
        int mr = TK.MR, nr = TK.NR;
        bool first = pc == 0, last = pc + kc == g->K;
        int strips = (mc + mr - 1) / mr;
        for (int i = 0; i < strips; i++)
        {
            float* dst = apack + (nint)i * kc * mr;
            if (aflags == null) TK.PackA(g, mc0 + i * mr, Math.Min(mr, mc - i * mr), pc, kc, dst);
            else if (Volatile.Read(ref aflags[i]) != 2)
            {
                // A shared panel: pack it unless another chunk has it (then wait: one panel is a few microseconds).
                if (Interlocked.CompareExchange(ref aflags[i], 1, 0) == 0)
                {
                    TK.PackA(g, mc0 + i * mr, Math.Min(mr, mc - i * mr), pc, kc, dst);
                    Volatile.Write(ref aflags[i], 2);
                }
                else
                {
                    SpinWait spin = default;
                    while (Volatile.Read(ref aflags[i]) != 2) spin.SpinOnce(sleep1Threshold: -1);
                }
            }
        }
        int panels = (nc + nr - 1) / nr;
        for (int p = 0; p < panels; p++)
        {
            int n = nc0 + p * nr, cols = Math.Min(nr, nc0 + nc - n);
            float* bp = bpack + (nint)p * kc * nr;
            Strips<TK, TAct>(g, apack, bp, kc, mc0, mc, n, cols, first, last);
        }
    }

    /// <summary>
    /// The two-core form for products with many rows: one job whose chunks are <see cref="MC"/>-row blocks of C. B is
    /// packed once, into a buffer both threads read, panel by panel by whichever thread first needs a panel (a flag per
    /// panel and K block: unpacked, being packed, ready); each chunk packs its own rows of A and runs every K block over
    /// them. Nothing waits between K blocks, A and B are each packed once (a column split repacks all of A in every
    /// chunk), and a panel another thread is packing is skipped and visited last. The caller holds the worker.
    /// </summary>
    private static void SharedRun<TK, TAct>(GemmArgs* g) where TK : struct, IKernel where TAct : struct, IActivation
    {
        int nr = TK.NR, kcStep = KcStep(g->K);
        int panels = (g->N + nr - 1) / nr, kBlocks = (g->K + kcStep - 1) / kcStep;
        var job = new SharedJob
        {
            G = g,
            Panels = panels,
            BPack = SharedPack.Get((long)g->K * panels * nr, panels * kBlocks, out int* flags),
            Flags = flags,
        };
        new Span<int>(flags, panels * kBlocks).Clear();
        Worker.Run(&SharedRows<TK, TAct>, &job, (g->M + MC - 1) / MC);
    }

    private struct SharedJob
    {
        public GemmArgs* G;
        public float* BPack;
        public int* Flags;
        public int Panels;
    }

    /// <summary>Rows [chunk·MC, chunk·MC + MC) of C over every K block and every panel of the shared B.</summary>
    private static void SharedRows<TK, TAct>(void* argument, int chunk) where TK : struct, IKernel where TAct : struct, IActivation
    {
        SharedJob* j = (SharedJob*)argument;
        GemmArgs* g = j->G;
        int mr = TK.MR, nr = TK.NR, k = g->K, kcStep = KcStep(k), panels = j->Panels;
        int mc0 = chunk * MC, mc = Math.Min(MC, g->M - mc0), strips = (mc + mr - 1) / mr;
        float* apack = PackBuffer.Get() + PackBuffer.BFloats;
        int words = (panels + 63) / 64;
        ulong* done = stackalloc ulong[words]; // panels of the current K block this chunk has run
        for (int pc = 0, block = 0; pc < k; pc += kcStep, block++)
        {
            int kc = Math.Min(kcStep, k - pc);
            bool first = pc == 0, last = pc + kc == k;
            float* bBlock = j->BPack + (nint)pc * panels * nr; // this K block's panels, kc × NR floats each
            int* flags = j->Flags + block * panels;
            for (int i = 0; i < strips; i++)
                TK.PackA(g, mc0 + i * mr, Math.Min(mr, mc - i * mr), pc, kc, apack + (nint)i * kc * mr);
            // Start at a panel that depends on the chunk, so the two threads begin by packing different panels.
            int start = (int)((long)panels * (chunk & 1) / 2), left = panels;
            new Span<ulong>(done, words).Clear();
            for (int pass = 0; left > 0; pass++)
            {
                for (int q = 0; q < panels; q++)
                {
                    int p = start + q < panels ? start + q : start + q - panels;
                    if ((done[p >> 6] & (1UL << p)) != 0) continue;
                    int state = Volatile.Read(ref flags[p]);
                    float* bp = bBlock + (nint)p * kc * nr;
                    int n = p * nr, cols = Math.Min(nr, g->N - n);
                    if (state == 0)
                    {
                        // Claim it; when the other thread got there first, its state is what the exchange saw.
                        state = Interlocked.CompareExchange(ref flags[p], 1, 0);
                        if (state == 0)
                        {
                            TK.PackB(g, pc, kc, n, cols, bp);
                            Volatile.Write(ref flags[p], 2);
                            state = 2;
                        }
                    }
                    if (state == 1)
                    {
                        if (pass == 0) continue; // another thread is packing it: come back to it
                        SpinWait spin = default;
                        while (Volatile.Read(ref flags[p]) == 1) spin.SpinOnce(sleep1Threshold: -1);
                    }
                    Strips<TK, TAct>(g, apack, bp, kc, mc0, mc, n, cols, first, last);
                    done[p >> 6] |= 1UL << p;
                    left--;
                }
            }
        }
    }

    /// <summary>Few rows and B = wᵀ with w rows contiguous: dot products of each A row with four w rows at a time
    /// (nothing packed; the four w rows stay in L1 across the A rows), then a vector epilogue per row.</summary>
    private static void DotBody<TK, TAct>(GemmArgs* g, int m0, int m1, int n0, int n1)
        where TK : struct, IKernel where TAct : struct, IActivation
    {
        int k = g->K;
        int n = n0;
        for (; n + 4 <= n1; n += 4)
            for (int m = m0; m < m1; m++)
                TK.Dot4(g->A + m * g->RsA, g->B + n * g->CsB, g->CsB, k, g->C + m * g->LdC + n);
        for (; n < n1; n++)
            for (int m = m0; m < m1; m++)
                g->C[m * g->LdC + n] = TK.Dot1(g->A + m * g->RsA, g->B + n * g->CsB, k);
        for (int m = m0; m < m1; m++)
        {
            nint off = m * g->LdC + n0;
            TK.Epilogue<TAct>(g->C + off, g->Pre != null ? g->Pre + off : null, g->Bias != null ? g->Bias + n0 : null, n1 - n0);
        }
    }

    /// <summary>Reference loops for machines without 256-bit vectors (and K = 0).</summary>
    private static void ScalarGemm<TAct>(GemmArgs* g) where TAct : struct, IActivation
    {
        for (int m = 0; m < g->M; m++)
        {
            float* a = g->A + m * g->RsA;
            for (int n = 0; n < g->N; n++)
            {
                float* b = g->B + n * g->CsB;
                float acc = 0f;
                for (int k = 0; k < g->K; k++) acc += a[k * g->CsA] * b[k * g->RsB];
                if (g->Bias != null) acc += g->Bias[n];
                nint off = m * g->LdC + n;
                if (g->Pre != null) g->Pre[off] = acc;
                g->C[off] = TAct.Apply(acc);
            }
        }
    }
}

/// <summary>A micro-kernel family: tile shape, B packing, tile, and the dot-product path.</summary>
internal unsafe interface IKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }

    /// <summary>Packs B(pc.., n..) of kc × cols into dst as kc rows of NR floats, zero-padded past cols.</summary>
    static abstract void PackB(GemmArgs* g, int pc, int kc, int n, int cols, float* dst);

    /// <summary>Packs A(m.., pc..) of rows × kc into dst as kc groups of MR floats (dst[k·MR + r]), zero past rows.</summary>
    static abstract void PackA(GemmArgs* g, int m, int rows, int pc, int kc, float* dst);

    /// <summary>C tile (rows × cols) of the packed A panel ap times the packed B panel bp over kc; accumulates onto C
    /// unless first; epilogue when last.</summary>
    static abstract void Tile<TAct>(float* ap, float* bp, int kc, float* c, nint ldc,
        float* pre, float* bias, int rows, int cols, bool first, bool last) where TAct : struct, IActivation;

    /// <summary>out[i] = Σ_k x[k]·w[i·ldw + k] for i &lt; 4.</summary>
    static abstract void Dot4(float* x, float* w, nint ldw, int k, float* result);

    static abstract float Dot1(float* x, float* w, int k);

    /// <summary>In place over n values: z = c + bias; pre = z; c = f(z).</summary>
    static abstract void Epilogue<TAct>(float* c, float* pre, float* bias, int n) where TAct : struct, IActivation;
}

/// <summary>The packing buffer of the current thread: KC × NC floats for B's block, then (MC + 8) × KC for A's
/// panels; 64-byte aligned, freed when the thread ends.</summary>
internal sealed unsafe class PackBuffer
{
    /// <summary>Floats of the B part; A's panels start there.</summary>
    public const int BFloats = Gemm.KC * Gemm.NC;
    private const int Floats = BFloats + (Gemm.MC + 8) * Gemm.KC;

    [ThreadStatic] private static PackBuffer? t_buffer;
    private readonly float* _data;

    private PackBuffer() => _data = (float*)NativeMemory.AlignedAlloc((nuint)(Floats * sizeof(float)), 64);

    ~PackBuffer() => NativeMemory.AlignedFree(_data);

    public static float* Get() => (t_buffer ??= new PackBuffer())._data;
}

/// <summary>The packed B both threads read in a <see cref="Gemm"/> two-core product (K × N rounded up to whole panels)
/// and its panel flags; grown when a larger product comes, then kept. Only the holder of the <see cref="Worker"/>
/// touches it.</summary>
internal static unsafe class SharedPack
{
    private static float* s_data;
    private static long s_floats;
    private static int* s_flags;
    private static int s_flagCount;

    public static float* Get(long floats, int flagCount, out int* flags)
    {
        if (floats > s_floats)
        {
            if (s_data != null) NativeMemory.AlignedFree(s_data);
            s_data = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            s_floats = floats;
        }
        if (flagCount > s_flagCount)
        {
            if (s_flags != null) NativeMemory.AlignedFree(s_flags);
            s_flags = (int*)NativeMemory.AlignedAlloc((nuint)(flagCount * sizeof(int)), 64);
            s_flagCount = flagCount;
        }
        flags = s_flags;
        return s_data;
    }
}
