using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The 2-D convolution's kernels over NHWC activations (<c>[batch, height, width, channels]</c>) and PyTorch's OIHW
/// weight (<c>[filters, channels, kernelHeight, kernelWidth]</c>); the geometry is a <see cref="Conv2DShape"/>.
/// </summary>
/// <remarks>
/// <para>Direct convolution, no im2col: each call packs the weight into a per-thread scratch as 2-vector-wide filter
/// panels <c>[panel][kh][kw][c][32]</c> (AVX-512; 16 on AVX2), then a register-blocked micro-kernel computes 8 output
/// pixels × 32 filters in 16 accumulators, broadcasting one input value per pixel and tap and fusing bias and
/// activation into the store. Padded inputs are first copied, one sample at a time, into a zero-bordered per-thread
/// scratch (valid convolutions read the input in place). The input gradient runs in scatter form (Conv2D.Scatter.cs):
/// per tap, an (output pixels × filters) · (filters × channels) tile added into dx where the tap reached, so no
/// multiply meets padding or a stride's gaps (inputs with few channels, where a channel panel would be mostly padding,
/// take dot products along the filters instead). The weight
/// gradient accumulates 8 (tap, channel) rows × 32 filters over every output pixel, per group of samples, then sums
/// the groups in a fixed order. When the filters fit one vector (LeNet-5's 6 and 16), the forward and weight-gradient
/// tiles are one vector wide instead (16 pixels, or 16 (tap, channel) rows, × 1 vector), so no multiply-add lands on
/// padding. Stride-1 layers with few channels, where the channel vectors would be mostly idle, take the planar kernels
/// instead (Conv2D.Planar.cs: vectorised over output pixels); which one runs depends only on the shape.</para>
/// <para>Work is split across the <see cref="Worker"/> by samples (forward, input gradient) and by fixed sample groups
/// (weight gradient; the group count depends only on the batch), so results are bit-identical whatever the core
/// count and run to run. Outputs must not overlap inputs. Nothing is allocated per call once each thread's scratch
/// has grown to the largest shape; the kernels are safe to call from any thread.</para>
/// </remarks>
public static unsafe partial class Conv2D
{
    /// <summary>Pixels per micro-kernel tile (forward and input gradient) and (tap, channel) rows per weight-gradient tile.</summary>
    private const int MR = 8;
    /// <summary>Sample groups of the weight gradient, at most: each holds a partial sum reduced in a fixed order.</summary>
    private const int MaxGroups = 4;
    /// <summary>Weight-gradient chunks to aim for: each group's rows of K are cut into ranges until there are this many,
    /// so a late or descheduled core holds up little work.</summary>
    private const int TargetChunks = 16;
    /// <summary>Multiply-adds below which the second core is not worth waking.</summary>
    private const long ParallelMinWork = 1 << 16;

    /// <summary>
    /// y[batch, oh, ow, filters] = f(conv(x[batch, h, w, c], w[filters, c, kh, kw]) + b[filters]), bias and activation
    /// fused into the store. When <paramref name="z"/> is not empty it receives the pre-activation; <paramref name="b"/>
    /// may be empty (no bias).
    /// </summary>
    public static void Forward<TAct>(Span<float> y, Span<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        ReadOnlySpan<float> b, int batch, in Conv2DShape s) where TAct : struct, IActivation
    {
        CheckBatch(batch);
        Need(x, (long)batch * s.InSize, nameof(x));
        Need(w, s.WeightSize, nameof(w));
        if (!b.IsEmpty) Need(b, s.Filters, nameof(b));
        Need(y, (long)batch * s.OutSize, nameof(y));
        if (!z.IsEmpty) Need(z, (long)batch * s.OutSize, nameof(z));
        if (batch == 0) return;
        fixed (float* px = x, pw = w, pb = b, py = y, pz = z)
        {
            if (UsePlanarForward(s))
            {
                PlanarForward<TAct>(py, z.IsEmpty ? null : pz, px, pw, b.IsEmpty ? null : pb, batch, s);
                return;
            }
            // Filters that fit one vector take one-vector panels (16 pixels × 1 vector tiles): two-vector panels
            // would leave half of every multiply-add on padding.
            int nr = s.Filters <= Lanes() && Lanes() > 1 ? Lanes() : 2 * Lanes();
            var job = new ConvJob
            {
                Src = px, SrcH = s.InHeight, SrcW = s.InWidth, C = s.InChannels, OffY = s.PadTop, OffX = s.PadLeft,
                ImgH = (s.OutHeight - 1) * s.StrideY + s.KernelHeight, ImgW = (s.OutWidth - 1) * s.StrideX + s.KernelWidth,
                KH = s.KernelHeight, KW = s.KernelWidth, SY = s.StrideY, SX = s.StrideX, OH = s.OutHeight, OW = s.OutWidth, F = s.Filters,
                Nr = nr, Bias = b.IsEmpty ? null : pb, Y = py, Z = z.IsEmpty ? null : pz,
            };
            job.Direct = s.PadTop == 0 && s.PadLeft == 0 && job.ImgH <= s.InHeight && job.ImgW <= s.InWidth;
            if (job.Direct) { job.ImgH = s.InHeight; job.ImgW = s.InWidth; }
            job.Packed = ConvScratch.Get(0, PackedSize(s.Filters, s.InChannels * s.KernelHeight * s.KernelWidth, nr));
            PackWeights(job.Packed, pw, s.Filters, s.InChannels, s.KernelHeight, s.KernelWidth, nr);
            RunImplicit<TAct>(&job, batch, s.MultiplyAdds);
        }
    }

