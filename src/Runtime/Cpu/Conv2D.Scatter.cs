using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

public static unsafe partial class Conv2D
{
    /// <summary>
    /// The input gradient in scatter form, for inputs with enough channels to fill a panel: for every tap (ky, kx),
    /// dcol[pixel, c] = Σ_f dz[pixel, f]·w[f, c, ky, kx] is an (output pixels × filters) · (filters × channels) product,
    /// and each row is added into dx at the input pixel that tap reached, (oy·sy − pad + ky, ox·sx − pad + kx), skipped
    /// where that falls in the padding. Only real multiply-adds run: the gather form (a convolution of dz dilated by
    /// the stride and padded by kernel − 1 − pad) multiplied the zero border and the dilation's zeros too, a third of
    /// the work on the MNIST CNN's conv2 and more on small images and strides.
    /// </summary>
    /// <remarks>The weight is packed once per call as [kh·kw][⌈c/nr⌉][filters][nr] (channel panels, zero past c). Work
    /// is split by samples; each sample's dx is cleared, then receives the taps in order, so the sums do not depend on
    /// the core count.</remarks>
    private static void TapScatterBackwardData(float* dx, float* dz, float* w, int batch, in Conv2DShape s)
    {
        int nr = 2 * Lanes();
        int panels = (s.InChannels + nr - 1) / nr, taps = s.KernelHeight * s.KernelWidth;
        var job = new TapScatterJob { Dx = dx, Dz = dz, S = s, Nr = nr, Panels = panels };
        job.Packed = ConvScratch.Get(0, (nint)taps * panels * s.Filters * nr);
        var pack = new PackJob { Dst = job.Packed, W = w, Filters = s.Filters, C = s.InChannels, KH = s.KernelHeight, KW = s.KernelWidth, Nr = nr };
        Run(&PackTap, &pack, taps, (long)s.WeightSize * 16);
        delegate*<void*, int, void> part = Gemm.Isa switch
        {
            KernelIsa.Vector512 => &TapScatterSample<ConvLanes512>,
            KernelIsa.Vector256 => &TapScatterSample<ConvLanes256>,
            _ => &TapScatterSample<ConvLane1>,
        };
        Run(part, &job, batch, s.MultiplyAdds * batch);
    }

    private struct TapScatterJob
    {
        public float* Dx, Dz, Packed;
        public Conv2DShape S;
        public int Nr, Panels;
    }

    /// <summary>Packs tap t = ky·kw + kx of w[filters, c, kh, kw] as [⌈c/nr⌉][filters][nr], zero past the last channel.</summary>
    private static void PackTap(void* argument, int t)
    {
        PackJob* j = (PackJob*)argument;
        int c = j->C, f = j->Filters, nr = j->Nr, taps = j->KH * j->KW, panels = (c + nr - 1) / nr;
        float* d = j->Dst + (nint)t * panels * f * nr;
        for (int p = 0; p < panels; p++)
            for (int fi = 0; fi < f; fi++)
                for (int jj = 0; jj < nr; jj++, d++)
                {
                    int ci = p * nr + jj;
                    *d = ci < c ? j->W[((nint)fi * c + ci) * taps + t] : 0f;
                }
    }

    /// <summary>One sample of <see cref="TapScatterBackwardData"/>: dx cleared, then every tap × channel panel × block of
    /// 8 output pixels.</summary>
    private static void TapScatterSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        TapScatterJob* j = (TapScatterJob*)argument;
        Conv2DShape s = j->S;
        int c = s.InChannels, f = s.Filters, nr = j->Nr, ow = s.OutWidth, pixels = s.OutHeight * ow;
        int h = s.InHeight, wd = s.InWidth;
        float* dx = j->Dx + (nint)n * s.InSize;
        float* dz = j->Dz + (nint)n * s.OutSize;
        new Span<float>(dx, s.InSize).Clear();
        float** a = stackalloc float*[MR];
        float** d = stackalloc float*[MR];
        int* iy0 = stackalloc int[MR];
        int* ix0 = stackalloc int[MR];
        nint panel = (nint)f * nr;
        // Block of 8 output pixels outside, taps inside: the block's dz rows stay in L1 while the packed taps stream.
        // (oy, ox) of pixel m is stepped along the blocks: no division per pixel.
        for (int m = 0, oy = 0, ox = 0; m < pixels; m += MR)
        {
            int rows = Math.Min(MR, pixels - m);
            for (int i = 0; i < MR; i++)
            {
                int pm = m + Math.Min(i, rows - 1);
                a[i] = dz + (nint)pm * f;
                if (i >= rows) { iy0[i] = int.MinValue / 2; continue; } // never inside
                iy0[i] = oy * s.StrideY - s.PadTop;
                ix0[i] = ox * s.StrideX - s.PadLeft;
                if (++ox == ow) { ox = 0; oy++; }
            }
            float* bp = j->Packed;
            for (int ky = 0; ky < s.KernelHeight; ky++)
                for (int kx = 0; kx < s.KernelWidth; kx++)
                    for (int p = 0; p < j->Panels; p++, bp += panel)
                    {
                        int c0 = p * nr, hits = 0;
                        for (int i = 0; i < MR; i++)
                        {
                            int iy = iy0[i] + ky, ix = ix0[i] + kx;
                            bool inside = (uint)iy < (uint)h && (uint)ix < (uint)wd;
                            d[i] = inside ? dx + ((nint)iy * wd + ix) * c + c0 : null;
                            if (inside) hits++;
                        }
                        if (hits != 0) TapScatterTile<T>(a, bp, f, d, Math.Min(nr, c - c0));
                    }
        }
    }

    /// <summary>
    /// An 8-pixel × 2-vector tile of dcol = dz · w_tap: acc[i] = Σ_k a_i[k]·panel[k] over <paramref name="k"/> filters,
    /// then added into the first <paramref name="cols"/> floats at d[i] (rows whose d is null are dropped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapScatterTile<T>(float** a, float* bp, int k, float** d, int cols) where T : struct, IConvLanes<T>
    {
        int w = T.Count;
        float* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7];
        T c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero, c30 = T.Zero, c31 = T.Zero;
        T c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero, c60 = T.Zero, c61 = T.Zero, c70 = T.Zero, c71 = T.Zero;
        for (nint off = 0; off < k; off++)
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
        AddRow(d[0], c00, c01, cols);
        AddRow(d[1], c10, c11, cols);
        AddRow(d[2], c20, c21, cols);
        AddRow(d[3], c30, c31, cols);
        AddRow(d[4], c40, c41, cols);
        AddRow(d[5], c50, c51, cols);
        AddRow(d[6], c60, c61, cols);
        AddRow(d[7], c70, c71, cols);
    }

    /// <summary>dst[0 .. cols) += (v0, v1) unless dst is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<T>(float* dst, T v0, T v1, int cols) where T : struct, IConvLanes<T>
    {
        if (dst == null) return;
        int w = T.Count;
        if (cols == 2 * w)
        {
            T.Store(dst, T.Add(T.Load(dst), v0));
            T.Store(dst + w, T.Add(T.Load(dst + w), v1));
            return;
        }
        T.StorePart(dst, T.Add(T.LoadPart(dst, cols), v0), cols);
        T.StorePart(dst + w, T.Add(T.LoadPart(dst + w, cols - w), v1), cols - w);
    }
}
