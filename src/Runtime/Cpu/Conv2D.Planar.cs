using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The convolution's kernels for few channels (LeNet-5's 1 → 6 and 6 → 16): vectorised over output pixels instead of
/// channels. Each sample is copied into a per-thread planar image <c>[channel][Hp·Wp]</c>, zero-bordered, with
/// Wp = output width + kw − 1 (stride 1); output pixel p = oy·Wp + ox then reads tap (c, ky, kx) at
/// <c>plane[c][p + ky·Wp + kx]</c>, so a vector of consecutive p is one contiguous load per tap. The columns
/// ox ≥ output width are computed and dropped (their share, (kw − 1) / Wp, is the price of the flat pixel index).
/// </summary>
/// <remarks>
/// Forward: a micro-kernel holds 6 output channels × up to 4 pixel vectors in 24 accumulators, broadcasting one weight
/// per channel and tap, then the tile is written to NHWC with bias and activation. Input gradient: the same kernel
/// forms every tap's contribution (the columns of dz · w), which are added into a zero-bordered planar gradient. Weight gradient: 6 filters ×
/// 4 taps in 24 accumulators reduced over pixel vectors (the output gradient copied planar, zero at the dropped columns),
/// kept as per-lane partial sums per sample group and summed across lanes and groups in a fixed order at the end.
/// Work is split by samples (forward, input gradient) and by the same fixed sample groups as the channel kernels (weight
/// gradient), so results are bit-identical whatever the core count.
/// </remarks>
public static unsafe partial class Conv2D
{
    /// <summary>Output channels per planar micro-kernel tile.</summary>
    private const int PlanarChannels = 6;
    /// <summary>Pixel vectors per planar micro-kernel tile (at most).</summary>
    private const int PlanarVectors = 4;
    /// <summary>Taps per planar weight-gradient tile.</summary>
    private const int PlanarTaps = 4;

    /// <summary>Which kernels run: 0 lets the shape decide, 1 forces the planar (pixel-vector) kernels where they apply
    /// (stride 1), −1 forbids them. Tests set it to exercise both paths.</summary>
    internal static int PlanarMode;

    /// <summary>
    /// True when the planar kernels fit the product: stride 1, paddings below the kernel, at most 2,048 taps × channels, a
    /// vector instruction set, and
    /// (unless forced) more of each vector doing useful work than in the channel kernels, which use
    /// <paramref name="channels"/> / ⌈channels / 2 vectors⌉ of their lanes (the channels they vectorise over: filters,
    /// or the input's channels for the input gradient), or channels / 1 vector where <paramref name="narrow"/> tiles
    /// take channels that fit one vector. The planar kernels use <paramref name="planarUse"/> of theirs
    /// and pay for the copies to and from the planar layout, taken as a third of their time.
    /// </summary>
    private static bool UsePlanar(in Conv2DShape s, int channels, bool narrow, double planarUse)
    {
        if (PlanarMode < 0 || Gemm.Isa == KernelIsa.Scalar) return false;
        if (s.StrideY != 1 || s.StrideX != 1 || s.PadTop >= s.KernelHeight || s.PadLeft >= s.KernelWidth) return false;
        // The weight gradient keeps one offset per tap on the stack (the worker's is 256 KiB).
        if ((long)s.InChannels * s.KernelHeight * s.KernelWidth > MaxK) return false;
        if (PlanarMode > 0) return true;
        int nr = narrow && channels <= Lanes() ? Lanes() : 2 * Lanes();
        double channelUse = (double)channels / ((channels + nr - 1) / nr * nr);
        return planarUse * (2.0 / 3) > channelUse;
    }

    /// <summary>The share of useful lanes of a planar tile loop: <paramref name="pixels"/> real pixels out of a flat
    /// range of <paramref name="flat"/>, rounded up to vectors, times <paramref name="rows"/> out of whole 6-row tiles.</summary>
    private static double PlanarUse(int pixels, int flat, int rows)
    {
        int lanes = Lanes();
        return (double)pixels / ((flat + lanes - 1) / lanes * lanes) * rows / ((rows + PlanarChannels - 1) / PlanarChannels * PlanarChannels);
    }

    /// <summary>Forward and weight gradient: the flat range is oh·(ow + kw − 1), the tile rows are the filters.</summary>
    private static bool UsePlanarForward(in Conv2DShape s) =>
        UsePlanar(s, s.Filters, narrow: true, PlanarUse(s.OutHeight * s.OutWidth, s.OutHeight * (s.OutWidth + s.KernelWidth - 1), s.Filters));