    /// <summary>
    /// dx[batch, h, w, c] = the transposed convolution of dz[batch, oh, ow, filters] (the gradient at the
    /// pre-activation) with w; overwritten, not accumulated. An empty <paramref name="dx"/> (the first layer) does nothing.
    /// </summary>
    public static void BackwardData(Span<float> dx, ReadOnlySpan<float> dz, ReadOnlySpan<float> w, int batch, in Conv2DShape s)
    {
        CheckBatch(batch);
        if (dx.IsEmpty) return;
        Need(dx, (long)batch * s.InSize, nameof(dx));
        Need(dz, (long)batch * s.OutSize, nameof(dz));
        Need(w, s.WeightSize, nameof(w));
        if (batch == 0) return;
        fixed (float* pdx = dx, pdz = dz, pw = w)
        {
            if (UsePlanarBackwardData(s))
            {
                PlanarBackwardData(pdx, pdz, pw, batch, s);
                return;
            }
            int nr = 2 * Lanes();
            if (s.InChannels * 4 <= nr)
            {
                FewChannelsBackwardData(pdx, pdz, pw, batch, s);
                return;
            }
            // The scatter form: per tap, (output pixels × filters) · (filters × channels), added where the tap reached.
            TapScatterBackwardData(pdx, pdz, pw, batch, s);
        }
    }

    /// <summary>
    /// dw[filters, c, kh, kw] = Σ over samples and output pixels of dz ⊗ the input window, and db[filters] = Σ dz;
    /// both overwritten. <paramref name="db"/> may be empty (no bias).
    /// </summary>
    public static void BackwardWeights(Span<float> dw, Span<float> db, ReadOnlySpan<float> dz, ReadOnlySpan<float> x,
        int batch, in Conv2DShape s)
    {
        CheckBatch(batch);
        Need(dw, s.WeightSize, nameof(dw));
        if (!db.IsEmpty) Need(db, s.Filters, nameof(db));
        Need(dz, (long)batch * s.OutSize, nameof(dz));
        Need(x, (long)batch * s.InSize, nameof(x));
        if (batch == 0)
        {
            dw.Slice(0, s.WeightSize).Clear();
            if (!db.IsEmpty) db.Slice(0, s.Filters).Clear();
            return;
        }
        fixed (float* pdw = dw, pdb = db, pdz = dz, px = x)
        {
            if (UsePlanarForward(s))
            {
                PlanarBackwardWeights(pdw, db.IsEmpty ? null : pdb, pdz, px, batch, s);
                return;
            }
            // Filters that fit one vector take 16 (tap, channel) rows × 1 vector tiles, as in the forward pass.
            bool narrow = s.Filters <= Lanes() && Lanes() > 1;
            int nr = narrow ? Lanes() : 2 * Lanes(), mr = narrow ? NarrowMR : MR;
            int k = s.InChannels * s.KernelHeight * s.KernelWidth;
            var job = new ConvJob
            {
                Src = px, SrcH = s.InHeight, SrcW = s.InWidth, C = s.InChannels, OffY = s.PadTop, OffX = s.PadLeft,
                ImgH = (s.OutHeight - 1) * s.StrideY + s.KernelHeight, ImgW = (s.OutWidth - 1) * s.StrideX + s.KernelWidth,
                KH = s.KernelHeight, KW = s.KernelWidth, SY = s.StrideY, SX = s.StrideX, OH = s.OutHeight, OW = s.OutWidth, F = s.Filters,
                Nr = nr, Dz = pdz, Batch = batch, Groups = Math.Min(batch, MaxGroups),
                Kp = (k + mr - 1) / mr * mr, Fp = (s.Filters + nr - 1) / nr * nr, Mr = mr,
            };
            job.Direct = s.PadTop == 0 && s.PadLeft == 0 && job.ImgH <= s.InHeight && job.ImgW <= s.InWidth;
            if (job.Direct) { job.ImgH = s.InHeight; job.ImgW = s.InWidth; }
            nint partial = (nint)job.Kp * job.Fp;
            job.KRanges = Math.Max(1, Math.Min(job.Kp / mr, TargetChunks / job.Groups));
            job.Partial = ConvScratch.Get(0, job.Groups * (partial + job.Fp));
            job.DbPartial = job.Partial + job.Groups * partial;

            delegate*<void*, int, void> part = Gemm.Isa switch
            {
                KernelIsa.Vector512 => &WeightsGroup<ConvLanes512>,
                KernelIsa.Vector256 => &WeightsGroup<ConvLanes256>,
                _ => &WeightsGroup<ConvLane1>,
            };
            Run(part, &job, job.Groups * job.KRanges, s.MultiplyAdds * batch);

            // Sum the groups in order into group 0, then scatter [k][f] to OIHW.
            float* p0 = job.Partial;
            for (int g = 1; g < job.Groups; g++)
            {
                AddInto(p0, job.Partial + g * partial, partial);
                AddInto(job.DbPartial, job.DbPartial + g * job.Fp, job.Fp);
            }
            int c = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                    for (int ci = 0; ci < c; ci++)
                    {
                        float* row = p0 + ((nint)(ky * kw + kx) * c + ci) * job.Fp;
                        float* dst = pdw + ((nint)ci * kh + ky) * kw + kx;
                        nint step = (nint)c * kh * kw;
                        for (int fi = 0; fi < f; fi++) dst[fi * step] = row[fi];
                    }
            if (!db.IsEmpty) new ReadOnlySpan<float>(job.DbPartial, f).CopyTo(db);
        }
    }

    /// <summary>
    /// The input gradient when the input has few channels (the first layer's 1 or 3): a filter panel would be mostly
    /// padding, so instead each input value is a dot product along the filters, dx[iy, ix, c] = Σ over the taps that
    /// reach it of Σ_f dz[oy, ox, f]·wᵀ[c, ky, kx, f], with wᵀ packed [c][kh][kw][filters].
    /// </summary>
    private static void FewChannelsBackwardData(float* dx, float* dz, float* w, int batch, in Conv2DShape s)
    {
        int c = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
        float* wt = ConvScratch.Get(0, (nint)c * kh * kw * f);
        for (int fi = 0; fi < f; fi++)
            for (int ci = 0; ci < c; ci++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++)
                        wt[(((nint)ci * kh + ky) * kw + kx) * f + fi] = w[(((nint)fi * c + ci) * kh + ky) * kw + kx];
        var job = new FewChannelsJob { Dx = dx, Dz = dz, Wt = wt, S = s };
        delegate*<void*, int, void> part = Gemm.Isa switch
        {
            KernelIsa.Vector512 => &FewChannelsSample<ConvLanes512>,
            KernelIsa.Vector256 => &FewChannelsSample<ConvLanes256>,
            _ => &FewChannelsSample<ConvLane1>,
        };
        Run(part, &job, batch, s.MultiplyAdds * batch);
    }