    /// <summary>Input gradient (scatter form): the flat range is oh·(ow + kw − 1), the tile rows are the taps.</summary>
    private static bool UsePlanarBackwardData(in Conv2DShape s) =>
        UsePlanar(s, s.InChannels, narrow: false, PlanarUse(s.OutHeight * s.OutWidth, s.OutHeight * (s.OutWidth + s.KernelWidth - 1),
            s.InChannels * s.KernelHeight * s.KernelWidth));

    /// <summary>What a planar forward-style convolution reads and writes; on the caller's stack while the worker helps.</summary>
    private struct PlanarJob
    {
        // Source samples [batch, SrcH, SrcW, C] (NHWC), placed at (row + OffY, col + OffX) of a zero Hp × Wp planar image.
        public float* Src;
        public int SrcH, SrcW, C, OffY, OffX, Hp, Wp;
        // Taps, output channels, output rows and columns (NHWC [batch, OH, OW, F]); flat pixels computed per sample.
        public int KH, KW, F, OH, OW, Pixels;
        // Floats per planar channel (with slack for the last tile's reads).
        public nint Plane;
        // Weights [F][C][KH][KW]; bias [F] or null; outputs.
        public float* W, Bias, Y, Z;
        // Weight gradient: dz [batch, OH, OW, F], sample groups, per-lane partials [group][F][C·KH·KW][lanes] and [group][F][lanes].
        public float* Dz, Partial, DbPartial;
        public int Batch, Groups;
        // A max pooling fused behind the convolution (Conv2D.PlanarPool.cs): its windows (stride = window), output rows
        // and columns, and its argmax [batch, POH, POW, F] (offsets within a sample's [OH, OW, F], as Pooling writes
        // them). Forward: Y is the pooled output. Weight gradient: Dz is dL/d(pooled), Pooled the pooled output (the
        // activation's derivative is read from it), and each sample's dz is scattered from them.
        public int* Index;
        public float* Pooled;
        public int PH, PW, POH, POW;
    }

    /// <summary>Fills the geometry of a planar job whose source is [srcH, srcW, c] placed at (offY, offX), for a stride-1
    /// convolution with <paramref name="kh"/> × <paramref name="kw"/> taps producing [oh, ow, f].</summary>
    private static void PlanarGeometry(PlanarJob* j, int srcH, int srcW, int c, int offY, int offX, int kh, int kw, int f, int oh, int ow, int lanes)
    {
        j->SrcH = srcH; j->SrcW = srcW; j->C = c; j->OffY = offY; j->OffX = offX;
        j->KH = kh; j->KW = kw; j->F = f; j->OH = oh; j->OW = ow;
        j->Hp = oh + kh - 1;
        j->Wp = ow + kw - 1;
        int vectors = (oh * j->Wp + lanes - 1) / lanes;
        j->Pixels = vectors * lanes;
        // Reads reach pixel Pixels − 1 + (kh − 1)·Wp + kw − 1; the last tile may round up to PlanarVectors vectors.
        nint reach = (nint)((vectors + PlanarVectors) * lanes) + (nint)(kh - 1) * j->Wp + kw;
        nint plane = Math.Max((nint)j->Hp * j->Wp, reach);
        j->Plane = (plane + 15) & ~(nint)15;
    }

    /// <summary>Copies sample <paramref name="n"/> of the NHWC source into the zero planar image <paramref name="img"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlacePlanar(PlanarJob* j, int n, float* img)
    {
        int c = j->C, wp = j->Wp;
        new Span<float>(img, checked((int)(c * j->Plane))).Clear();
        float* src = j->Src + n * ((nint)j->SrcH * j->SrcW * c);
        int q0 = Math.Max(0, -j->OffX), q1 = Math.Min(j->SrcW, wp - j->OffX);
        for (int r = 0; r < j->SrcH; r++)
        {
            int row = r + j->OffY;
            if (row < 0 || row >= j->Hp) continue;
            float* s = src + (nint)r * j->SrcW * c;
            float* d = img + (nint)row * wp + j->OffX;
            if (c == 1)
            {
                if (q1 > q0) new ReadOnlySpan<float>(s + q0, q1 - q0).CopyTo(new Span<float>(d + q0, q1 - q0));
                continue;
            }
            for (int q = q0; q < q1; q++)
            {
                float* sq = s + (nint)q * c;
                float* dq = d + q;
                for (int ci = 0; ci < c; ci++) dq[ci * j->Plane] = sq[ci];
            }
        }
    }

    /// <summary>Planar forward: y = f(conv(x, w) + b) for stride 1, any padding below the kernel.</summary>
    private static void PlanarForward<TAct>(float* y, float* z, float* x, float* w, float* b, int batch, in Conv2DShape s)
        where TAct : struct, IActivation
    {
        var job = new PlanarJob { Src = x, W = w, Bias = b, Y = y, Z = z };
        PlanarGeometry(&job, s.InHeight, s.InWidth, s.InChannels, s.PadTop, s.PadLeft, s.KernelHeight, s.KernelWidth,
            s.Filters, s.OutHeight, s.OutWidth, Lanes());
        delegate*<void*, int, void> part = Gemm.Isa == KernelIsa.Vector512 ? &PlanarSample<ConvLanes512, TAct> : &PlanarSample<ConvLanes256, TAct>;
        Run(part, &job, batch, s.MultiplyAdds * batch);
    }

    /// <summary>What the planar input gradient reads and writes; on the caller's stack while the worker helps.</summary>
    private struct ScatterJob
    {
        public float* Dx, Dz, Wt;
        public Conv2DShape S;
        // The zero-bordered planar input gradient: Hp × Wp (the forward's padded image), Wp = ow + kw − 1. The output
        // gradient is laid out on the same row pitch: Flat = oh·Wp pixels, rounded up to vectors.
        public int Hp, Wp, Flat;
        // Each column row: a zero gutter of Gutter floats, the Flat computed values, zeros up to Row floats.
        public int Gutter, Row, DxFlat;
    }

    /// <summary>
    /// Planar input gradient, in scatter form so no multiply meets a zero border. Per sample the output gradient is
    /// copied planar on the padded image's row pitch, dz[f][oy·Wp + ox] (zero at ox ≥ ow); the columns
    /// col[tap][q] = Σ_f w[f, tap]·dz[f][q] come from the planar micro-kernel (taps as its output channels, filters as
    /// its input channels, a 1×1 kernel); tap (c, ky, kx) adds col[tap][q] to dx[c][q + ky·Wp + kx], so each planar dx
    /// vector is a sum of the taps' column vectors at fixed shifts, read from zero-guttered column rows, with no
    /// read-modify-write. The interior of the planar dx is then copied to NHWC.
    /// </summary>
    private static void PlanarBackwardData(float* dx, float* dz, float* w, int batch, in Conv2DShape s)
    {
        int f = s.Filters, taps = s.InChannels * s.KernelHeight * s.KernelWidth, lanes = Lanes();
        // wt[tap][f] = w[f][tap]
        float* wt = ConvScratch.Get(0, (nint)taps * f);
        for (int fi = 0; fi < f; fi++)
            for (int t = 0; t < taps; t++) wt[(nint)t * f + fi] = w[(nint)fi * taps + t];
        int hp = s.OutHeight + s.KernelHeight - 1, wp = s.OutWidth + s.KernelWidth - 1;
        int flat = (s.OutHeight * wp + lanes - 1) / lanes * lanes, dxFlat = (hp * wp + lanes - 1) / lanes * lanes;
        int gutter = (s.KernelHeight - 1) * wp + s.KernelWidth - 1;
        var job = new ScatterJob
        {
            Dx = dx, Dz = dz, Wt = wt, S = s, Hp = hp, Wp = wp, Flat = flat,
            Gutter = gutter, Row = (gutter + dxFlat + 15) & ~15, DxFlat = dxFlat,
        };
        delegate*<void*, int, void> part = Gemm.Isa == KernelIsa.Vector512 ? &ScatterSample<ConvLanes512> : &ScatterSample<ConvLanes256>;
        Run(part, &job, batch, s.MultiplyAdds * batch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScatterSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        ScatterJob* j = (ScatterJob*)argument;
        Conv2DShape s = j->S;
        int lanes = T.Count, f = s.Filters, c = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth;
        int oh = s.OutHeight, ow = s.OutWidth, flat = j->Flat, wp = j->Wp, vectors = flat / lanes, taps = c * kh * kw;
        int gutter = j->Gutter, rowLength = j->Row, dxFlat = j->DxFlat;
        float* dzp = ConvScratch.Get(1, (nint)f * flat + (nint)(taps + PlanarChannels) * rowLength + (nint)c * dxFlat);
        float* col = dzp + (nint)f * flat;
        float* dxp = col + (nint)(taps + PlanarChannels) * rowLength;
        // dz[oy, ox, f] → dzp[f][oy·Wp + ox], zero elsewhere.
        new Span<float>(dzp, checked(f * flat)).Clear();
        float* d = j->Dz + (nint)n * oh * ow * f;
        if (CanTranspose(f))
        {
            TransposeTable table = Table(f);
            for (int oy = 0; oy < oh; oy++) ToPlanar(table, d + (nint)oy * ow * f, ow, f, dzp + (nint)oy * wp, flat);
        }
        else
            for (int fi = 0; fi < f; fi++)
            {
                float* dst = dzp + (nint)fi * flat;
                float* src = d + fi;
                for (int oy = 0; oy < oh; oy++, dst += wp)
                    for (int ox = 0; ox < ow; ox++, src += f) dst[ox] = *src;
            }
        // col[t][gutter + q] = Σ_f wt[t][f]·dzp[f][q]: 6 taps × up to 4 pixel vectors per tile; gutters zero.
        for (int t0 = 0; t0 < taps; t0 += PlanarChannels)
        {
            int rows = Math.Min(PlanarChannels, taps - t0);
            float* w0 = j->Wt + (nint)t0 * f;
            float* w1 = j->Wt + (nint)(t0 + Math.Min(1, rows - 1)) * f, w2 = j->Wt + (nint)(t0 + Math.Min(2, rows - 1)) * f;
            float* w3 = j->Wt + (nint)(t0 + Math.Min(3, rows - 1)) * f, w4 = j->Wt + (nint)(t0 + Math.Min(4, rows - 1)) * f;
            float* w5 = j->Wt + (nint)(t0 + Math.Min(5, rows - 1)) * f;
            float* o = col + (nint)t0 * rowLength + gutter;
            int v = 0;
            for (; v + 4 <= vectors; v += 4) PlanarTile<T, Four>(dzp + v * lanes, flat, 1, f, 1, 1, w0, w1, w2, w3, w4, w5, o + v * lanes, rowLength);
            if (vectors - v == 3) PlanarTile<T, Three>(dzp + v * lanes, flat, 1, f, 1, 1, w0, w1, w2, w3, w4, w5, o + v * lanes, rowLength);
            else if (vectors - v == 2) PlanarTile<T, Two>(dzp + v * lanes, flat, 1, f, 1, 1, w0, w1, w2, w3, w4, w5, o + v * lanes, rowLength);
            else if (vectors - v == 1) PlanarTile<T, One>(dzp + v * lanes, flat, 1, f, 1, 1, w0, w1, w2, w3, w4, w5, o + v * lanes, rowLength);
        }
        // Zero gutters, with vector stores inside them (a few hundred short clears would each cost a call).
        T zero = T.Zero;
        for (int t = 0; t < taps; t++)
        {
            float* row = col + (nint)t * rowLength;
            int g = 0;
            for (; g + lanes <= gutter; g += lanes) T.Store(row + g, zero);
            for (; g < gutter; g++) row[g] = 0f;
            int e = gutter + flat;
            for (; e + lanes <= rowLength; e += lanes) T.Store(row + e, zero);
            for (; e < rowLength; e++) row[e] = 0f;
        }
        // dxp[ci][p] = Σ_{ky, kx} col[(ci, ky, kx)][gutter + p − ky·Wp − kx], four vectors at a time.
        for (int ci = 0; ci < c; ci++)
        {
            float* rows0 = col + (nint)ci * kh * kw * rowLength + gutter;
            float* dst = dxp + (nint)ci * dxFlat;
            int v = 0;
            for (; v + 4 * lanes <= dxFlat; v += 4 * lanes)
            {
                T a0 = T.Zero, a1 = T.Zero, a2 = T.Zero, a3 = T.Zero;
                float* r = rows0 + v;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++, r += rowLength)
                    {
                        float* q = r - ky * wp - kx;
                        a0 = T.Add(a0, T.Load(q)); a1 = T.Add(a1, T.Load(q + lanes));
                        a2 = T.Add(a2, T.Load(q + 2 * lanes)); a3 = T.Add(a3, T.Load(q + 3 * lanes));
                    }
                T.Store(dst + v, a0); T.Store(dst + v + lanes, a1); T.Store(dst + v + 2 * lanes, a2); T.Store(dst + v + 3 * lanes, a3);
            }
            for (; v < dxFlat; v += lanes)
            {
                T a0 = T.Zero;
                float* r = rows0 + v;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++, r += rowLength) a0 = T.Add(a0, T.Load(r - ky * wp - kx));
                T.Store(dst + v, a0);
            }
        }
        // The interior, rows pad..pad + h and columns pad..pad + w, to dx[iy, ix, ci].
        float* outp = j->Dx + (nint)n * s.InSize;
        for (int ci = 0; ci < c; ci++)
        {
            float* row = dxp + (nint)ci * dxFlat + (nint)s.PadTop * wp + s.PadLeft;
            float* dst = outp + ci;
            for (int iy = 0; iy < s.InHeight; iy++, row += wp)
                for (int ix = 0; ix < s.InWidth; ix++, dst += c) *dst = row[ix];
        }
    }

    /// <summary>One sample of a planar forward-style convolution.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarSample<T, TAct>(void* argument, int n) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        PlanarJob* j = (PlanarJob*)argument;
        int lanes = T.Count, f = j->F, oh = j->OH, ow = j->OW, wp = j->Wp;
        nint plane = j->Plane, taps = (nint)j->C * j->KH * j->KW;
        nint outPlane = j->Pixels + PlanarVectors * lanes;
        float* img = ConvScratch.Get(1, j->C * plane + PlanarChannels * outPlane);
        float* acc = img + j->C * plane;
        PlacePlanar(j, n, img);
        nint outOff = (nint)n * oh * ow * f;
        float* y = j->Y + outOff;
        float* z = j->Z == null ? null : j->Z + outOff;
        int vectors = j->Pixels / lanes;
        for (int f0 = 0; f0 < f; f0 += PlanarChannels)
        {
            int rows = Math.Min(PlanarChannels, f - f0);
            float* w0 = j->W + f0 * taps;
            float* w1 = j->W + (f0 + Math.Min(1, rows - 1)) * taps, w2 = j->W + (f0 + Math.Min(2, rows - 1)) * taps;
            float* w3 = j->W + (f0 + Math.Min(3, rows - 1)) * taps, w4 = j->W + (f0 + Math.Min(4, rows - 1)) * taps;
            float* w5 = j->W + (f0 + Math.Min(5, rows - 1)) * taps;
            int v = 0;
            for (; v + 4 <= vectors; v += 4) PlanarTile<T, Four>(img + v * lanes, plane, wp, j->C, j->KH, j->KW, w0, w1, w2, w3, w4, w5, acc + v * lanes, outPlane);
            if (vectors - v == 3) PlanarTile<T, Three>(img + v * lanes, plane, wp, j->C, j->KH, j->KW, w0, w1, w2, w3, w4, w5, acc + v * lanes, outPlane);
            else if (vectors - v == 2) PlanarTile<T, Two>(img + v * lanes, plane, wp, j->C, j->KH, j->KW, w0, w1, w2, w3, w4, w5, acc + v * lanes, outPlane);
            else if (vectors - v == 1) PlanarTile<T, One>(img + v * lanes, plane, wp, j->C, j->KH, j->KW, w0, w1, w2, w3, w4, w5, acc + v * lanes, outPlane);
            // acc[i][oy·Wp + ox] + bias → z[oy, ox, f0 + i]; f(that) → y[oy, ox, f0 + i]. Bias and activation run on
            // whole pixel vectors in place, so the transposing copies have no branches.
            for (int i = 0; i < rows; i++)
            {
                T bias = T.Splat(j->Bias == null ? 0f : j->Bias[f0 + i]);
                float* row = acc + i * outPlane;
                for (int u = 0; u < vectors; u++) T.Store(row + u * lanes, T.Add(T.Load(row + u * lanes), bias));
                if (z != null) Transpose(z + f0 + i, row, oh, ow, wp, f);
                if (typeof(TAct) != typeof(Identity))
                    for (int u = 0; u < vectors; u++) T.Store(row + u * lanes, T.Apply<TAct>(T.Load(row + u * lanes)));
                Transpose(y + f0 + i, row, oh, ow, wp, f);
            }
        }
    }

    /// <summary>dst[(oy·ow + ox)·ld] = src[oy·wp + ox]: one planar channel row into its NHWC column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(float* dst, float* src, int oh, int ow, int wp, int ld)
    {
        for (int oy = 0; oy < oh; oy++, src += wp)
            for (int ox = 0; ox < ow; ox++, dst += ld) *dst = src[ox];
    }

    /// <summary>A compile-time count of pixel vectors for <see cref="PlanarTile"/>.</summary>
    private interface IVectorCount { static abstract int N { get; } }
    private struct One : IVectorCount { public static int N => 1; }
    private struct Two : IVectorCount { public static int N => 2; }
    private struct Three : IVectorCount { public static int N => 3; }
    private struct Four : IVectorCount { public static int N => 4; }

    /// <summary>
    /// 6 output channels × N pixel vectors: out[i][p] = Σ_{c, ky, kx} w_i[c, ky, kx] · img[c][p + ky·Wp + kx], stored to
    /// out + i·ldo (all six rows: callers clamp the channel pointers, so the extra rows repeat the last real one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarTile<T, TN>(float* img, nint plane, int wp, int c, int kh, int kw,
        float* w0, float* w1, float* w2, float* w3, float* w4, float* w5, float* output, nint ldo)
        where T : struct, IConvLanes<T> where TN : struct, IVectorCount
    {
        int l = T.Count;
        T a00 = T.Zero, a01 = T.Zero, a02 = T.Zero, a03 = T.Zero, a10 = T.Zero, a11 = T.Zero, a12 = T.Zero, a13 = T.Zero;
        T a20 = T.Zero, a21 = T.Zero, a22 = T.Zero, a23 = T.Zero, a30 = T.Zero, a31 = T.Zero, a32 = T.Zero, a33 = T.Zero;
        T a40 = T.Zero, a41 = T.Zero, a42 = T.Zero, a43 = T.Zero, a50 = T.Zero, a51 = T.Zero, a52 = T.Zero, a53 = T.Zero;
        nint t = 0;
        for (int ci = 0; ci < c; ci++)
            for (int ky = 0; ky < kh; ky++)
            {
                float* q = img + ci * plane + (nint)ky * wp;
                for (int kx = 0; kx < kw; kx++, t++, q++)
                {
                    T x0 = T.Load(q), x1 = TN.N > 1 ? T.Load(q + l) : T.Zero;
                    T x2 = TN.N > 2 ? T.Load(q + 2 * l) : T.Zero, x3 = TN.N > 3 ? T.Load(q + 3 * l) : T.Zero;
                    T b = T.Splat(w0[t]);
                    a00 = T.Fma(b, x0, a00);
                    if (TN.N > 1) a01 = T.Fma(b, x1, a01);
                    if (TN.N > 2) a02 = T.Fma(b, x2, a02);
                    if (TN.N > 3) a03 = T.Fma(b, x3, a03);
                    b = T.Splat(w1[t]);
                    a10 = T.Fma(b, x0, a10);
                    if (TN.N > 1) a11 = T.Fma(b, x1, a11);
                    if (TN.N > 2) a12 = T.Fma(b, x2, a12);
                    if (TN.N > 3) a13 = T.Fma(b, x3, a13);
                    b = T.Splat(w2[t]);
                    a20 = T.Fma(b, x0, a20);
                    if (TN.N > 1) a21 = T.Fma(b, x1, a21);
                    if (TN.N > 2) a22 = T.Fma(b, x2, a22);
                    if (TN.N > 3) a23 = T.Fma(b, x3, a23);
                    b = T.Splat(w3[t]);
                    a30 = T.Fma(b, x0, a30);
                    if (TN.N > 1) a31 = T.Fma(b, x1, a31);
                    if (TN.N > 2) a32 = T.Fma(b, x2, a32);
                    if (TN.N > 3) a33 = T.Fma(b, x3, a33);
                    b = T.Splat(w4[t]);
                    a40 = T.Fma(b, x0, a40);
                    if (TN.N > 1) a41 = T.Fma(b, x1, a41);
                    if (TN.N > 2) a42 = T.Fma(b, x2, a42);
                    if (TN.N > 3) a43 = T.Fma(b, x3, a43);
                    b = T.Splat(w5[t]);
                    a50 = T.Fma(b, x0, a50);
                    if (TN.N > 1) a51 = T.Fma(b, x1, a51);
                    if (TN.N > 2) a52 = T.Fma(b, x2, a52);
                    if (TN.N > 3) a53 = T.Fma(b, x3, a53);
                }
            }
        StoreVectors<T, TN>(output, a00, a01, a02, a03);
        StoreVectors<T, TN>(output + ldo, a10, a11, a12, a13);
        StoreVectors<T, TN>(output + 2 * ldo, a20, a21, a22, a23);
        StoreVectors<T, TN>(output + 3 * ldo, a30, a31, a32, a33);
        StoreVectors<T, TN>(output + 4 * ldo, a40, a41, a42, a43);
        StoreVectors<T, TN>(output + 5 * ldo, a50, a51, a52, a53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVectors<T, TN>(float* p, T v0, T v1, T v2, T v3) where T : struct, IConvLanes<T> where TN : struct, IVectorCount
    {
        int l = T.Count;
        T.Store(p, v0);
        if (TN.N > 1) T.Store(p + l, v1);
        if (TN.N > 2) T.Store(p + 2 * l, v2);
        if (TN.N > 3) T.Store(p + 3 * l, v3);
    }

    /// <summary>Planar weight gradient: dw and db (db may be null), overwritten.</summary>
    private static void PlanarBackwardWeights(float* dw, float* db, float* dz, float* x, int batch, in Conv2DShape s)
    {
        var job = new PlanarJob { Src = x, Dz = dz };
        PlanarBackwardWeights<Identity>(&job, dw, db, batch, s);
    }

    /// <summary>The planar weight gradient of a job whose Src and Dz (and, behind a pooling, Index, Pooled and the pooling's
    /// geometry) are set: dw and db (db may be null), overwritten.</summary>
    private static void PlanarBackwardWeights<TAct>(PlanarJob* job, float* dw, float* db, int batch, in Conv2DShape s)
        where TAct : struct, IActivation
    {
        int lanes = Lanes(), f = s.Filters, taps = s.InChannels * s.KernelHeight * s.KernelWidth;
        job->Batch = batch;
        job->Groups = Math.Min(batch, MaxGroups);
        PlanarGeometry(job, s.InHeight, s.InWidth, s.InChannels, s.PadTop, s.PadLeft, s.KernelHeight, s.KernelWidth,
            f, s.OutHeight, s.OutWidth, lanes);
        nint partial = (nint)f * taps * lanes, dbPartial = (nint)f * lanes;
        job->Partial = ConvScratch.Get(0, job->Groups * (partial + dbPartial));
        job->DbPartial = job->Partial + job->Groups * partial;
        delegate*<void*, int, void> part = Gemm.Isa == KernelIsa.Vector512 ? &PlanarWeightsGroup<ConvLanes512, TAct> : &PlanarWeightsGroup<ConvLanes256, TAct>;
        Run(part, job, job->Groups, s.MultiplyAdds * batch);
        // Groups in order into group 0, then each lane vector summed in a fixed order.
        float* p0 = job->Partial;
        for (int g = 1; g < job->Groups; g++)
        {
            AddInto(p0, job->Partial + g * partial, partial);
            AddInto(job->DbPartial, job->DbPartial + g * dbPartial, dbPartial);
        }
        if (Gemm.Isa == KernelIsa.Vector512) LaneSums<ConvLanes512>(dw, db, p0, job->DbPartial, f, taps);
        else LaneSums<ConvLanes256>(dw, db, p0, job->DbPartial, f, taps);
    }

    private static void LaneSums<T>(float* dw, float* db, float* partial, float* dbPartial, int f, int taps) where T : struct, IConvLanes<T>
    {
        int l = T.Count;
        for (nint i = 0; i < (nint)f * taps; i++) dw[i] = T.Sum(T.Load(partial + i * l));
        if (db != null)
            for (int i = 0; i < f; i++) db[i] = T.Sum(T.Load(dbPartial + i * l));
    }

    /// <summary>One sample group of the planar weight gradient: its samples in order, each placed planar (x) and
    /// transposed planar (dz, zero at the dropped columns), then every (6 filters × 4 taps) tile reduced over the pixel
    /// vectors and added to the group's per-lane partials.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarWeightsGroup<T, TAct>(void* argument, int g) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        PlanarJob* j = (PlanarJob*)argument;
        int lanes = T.Count, f = j->F, c = j->C, kh = j->KH, kw = j->KW, oh = j->OH, ow = j->OW, wp = j->Wp;
        int taps = c * kh * kw, vectors = j->Pixels / lanes;
        nint plane = j->Plane;
        int lo = (int)((long)j->Batch * g / j->Groups), hi = (int)((long)j->Batch * (g + 1) / j->Groups);
        float* part = j->Partial + g * (nint)f * taps * lanes;
        float* dbp = j->DbPartial + g * (nint)f * lanes;
        new Span<float>(part, f * taps * lanes).Clear();
        new Span<float>(dbp, f * lanes).Clear();
        nint pooledSize = j->Index == null ? 0 : ScatterScratch(j->POW * f, j->POH * j->POW * f);
        float* img = ConvScratch.Get(1, c * plane + (nint)f * j->Pixels + pooledSize);
        float* dzp = img + c * plane;
        nint* off = stackalloc nint[taps + PlanarTaps];
        for (int t = 0; t < taps; t++)
        {
            int ci = t / (kh * kw), r = t - ci * kh * kw, ky = r / kw, kx = r - ky * kw;
            off[t] = ci * plane + (nint)ky * wp + kx;
        }
        for (int t = taps; t < taps + PlanarTaps; t++) off[t] = off[taps - 1];
        new Span<float>(dzp, f * j->Pixels).Clear();
        for (int n = lo; n < hi; n++)
        {
            PlacePlanar(j, n, img);
            float* d = j->Dz + (nint)n * oh * ow * f;
            if (j->Index != null)
            {
                // Behind a max pooling: dz is dL/d(pooled) · f'(pooled) at each window's maximum, zero elsewhere.
                new Span<float>(dzp, f * j->Pixels).Clear();
                ScatterPooled<TAct>(j, n, dzp, dzp + (nint)f * j->Pixels);
            }
            else if (CanTranspose(f))
            {
                TransposeTable table = Table(f);
                for (int oy = 0; oy < oh; oy++) ToPlanar(table, d + (nint)oy * ow * f, ow, f, dzp + (nint)oy * wp, j->Pixels);
            }
            else
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++, d += f)
                    {
                        float* dst = dzp + (nint)oy * wp + ox;
                        for (int fi = 0; fi < f; fi++) dst[fi * (nint)j->Pixels] = d[fi];
                    }
            for (int f0 = 0; f0 < f; f0 += PlanarChannels)
            {
                int rows = Math.Min(PlanarChannels, f - f0);
                for (int t0 = 0; t0 < taps; t0 += PlanarTaps)
                    PlanarWeightsTile<T>(img, off + t0, dzp + f0 * (nint)j->Pixels, j->Pixels, rows, vectors,
                        part + ((nint)f0 * taps + t0) * lanes, (nint)taps * lanes, Math.Min(PlanarTaps, taps - t0));
                for (int i = 0; i < rows; i++)
                {
                    T sum = T.Load(dbp + (f0 + i) * lanes);
                    float* row = dzp + (f0 + i) * (nint)j->Pixels;
                    for (int v = 0; v < vectors; v++) sum = T.Add(sum, T.Load(row + v * lanes));
                    T.Store(dbp + (f0 + i) * lanes, sum);
                }
            }
        }
    }

    /// <summary>
    /// acc[i][t] = Σ over pixel vectors of dz_i[p] · img[p + off[t]] for 6 filters (rows past <paramref name="rows"/>
    /// repeat the last) × 4 taps (offsets past <paramref name="cols"/> repeat the last), added lane-wise to
    /// dst[i·ldd + t·lanes].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarWeightsTile<T>(float* img, nint* off, float* dz, nint ldz, int rows, int vectors, float* dst, nint ldd, int cols)
        where T : struct, IConvLanes<T>
    {
        int l = T.Count;
        float* q0 = img + off[0], q1 = img + off[1], q2 = img + off[2], q3 = img + off[3];
        float* d0 = dz, d1 = dz + Math.Min(1, rows - 1) * ldz, d2 = dz + Math.Min(2, rows - 1) * ldz;
        float* d3 = dz + Math.Min(3, rows - 1) * ldz, d4 = dz + Math.Min(4, rows - 1) * ldz, d5 = dz + Math.Min(5, rows - 1) * ldz;
        T a00 = T.Zero, a01 = T.Zero, a02 = T.Zero, a03 = T.Zero, a10 = T.Zero, a11 = T.Zero, a12 = T.Zero, a13 = T.Zero;
        T a20 = T.Zero, a21 = T.Zero, a22 = T.Zero, a23 = T.Zero, a30 = T.Zero, a31 = T.Zero, a32 = T.Zero, a33 = T.Zero;
        T a40 = T.Zero, a41 = T.Zero, a42 = T.Zero, a43 = T.Zero, a50 = T.Zero, a51 = T.Zero, a52 = T.Zero, a53 = T.Zero;
        for (nint p = 0, end = (nint)vectors * l; p < end; p += l)
        {
            T x0 = T.Load(q0 + p), x1 = T.Load(q1 + p), x2 = T.Load(q2 + p), x3 = T.Load(q3 + p);
            T g = T.Load(d0 + p);
            a00 = T.Fma(g, x0, a00); a01 = T.Fma(g, x1, a01); a02 = T.Fma(g, x2, a02); a03 = T.Fma(g, x3, a03);
            g = T.Load(d1 + p);
            a10 = T.Fma(g, x0, a10); a11 = T.Fma(g, x1, a11); a12 = T.Fma(g, x2, a12); a13 = T.Fma(g, x3, a13);
            g = T.Load(d2 + p);
            a20 = T.Fma(g, x0, a20); a21 = T.Fma(g, x1, a21); a22 = T.Fma(g, x2, a22); a23 = T.Fma(g, x3, a23);
            g = T.Load(d3 + p);
            a30 = T.Fma(g, x0, a30); a31 = T.Fma(g, x1, a31); a32 = T.Fma(g, x2, a32); a33 = T.Fma(g, x3, a33);
            g = T.Load(d4 + p);
            a40 = T.Fma(g, x0, a40); a41 = T.Fma(g, x1, a41); a42 = T.Fma(g, x2, a42); a43 = T.Fma(g, x3, a43);
            g = T.Load(d5 + p);
            a50 = T.Fma(g, x0, a50); a51 = T.Fma(g, x1, a51); a52 = T.Fma(g, x2, a52); a53 = T.Fma(g, x3, a53);
        }
        AddTaps(dst, l, cols, a00, a01, a02, a03);
        if (rows > 1) AddTaps(dst + ldd, l, cols, a10, a11, a12, a13);
        if (rows > 2) AddTaps(dst + 2 * ldd, l, cols, a20, a21, a22, a23);
        if (rows > 3) AddTaps(dst + 3 * ldd, l, cols, a30, a31, a32, a33);
        if (rows > 4) AddTaps(dst + 4 * ldd, l, cols, a40, a41, a42, a43);
        if (rows > 5) AddTaps(dst + 5 * ldd, l, cols, a50, a51, a52, a53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTaps<T>(float* dst, int l, int cols, T v0, T v1, T v2, T v3) where T : struct, IConvLanes<T>
    {
        T.Store(dst, T.Add(T.Load(dst), v0));
        if (cols > 1) T.Store(dst + l, T.Add(T.Load(dst + l), v1));
        if (cols > 2) T.Store(dst + 2 * l, T.Add(T.Load(dst + 2 * l), v2));
        if (cols > 3) T.Store(dst + 3 * l, T.Add(T.Load(dst + 3 * l), v3));
    }
}