    private struct FewChannelsJob
    {
        public float* Dx, Dz, Wt;
        public Conv2DShape S;
    }

    private static void FewChannelsSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        FewChannelsJob* j = (FewChannelsJob*)argument;
        Conv2DShape s = j->S;
        int c = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters, lanes = T.Count;
        float* dx = j->Dx + (nint)n * s.InSize;
        float* dz = j->Dz + (nint)n * s.OutSize;
        int sy = s.StrideY, sx = s.StrideX;
        for (int iy = 0; iy < s.InHeight; iy++)
        {
            // The taps ky ≡ iy + pad (mod stride) reach output row oy = (iy + pad − ky) / stride, falling as ky rises.
            int ry = iy + s.PadTop;
            for (int ix = 0; ix < s.InWidth; ix++, dx += c)
            {
                int rx = ix + s.PadLeft, kx0 = rx % sx;
                for (int ci = 0; ci < c; ci++)
                {
                    T acc = T.Zero;
                    for (int ky = ry % sy; ky < kh; ky += sy)
                    {
                        int oy = sy == 1 ? ry - ky : (ry - ky) / sy;
                        if (oy < 0) break;
                        if (oy >= s.OutHeight) continue;
                        for (int kx = kx0; kx < kw; kx += sx)
                        {
                            int ox = sx == 1 ? rx - kx : (rx - kx) / sx;
                            if (ox < 0) break;
                            if (ox >= s.OutWidth) continue;
                            float* g = dz + ((nint)oy * s.OutWidth + ox) * f;
                            float* wv = j->Wt + (((nint)ci * kh + ky) * kw + kx) * f;
                            int fi = 0;
                            for (; fi + lanes <= f; fi += lanes) acc = T.Fma(T.Load(g + fi), T.Load(wv + fi), acc);
                            if (fi < f) acc = T.Fma(T.LoadPart(g + fi, f - fi), T.LoadPart(wv + fi, f - fi), acc);
                        }
                    }
                    dx[ci] = T.Sum(acc);
                }
            }
        }
    }

    /// <summary>Floats in one ISA's vector.</summary>
    private static int Lanes() => Gemm.Isa switch { KernelIsa.Vector512 => 16, KernelIsa.Vector256 => 8, _ => 1 };

    /// <summary>What a direct convolution job reads and writes; lives on the caller's stack while the worker helps.</summary>
    private struct ConvJob
    {
        // The source images [batch, SrcH, SrcW, C], placed at (row + OffY, col + OffX) of an ImgH × ImgW
        // zero image (or read in place when Direct).
        public float* Src;
        public int SrcH, SrcW, C, OffY, OffX, ImgH, ImgW;
        public bool Direct;
        // The convolution over that image: KH × KW taps, strides SY, SX, output [batch, OH, OW, F].
        public int KH, KW, SY, SX, OH, OW, F, Nr;
        public float* Packed, Bias, Y, Z;
        // Weight gradient: dz, sample groups, partial sums [group][Kp][Fp] and [group][Fp].
        public float* Dz, Partial, DbPartial;
        public int Batch, Groups, KRanges, Kp, Fp, Mr;
    }

    private static void RunImplicit<TAct>(ConvJob* job, int batch, long multiplyAddsPerSample) where TAct : struct, IActivation
    {
        delegate*<void*, int, void> part = Gemm.Isa switch
        {
            KernelIsa.Vector512 => &ImplicitSample<ConvLanes512, TAct>,
            KernelIsa.Vector256 => &ImplicitSample<ConvLanes256, TAct>,
            _ => &ImplicitSample<ConvLane1, TAct>,
        };
        Run(part, job, batch, multiplyAddsPerSample * batch);
    }

    /// <summary>Runs chunks 0..count−1 on this thread and the worker when there is enough work, else here in order.</summary>
    internal static void Run(delegate*<void*, int, void> part, void* job, int count, long work)
    {
        if (count > 1 && work >= ParallelMinWork && Worker.TryEnter())
        {
            try { Worker.Run(part, job, count); }
            finally { Worker.Exit(); }
            return;
        }
        for (int i = 0; i < count; i++) part(job, i);
    }

    /// <summary>Packed size: ⌈outputs / nr⌉ panels of depth·nr floats.</summary>
    private static nint PackedSize(int outputs, int depth, int nr) => (nint)((outputs + nr - 1) / nr) * depth * nr;

    /// <summary>
    /// Packs w[filters, c, kh, kw] as panels [⌈filters/nr⌉][kh][kw][c][nr], zero past the last filter. Panels are
    /// independent, so large weights are packed on both cores.
    /// </summary>
    private static void PackWeights(float* dst, float* w, int filters, int c, int kh, int kw, int nr)
    {
        var job = new PackJob { Dst = dst, W = w, Filters = filters, C = c, KH = kh, KW = kw, Nr = nr };
        Run(&PackPanel, &job, (filters + nr - 1) / nr, (long)filters * c * kh * kw * 16);
    }

    private struct PackJob
    {
        public float* Dst, W;
        public int Filters, C, KH, KW, Nr;
    }

    private static void PackPanel(void* argument, int p)
    {
        PackJob* j = (PackJob*)argument;
        int c = j->C, kh = j->KH, kw = j->KW, nr = j->Nr;
        float* w = j->W;
        float* panel = j->Dst + (nint)p * kh * kw * c * nr;
        for (int jj = 0; jj < nr; jj++)
        {
            int o = p * nr + jj;
            float* d = panel + jj;
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                    for (int i = 0; i < c; i++, d += nr)
                        *d = o >= j->Filters ? 0f : w[(((nint)o * c + i) * kh + ky) * kw + kx];
        }
    }

    /// <summary>Sample <paramref name="n"/>'s image: the source itself, or a copy placed into this thread's zeroed scratch.</summary>
    private static float* Image(ConvJob* j, int n)
    {
        if (j->Direct) return j->Src + n * ((nint)j->SrcH * j->SrcW * j->C);
        float* img = ConvScratch.Get(1, (nint)j->ImgH * j->ImgW * j->C);
        Place(j, n, img);
        return img;
    }

    /// <summary>Writes sample <paramref name="n"/> of the source into the zero image <paramref name="img"/> (ImgH × ImgW × C),
    /// at (row + OffY, col + OffX); what falls outside is dropped.</summary>
    private static void Place(ConvJob* j, int n, float* img)
    {
        int c = j->C;
        float* src = j->Src + n * ((nint)j->SrcH * j->SrcW * c);
        new Span<float>(img, j->ImgH * j->ImgW * c).Clear();
        for (int r = 0; r < j->SrcH; r++)
        {
            int row = r + j->OffY;
            if (row < 0 || row >= j->ImgH) continue;
            float* s = src + (nint)r * j->SrcW * c;
            float* d = img + (nint)row * j->ImgW * c;
            if (j->OffX >= 0 && j->OffX + j->SrcW <= j->ImgW)
            {
                new ReadOnlySpan<float>(s, j->SrcW * c).CopyTo(new Span<float>(d + (nint)j->OffX * c, j->SrcW * c));
                continue;
            }
            for (int q = 0; q < j->SrcW; q++)
            {
                int col = q + j->OffX;
                if (col < 0 || col >= j->ImgW) continue;
                new ReadOnlySpan<float>(s + (nint)q * c, c).CopyTo(new Span<float>(d + (nint)col * c, c));
            }
        }
    }

    /// <summary>One sample of a forward-style convolution: every filter panel × every block of 8 output pixels.</summary>
    private static void ImplicitSample<T, TAct>(void* argument, int n) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        ConvJob* j = (ConvJob*)argument;
        float* img = Image(j, n);
        int c = j->C, f = j->F, nr = j->Nr, pixels = j->OH * j->OW, run = j->KW * c;
        nint rowStride = (nint)j->ImgW * c, depth = (nint)j->KH * run;
        nint outOff = (nint)n * pixels * f;
        float* y = j->Y + outOff;
        float* z = j->Z == null ? null : j->Z + outOff;
        if (nr == T.Count && nr > 1)
        {
            NarrowSample<T, TAct>(j, img, y, z);
            return;
        }
        float** a = stackalloc float*[MR];
        for (int p0 = 0; p0 < f; p0 += nr)
        {
            float* bp = j->Packed + (p0 / nr) * depth * nr;
            int cols = Math.Min(nr, f - p0);
            float* bias = j->Bias == null ? null : j->Bias + p0;
            // (oy, ox) of pixel m, stepped along the tiles: no division per pixel.
            for (int m = 0, oy = 0, ox = 0; m < pixels; m += MR)
            {
                int rows = Math.Min(MR, pixels - m);
                for (int i = 0; i < MR; i++)
                {
                    if (i >= rows) { a[i] = a[rows - 1]; continue; }
                    a[i] = img + oy * j->SY * rowStride + (nint)ox * j->SX * c;
                    if (++ox == j->OW) { ox = 0; oy++; }
                }
                nint o = (nint)m * f + p0;
                ForwardTile<T, TAct>(a, bp, j->KH, run, rowStride, y + o, z == null ? null : z + o, f, bias, rows, cols);
            }
        }
    }

    /// <summary>Pixels per one-vector tile.</summary>
    private const int NarrowMR = 16;

    /// <summary>One sample of a forward-style convolution whose outputs fit one vector: every block of 16 output pixels.</summary>
    private static void NarrowSample<T, TAct>(ConvJob* j, float* img, float* y, float* z) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        int c = j->C, f = j->F, pixels = j->OH * j->OW, run = j->KW * c;
        nint rowStride = (nint)j->ImgW * c;
        nint* a = stackalloc nint[NarrowMR];
        for (int m = 0; m < pixels; m += NarrowMR)
        {
            int rows = Math.Min(NarrowMR, pixels - m);
            for (int i = 0; i < NarrowMR; i++)
            {
                int pm = m + Math.Min(i, rows - 1);
                int oy = pm / j->OW, ox = pm - oy * j->OW;
                a[i] = oy * j->SY * rowStride + (nint)ox * j->SX * c;
            }
            nint o = (nint)m * f;
            NarrowTile<T, TAct>(img, a, j->Packed, j->KH, run, rowStride, y + o, z == null ? null : z + o, f, j->Bias, rows);
        }
    }

    /// <summary>
    /// A 16-pixel × 1-vector tile: acc[i] += x(pixel i, tap) · wpanel[tap] over kh rows of run = kw·c taps, then
    /// y = f(acc + bias) (z = acc + bias kept when asked) for the first rows pixels and <paramref name="cols"/> outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowTile<T, TAct>(float* img, nint* a, float* bp, int kh, int run, nint rowStride, float* y, float* z,
        int cols, float* bias, int rows) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        int w = T.Count;
        float* a0 = img + a[0], a1 = img + a[1], a2 = img + a[2], a3 = img + a[3], a4 = img + a[4], a5 = img + a[5], a6 = img + a[6], a7 = img + a[7];
        float* a8 = img + a[8], a9 = img + a[9], a10 = img + a[10], a11 = img + a[11], a12 = img + a[12], a13 = img + a[13], a14 = img + a[14], a15 = img + a[15];
        T c0 = T.Zero, c1 = T.Zero, c2 = T.Zero, c3 = T.Zero, c4 = T.Zero, c5 = T.Zero, c6 = T.Zero, c7 = T.Zero;
        T c8 = T.Zero, c9 = T.Zero, c10 = T.Zero, c11 = T.Zero, c12 = T.Zero, c13 = T.Zero, c14 = T.Zero, c15 = T.Zero;
        for (int ky = 0; ky < kh; ky++)
        {
            nint off = ky * rowStride, end = off + run;
            for (; off < end; off++, bp += w)
            {
                T b = T.Load(bp);
                c0 = T.Fma(T.Splat(a0[off]), b, c0); c1 = T.Fma(T.Splat(a1[off]), b, c1);
                c2 = T.Fma(T.Splat(a2[off]), b, c2); c3 = T.Fma(T.Splat(a3[off]), b, c3);
                c4 = T.Fma(T.Splat(a4[off]), b, c4); c5 = T.Fma(T.Splat(a5[off]), b, c5);
                c6 = T.Fma(T.Splat(a6[off]), b, c6); c7 = T.Fma(T.Splat(a7[off]), b, c7);
                c8 = T.Fma(T.Splat(a8[off]), b, c8); c9 = T.Fma(T.Splat(a9[off]), b, c9);
                c10 = T.Fma(T.Splat(a10[off]), b, c10); c11 = T.Fma(T.Splat(a11[off]), b, c11);
                c12 = T.Fma(T.Splat(a12[off]), b, c12); c13 = T.Fma(T.Splat(a13[off]), b, c13);
                c14 = T.Fma(T.Splat(a14[off]), b, c14); c15 = T.Fma(T.Splat(a15[off]), b, c15);
            }
        }
        T bv = bias == null ? T.Zero : T.LoadPart(bias, cols);
        nint ld = cols;
        NarrowStore<T, TAct>(y, z, c0, bv, cols);
        if (rows > 1) NarrowStore<T, TAct>(y + ld, z == null ? null : z + ld, c1, bv, cols);
        if (rows > 2) NarrowStore<T, TAct>(y + 2 * ld, z == null ? null : z + 2 * ld, c2, bv, cols);
        if (rows > 3) NarrowStore<T, TAct>(y + 3 * ld, z == null ? null : z + 3 * ld, c3, bv, cols);
        if (rows > 4) NarrowStore<T, TAct>(y + 4 * ld, z == null ? null : z + 4 * ld, c4, bv, cols);
        if (rows > 5) NarrowStore<T, TAct>(y + 5 * ld, z == null ? null : z + 5 * ld, c5, bv, cols);
        if (rows > 6) NarrowStore<T, TAct>(y + 6 * ld, z == null ? null : z + 6 * ld, c6, bv, cols);
        if (rows > 7) NarrowStore<T, TAct>(y + 7 * ld, z == null ? null : z + 7 * ld, c7, bv, cols);
        if (rows > 8) NarrowStore<T, TAct>(y + 8 * ld, z == null ? null : z + 8 * ld, c8, bv, cols);
        if (rows > 9) NarrowStore<T, TAct>(y + 9 * ld, z == null ? null : z + 9 * ld, c9, bv, cols);
        if (rows > 10) NarrowStore<T, TAct>(y + 10 * ld, z == null ? null : z + 10 * ld, c10, bv, cols);
        if (rows > 11) NarrowStore<T, TAct>(y + 11 * ld, z == null ? null : z + 11 * ld, c11, bv, cols);
        if (rows > 12) NarrowStore<T, TAct>(y + 12 * ld, z == null ? null : z + 12 * ld, c12, bv, cols);
        if (rows > 13) NarrowStore<T, TAct>(y + 13 * ld, z == null ? null : z + 13 * ld, c13, bv, cols);
        if (rows > 14) NarrowStore<T, TAct>(y + 14 * ld, z == null ? null : z + 14 * ld, c14, bv, cols);
        if (rows > 15) NarrowStore<T, TAct>(y + 15 * ld, z == null ? null : z + 15 * ld, c15, bv, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NarrowStore<T, TAct>(float* y, float* z, T v, T bias, int cols) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        v = T.Add(v, bias);
        if (z != null) T.StorePart(z, v, cols);
        T.StorePart(y, T.Apply<TAct>(v), cols);
    }

    /// <summary>
    /// An 8-pixel × 2-vector tile: acc[i] += x(pixel i, tap) · wpanel[tap] over kh rows of run = kw·c contiguous
    /// (column, channel) taps, then y = f(acc + bias) (z = acc + bias kept when asked) for the first rows × cols.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTile<T, TAct>(float** a, float* bp, int kh, int run, nint rowStride, float* y, float* z,
        nint ldc, float* bias, int rows, int cols) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        int w = T.Count;
        float* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7];
        T c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero, c30 = T.Zero, c31 = T.Zero;
        T c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero, c60 = T.Zero, c61 = T.Zero, c70 = T.Zero, c71 = T.Zero;
        for (int ky = 0; ky < kh; ky++)
        {
            nint off = ky * rowStride, end = off + run;
            for (; off < end; off++)
            {
                T b0 = T.Load(bp), b1 = T.Load(bp + w);
                T x0 = T.Splat(a0[off]);
                c00 = T.Fma(x0, b0, c00); c01 = T.Fma(x0, b1, c01);
                T x1 = T.Splat(a1[off]);
                c10 = T.Fma(x1, b0, c10); c11 = T.Fma(x1, b1, c11);
                T x2 = T.Splat(a2[off]);
                c20 = T.Fma(x2, b0, c20); c21 = T.Fma(x2, b1, c21);
                T x3 = T.Splat(a3[off]);
                c30 = T.Fma(x3, b0, c30); c31 = T.Fma(x3, b1, c31);
                T x4 = T.Splat(a4[off]);
                c40 = T.Fma(x4, b0, c40); c41 = T.Fma(x4, b1, c41);
                T x5 = T.Splat(a5[off]);
                c50 = T.Fma(x5, b0, c50); c51 = T.Fma(x5, b1, c51);
                T x6 = T.Splat(a6[off]);
                c60 = T.Fma(x6, b0, c60); c61 = T.Fma(x6, b1, c61);
                T x7 = T.Splat(a7[off]);
                c70 = T.Fma(x7, b0, c70); c71 = T.Fma(x7, b1, c71);
                bp += 2 * w;
            }
        }
        T bias0 = T.Zero, bias1 = T.Zero;
        if (bias != null)
        {
            bias0 = T.LoadPart(bias, cols);
            bias1 = T.LoadPart(bias + w, cols - w);
        }
        StoreRow<T, TAct>(y, z, c00, c01, bias0, bias1, cols);
        if (rows > 1) StoreRow<T, TAct>(y + ldc, z == null ? null : z + ldc, c10, c11, bias0, bias1, cols);
        if (rows > 2) StoreRow<T, TAct>(y + 2 * ldc, z == null ? null : z + 2 * ldc, c20, c21, bias0, bias1, cols);
        if (rows > 3) StoreRow<T, TAct>(y + 3 * ldc, z == null ? null : z + 3 * ldc, c30, c31, bias0, bias1, cols);
        if (rows > 4) StoreRow<T, TAct>(y + 4 * ldc, z == null ? null : z + 4 * ldc, c40, c41, bias0, bias1, cols);
        if (rows > 5) StoreRow<T, TAct>(y + 5 * ldc, z == null ? null : z + 5 * ldc, c50, c51, bias0, bias1, cols);
        if (rows > 6) StoreRow<T, TAct>(y + 6 * ldc, z == null ? null : z + 6 * ldc, c60, c61, bias0, bias1, cols);
        if (rows > 7) StoreRow<T, TAct>(y + 7 * ldc, z == null ? null : z + 7 * ldc, c70, c71, bias0, bias1, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T, TAct>(float* y, float* z, T v0, T v1, T bias0, T bias1, int cols)
        where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        int w = T.Count;
        v0 = T.Add(v0, bias0);
        v1 = T.Add(v1, bias1);
        if (cols == 2 * w)
        {
            if (z != null) { T.Store(z, v0); T.Store(z + w, v1); }
            T.Store(y, T.Apply<TAct>(v0));
            T.Store(y + w, T.Apply<TAct>(v1));
            return;
        }
        if (z != null) { T.StorePart(z, v0, cols); T.StorePart(z + w, v1, cols - w); }
        T.StorePart(y, T.Apply<TAct>(v0), cols);
        T.StorePart(y + w, T.Apply<TAct>(v1), cols - w);
    }

    /// <summary>
    /// One range of K's rows (KRanges per group) of one sample group of the weight gradient; the chunks write disjoint
    /// parts of the partials, and the first range of each group also sums the bias gradient. Its samples are taken
    /// SampleBlock at a time: every (8 rows of K) ×
    /// (filter panel) tile accumulates over all output pixels of those samples in registers, then is stored into the
    /// group's partial [Kp][Fp] (the first block) or added to it. The bias gradient sums dz's rows into the group's [Fp].
    /// Samples are always visited in order, so the group's sums do not depend on the thread that runs it.
    /// </summary>
    private static void WeightsGroup<T>(void* argument, int chunk) where T : struct, IConvLanes<T>
    {
        ConvJob* j = (ConvJob*)argument;
        int mr = j->Mr, g = chunk / j->KRanges, range = chunk - g * j->KRanges, blocks = j->Kp / mr;
        int kFirst = blocks * range / j->KRanges * mr, kEnd = blocks * (range + 1) / j->KRanges * mr;
        int lo = (int)((long)j->Batch * g / j->Groups), hi = (int)((long)j->Batch * (g + 1) / j->Groups);
        int c = j->C, f = j->F, nr = j->Nr, pixels = j->OH * j->OW, run = j->KW * c, k = j->KH * run;
        nint rowStride = (nint)j->ImgW * c, imgSize = (nint)j->ImgH * rowStride, dzSize = (nint)pixels * f;
        float* part = j->Partial + g * (nint)j->Kp * j->Fp;
        float* dbp = j->DbPartial + g * (nint)j->Fp;
        if (range == 0) new Span<float>(dbp, j->Fp).Clear();
        nint* koff = stackalloc nint[MaxK + NarrowMR];
        bool offsetsKnown = false;
        float* imgs = j->Direct ? null : ConvScratch.Get(1, SampleBlock * imgSize);
        for (int n0 = lo; n0 < hi; n0 += SampleBlock)
        {
            int count = Math.Min(SampleBlock, hi - n0);
            float* img;
            if (j->Direct) img = j->Src + n0 * imgSize;
            else
            {
                for (int i = 0; i < count; i++) Place(j, n0 + i, imgs + i * imgSize);
                img = imgs;
            }
            float* dz = j->Dz + n0 * dzSize;
            for (int k0 = kFirst; k0 < kEnd; k0 += mr)
            {
                nint* o = k <= MaxK ? koff + k0 : koff;
                if (k > MaxK || !offsetsKnown)
                    for (int i = 0; i < mr; i++)
                    {
                        int kk = Math.Min(k0 + i, k - 1);
                        int ky = kk / run;
                        o[i] = ky * rowStride + (kk - ky * run);
                    }
                if (mr == NarrowMR)
                {
                    NarrowWeightsTile<T>(img, imgSize, count, o, (nint)j->SY * rowStride, (nint)j->SX * c, j->OH, j->OW, dz,
                        dzSize, f, part + (nint)k0 * j->Fp, j->Fp, n0 == lo);
                    continue;
                }
                // Rows of one tap row's run (always, when kw·c is a multiple of 8) are 8 consecutive floats of the image:
                // one pointer then serves the 8 broadcasts. With 8 offsets the JIT spills two of them and the loop's
                // pointers (five stack accesses per 16 multiply-adds); the consecutive tile keeps everything in registers.
                bool consecutive = o[7] == o[0] + 7;
                for (int p0 = 0; p0 < f; p0 += nr)
                {
                    if (consecutive)
                        ConsecutiveWeightsTile<T>(img + o[0], imgSize, count, (nint)j->SY * rowStride, (nint)j->SX * c, j->OH, j->OW,
                            dz + p0, dzSize, f, Math.Min(nr, f - p0), part + (nint)k0 * j->Fp + p0, j->Fp, n0 == lo);
                    else
                        WeightsTile<T>(img, imgSize, count, o, (nint)j->SY * rowStride, (nint)j->SX * c, j->OH, j->OW, dz + p0,
                            dzSize, f, Math.Min(nr, f - p0), part + (nint)k0 * j->Fp + p0, j->Fp, n0 == lo);
                }
            }
            offsetsKnown = true;
            if (range == 0)
                for (int i = 0; i < count; i++) ColumnSum<T>(dbp, dz + i * dzSize, pixels, f);
        }
    }

    /// <summary>Samples whose pixels one weight-gradient tile sums in registers before touching memory.</summary>
    private const int SampleBlock = 4;
    /// <summary>Rows of K (taps × channels) whose offsets are kept from one sample block to the next.</summary>
    private const int MaxK = 2048;

    /// <summary>
    /// acc[i] = Σ over <paramref name="samples"/> images and their output pixels of x(pixel, koff[i]) · dz[pixel, 2 vectors],
    /// for 8 (tap, channel) rows; stored (first) or added to dst[i·ldd ..]. Filter tails read dz masked, so the padded
    /// columns are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightsTile<T>(float* img, nint imgSize, int samples, nint* koff, nint rowStep, nint colStep, int oh, int ow,
        float* dz, nint dzSize, nint ldz, int cols, float* dst, nint ldd, bool first) where T : struct, IConvLanes<T>
    {
        int w = T.Count;
        nint o0 = koff[0], o1 = koff[1], o2 = koff[2], o3 = koff[3], o4 = koff[4], o5 = koff[5], o6 = koff[6], o7 = koff[7];
        T c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero, c30 = T.Zero, c31 = T.Zero;
        T c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero, c60 = T.Zero, c61 = T.Zero, c70 = T.Zero, c71 = T.Zero;
        bool full = cols == 2 * w;
        for (int sIndex = 0; sIndex < samples; sIndex++, img += imgSize)
        {
            float* d = dz + sIndex * dzSize;
            for (int oy = 0; oy < oh; oy++)
            {
                float* q = img + oy * rowStep;
                for (int ox = 0; ox < ow; ox++, q += colStep, d += ldz)
                {
                    T b0, b1;
                    if (full) { b0 = T.Load(d); b1 = T.Load(d + w); }
                    else { b0 = T.LoadPart(d, cols); b1 = T.LoadPart(d + w, cols - w); }
                    T x0 = T.Splat(q[o0]);
                    c00 = T.Fma(x0, b0, c00); c01 = T.Fma(x0, b1, c01);
                    T x1 = T.Splat(q[o1]);
                    c10 = T.Fma(x1, b0, c10); c11 = T.Fma(x1, b1, c11);
                    T x2 = T.Splat(q[o2]);
                    c20 = T.Fma(x2, b0, c20); c21 = T.Fma(x2, b1, c21);
                    T x3 = T.Splat(q[o3]);
                    c30 = T.Fma(x3, b0, c30); c31 = T.Fma(x3, b1, c31);
                    T x4 = T.Splat(q[o4]);
                    c40 = T.Fma(x4, b0, c40); c41 = T.Fma(x4, b1, c41);
                    T x5 = T.Splat(q[o5]);
                    c50 = T.Fma(x5, b0, c50); c51 = T.Fma(x5, b1, c51);
                    T x6 = T.Splat(q[o6]);
                    c60 = T.Fma(x6, b0, c60); c61 = T.Fma(x6, b1, c61);
                    T x7 = T.Splat(q[o7]);
                    c70 = T.Fma(x7, b0, c70); c71 = T.Fma(x7, b1, c71);
                }
            }
        }
        Accumulate(dst, c00, c01, first);
        Accumulate(dst + ldd, c10, c11, first);
        Accumulate(dst + 2 * ldd, c20, c21, first);
        Accumulate(dst + 3 * ldd, c30, c31, first);
        Accumulate(dst + 4 * ldd, c40, c41, first);
        Accumulate(dst + 5 * ldd, c50, c51, first);
        Accumulate(dst + 6 * ldd, c60, c61, first);
        Accumulate(dst + 7 * ldd, c70, c71, first);
    }

    /// <summary><see cref="WeightsTile"/> for 8 rows whose image offsets are consecutive: x(pixel, row i) = img[pixel + i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConsecutiveWeightsTile<T>(float* img, nint imgSize, int samples, nint rowStep, nint colStep, int oh, int ow,
        float* dz, nint dzSize, nint ldz, int cols, float* dst, nint ldd, bool first) where T : struct, IConvLanes<T>
    {
        int w = T.Count;
        T c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero, c30 = T.Zero, c31 = T.Zero;
        T c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero, c60 = T.Zero, c61 = T.Zero, c70 = T.Zero, c71 = T.Zero;
        bool full = cols == 2 * w;
        for (int sIndex = 0; sIndex < samples; sIndex++, img += imgSize)
        {
            float* d = dz + sIndex * dzSize;
            for (int oy = 0; oy < oh; oy++)
            {
                float* q = img + oy * rowStep;
                for (int ox = 0; ox < ow; ox++, q += colStep, d += ldz)
                {
                    T b0, b1;
                    if (full) { b0 = T.Load(d); b1 = T.Load(d + w); }
                    else { b0 = T.LoadPart(d, cols); b1 = T.LoadPart(d + w, cols - w); }
                    T x0 = T.Splat(q[0]);
                    c00 = T.Fma(x0, b0, c00); c01 = T.Fma(x0, b1, c01);
                    T x1 = T.Splat(q[1]);
                    c10 = T.Fma(x1, b0, c10); c11 = T.Fma(x1, b1, c11);
                    T x2 = T.Splat(q[2]);
                    c20 = T.Fma(x2, b0, c20); c21 = T.Fma(x2, b1, c21);
                    T x3 = T.Splat(q[3]);
                    c30 = T.Fma(x3, b0, c30); c31 = T.Fma(x3, b1, c31);
                    T x4 = T.Splat(q[4]);
                    c40 = T.Fma(x4, b0, c40); c41 = T.Fma(x4, b1, c41);
                    T x5 = T.Splat(q[5]);
                    c50 = T.Fma(x5, b0, c50); c51 = T.Fma(x5, b1, c51);
                    T x6 = T.Splat(q[6]);
                    c60 = T.Fma(x6, b0, c60); c61 = T.Fma(x6, b1, c61);
                    T x7 = T.Splat(q[7]);
                    c70 = T.Fma(x7, b0, c70); c71 = T.Fma(x7, b1, c71);
                }
            }
        }
        Accumulate(dst, c00, c01, first);
        Accumulate(dst + ldd, c10, c11, first);
        Accumulate(dst + 2 * ldd, c20, c21, first);
        Accumulate(dst + 3 * ldd, c30, c31, first);
        Accumulate(dst + 4 * ldd, c40, c41, first);
        Accumulate(dst + 5 * ldd, c50, c51, first);
        Accumulate(dst + 6 * ldd, c60, c61, first);
        Accumulate(dst + 7 * ldd, c70, c71, first);
    }

    /// <summary>
    /// acc[i] = Σ over <paramref name="samples"/> images and their output pixels of x(pixel, koff[i]) · dz[pixel, 1 vector]
    /// for 16 (tap, channel) rows, all <paramref name="cols"/> filters in one vector (read masked, so the padded lanes
    /// are zero); stored (first) or added to dst[i·ldd ..].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowWeightsTile<T>(float* img, nint imgSize, int samples, nint* koff, nint rowStep, nint colStep, int oh, int ow,
        float* dz, nint dzSize, int cols, float* dst, nint ldd, bool first) where T : struct, IConvLanes<T>
    {
        nint o0 = koff[0], o1 = koff[1], o2 = koff[2], o3 = koff[3], o4 = koff[4], o5 = koff[5], o6 = koff[6], o7 = koff[7];
        nint o8 = koff[8], o9 = koff[9], o10 = koff[10], o11 = koff[11], o12 = koff[12], o13 = koff[13], o14 = koff[14], o15 = koff[15];
        T c0 = T.Zero, c1 = T.Zero, c2 = T.Zero, c3 = T.Zero, c4 = T.Zero, c5 = T.Zero, c6 = T.Zero, c7 = T.Zero;
        T c8 = T.Zero, c9 = T.Zero, c10 = T.Zero, c11 = T.Zero, c12 = T.Zero, c13 = T.Zero, c14 = T.Zero, c15 = T.Zero;
        bool full = cols == T.Count;
        for (int sIndex = 0; sIndex < samples; sIndex++, img += imgSize)
        {
            float* d = dz + sIndex * dzSize;
            for (int oy = 0; oy < oh; oy++)
            {
                float* q = img + oy * rowStep;
                for (int ox = 0; ox < ow; ox++, q += colStep, d += cols)
                {
                    T b = full ? T.Load(d) : T.LoadPart(d, cols);
                    c0 = T.Fma(T.Splat(q[o0]), b, c0); c1 = T.Fma(T.Splat(q[o1]), b, c1);
                    c2 = T.Fma(T.Splat(q[o2]), b, c2); c3 = T.Fma(T.Splat(q[o3]), b, c3);
                    c4 = T.Fma(T.Splat(q[o4]), b, c4); c5 = T.Fma(T.Splat(q[o5]), b, c5);
                    c6 = T.Fma(T.Splat(q[o6]), b, c6); c7 = T.Fma(T.Splat(q[o7]), b, c7);
                    c8 = T.Fma(T.Splat(q[o8]), b, c8); c9 = T.Fma(T.Splat(q[o9]), b, c9);
                    c10 = T.Fma(T.Splat(q[o10]), b, c10); c11 = T.Fma(T.Splat(q[o11]), b, c11);
                    c12 = T.Fma(T.Splat(q[o12]), b, c12); c13 = T.Fma(T.Splat(q[o13]), b, c13);
                    c14 = T.Fma(T.Splat(q[o14]), b, c14); c15 = T.Fma(T.Splat(q[o15]), b, c15);
                }
            }
        }
        AccumulateOne(dst, c0, first); AccumulateOne(dst + ldd, c1, first);
        AccumulateOne(dst + 2 * ldd, c2, first); AccumulateOne(dst + 3 * ldd, c3, first);
        AccumulateOne(dst + 4 * ldd, c4, first); AccumulateOne(dst + 5 * ldd, c5, first);
        AccumulateOne(dst + 6 * ldd, c6, first); AccumulateOne(dst + 7 * ldd, c7, first);
        AccumulateOne(dst + 8 * ldd, c8, first); AccumulateOne(dst + 9 * ldd, c9, first);
        AccumulateOne(dst + 10 * ldd, c10, first); AccumulateOne(dst + 11 * ldd, c11, first);
        AccumulateOne(dst + 12 * ldd, c12, first); AccumulateOne(dst + 13 * ldd, c13, first);
        AccumulateOne(dst + 14 * ldd, c14, first); AccumulateOne(dst + 15 * ldd, c15, first);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateOne<T>(float* dst, T v, bool first) where T : struct, IConvLanes<T>
    {
        if (!first) v = T.Add(T.Load(dst), v);
        T.Store(dst, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<T>(float* dst, T v0, T v1, bool first) where T : struct, IConvLanes<T>
    {
        int w = T.Count;
        if (!first) { v0 = T.Add(T.Load(dst), v0); v1 = T.Add(T.Load(dst + w), v1); }
        T.Store(dst, v0);
        T.Store(dst + w, v1);
    }

    /// <summary>sum[f] += Σ_rows dz[row, f], rows added in order.</summary>
    private static void ColumnSum<T>(float* sum, float* dz, int rows, int f) where T : struct, IConvLanes<T>
    {
        int w = T.Count;
        for (int c0 = 0; c0 < f; c0 += w)
        {
            int n = f - c0;
            T s = T.LoadPart(sum + c0, n);
            float* d = dz + c0;
            for (int r = 0; r < rows; r++, d += f) s = T.Add(s, T.LoadPart(d, n));
            T.StorePart(sum + c0, s, n);
        }
    }

    /// <summary>dst[i] += src[i] for i &lt; n.</summary>
    private static void AddInto(float* dst, float* src, nint n) =>
        System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(dst, (int)n), new ReadOnlySpan<float>(src, (int)n), new Span<float>(dst, (int)n));

    private static void CheckBatch(int batch)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), "The batch must not be negative.");
    }

    internal static void Need(ReadOnlySpan<float> span, long length, string name)
    {
        if (span.Length < length) Activations.ThrowShort(name);
    }
}
