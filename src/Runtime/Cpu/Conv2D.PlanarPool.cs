using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// A convolution and the max pooling behind it as one pass over each sample (LeNet-5's conv1 and pool1). Where the planar
/// kernels run the convolution, a sample's output stays in the planar tile buffer (in L1) and is pooled from there, so
/// the convolution's NHWC output (1.2 MB at batch 64 for LeNet-5's conv1) is neither written by the convolution nor read
/// back by the pooling; the weight gradient builds each sample's dz straight from dL/d(pooled), the argmax and the
/// pooled values, so neither dL/d(conv output) nor the activation's derivative pass over it exist either.
/// </summary>
/// <remarks>
/// The results are those of the separate calls, bit for bit: the same tiles, bias and activation, the pooling's window
/// order and tie rule (the first of equal values wins, offsets as <see cref="Pooling.MaxForward"/> writes them), and the
/// same dz (dL/d(pooled) at each maximum times f' read from the output, zero elsewhere) reduced in the same order. Where
/// the planar kernels do not run the convolution, or the pooling's windows overlap, are padded or are not the whole
/// stride, the calls run one after the other through the convolution's own buffers.
/// </remarks>
public static unsafe partial class Conv2D
{
    /// <summary>Whether the fused pass runs: the planar kernels take the convolution and the pooling's windows tile its
    /// output without padding or overlap.</summary>
    private static bool FusesMaxPool(in Conv2DShape s, in Pool2DShape p) =>
        UsePlanarForward(s) && p.InHeight == s.OutHeight && p.InWidth == s.OutWidth && p.Channels == s.Filters
        && p.PadTop == 0 && p.PadLeft == 0 && p.StrideY == p.PoolHeight && p.StrideX == p.PoolWidth
        && p.OutHeight > 0 && p.OutWidth > 0 && p.OutHeight * p.StrideY <= s.OutHeight && p.OutWidth * p.StrideX <= s.OutWidth;

    /// <summary>
    /// pooled[batch, poh, pow, filters] = the max pooling <paramref name="p"/> of f(conv(x, w) + b), argmax as
    /// <see cref="Pooling.MaxForward"/> writes it. <paramref name="y"/> is the convolution's output [batch, oh, ow,
    /// filters]: written only when the two run separately (its contents are undefined afterwards).
    /// </summary>
    public static void ForwardMaxPool<TAct>(Span<float> pooled, Span<int> argmax, Span<float> y, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> b, int batch, in Conv2DShape s, in Pool2DShape p) where TAct : struct, IActivation
    {
        if (!FusesMaxPool(s, p))
        {
            Forward<TAct>(y, default, x, w, b, batch, s);
            Pooling.MaxForward(pooled, argmax, y, batch, p);
            return;
        }
        CheckBatch(batch);
        Need(x, (long)batch * s.InSize, nameof(x));
        Need(w, s.WeightSize, nameof(w));
        if (!b.IsEmpty) Need(b, s.Filters, nameof(b));
        Need(pooled, (long)batch * p.OutSize, nameof(pooled));
        if (argmax.Length < (long)batch * p.OutSize) Activations.ThrowShort(nameof(argmax));
        if (batch == 0) return;
        fixed (float* px = x, pw = w, pb = b, pp = pooled)
        fixed (int* pa = argmax)
        {
            var job = new PlanarJob { Src = px, W = pw, Bias = b.IsEmpty ? null : pb, Y = pp, Index = pa };
            PoolGeometry(&job, p);
            PlanarGeometry(&job, s.InHeight, s.InWidth, s.InChannels, s.PadTop, s.PadLeft, s.KernelHeight, s.KernelWidth,
                s.Filters, s.OutHeight, s.OutWidth, Lanes());
            delegate*<void*, int, void> part = Gemm.Isa == KernelIsa.Vector512 ? &PlanarPoolSample<ConvLanes512, TAct> : &PlanarPoolSample<ConvLanes256, TAct>;
            Run(part, &job, batch, s.MultiplyAdds * batch);
        }
    }

    /// <summary>
    /// The weight gradient of a convolution followed by <see cref="ForwardMaxPool{TAct}"/>: dw and db (db may be empty)
    /// from dL/d(pooled) <paramref name="dPooled"/>, the pooling's <paramref name="argmax"/> and <paramref name="pooled"/>
    /// output, overwritten. f' must be computable from the output (<see cref="IActivation.NeedsPreActivation"/> false).
    /// <paramref name="dy"/> receives dL/d(conv pre-activation) and <paramref name="y"/> is the convolution's output: both
    /// are used only when the calls run separately.
    /// </summary>
    public static void BackwardWeightsMaxPool<TAct>(Span<float> dw, Span<float> db, Span<float> dy, ReadOnlySpan<float> dPooled,
        ReadOnlySpan<int> argmax, ReadOnlySpan<float> pooled, ReadOnlySpan<float> y, ReadOnlySpan<float> x, int batch,
        in Conv2DShape s, in Pool2DShape p) where TAct : struct, IActivation
    {
        if (!FusesMaxPool(s, p) || TAct.NeedsPreActivation)
        {
            Pooling.MaxBackward(dy, dPooled, argmax, batch, p);
            Activations.Backward<TAct>(dy, y, default, batch * s.OutSize);
            BackwardWeights(dw, db, dy, x, batch, s);
            return;
        }
        CheckBatch(batch);
        Need(dw, s.WeightSize, nameof(dw));
        if (!db.IsEmpty) Need(db, s.Filters, nameof(db));
        Need(dPooled, (long)batch * p.OutSize, nameof(dPooled));
        Need(pooled, (long)batch * p.OutSize, nameof(pooled));
        if (argmax.Length < (long)batch * p.OutSize) Activations.ThrowShort(nameof(argmax));
        Need(x, (long)batch * s.InSize, nameof(x));
        if (batch == 0)
        {
            dw.Slice(0, s.WeightSize).Clear();
            if (!db.IsEmpty) db.Slice(0, s.Filters).Clear();
            return;
        }
        fixed (float* pdw = dw, pdb = db, pdp = dPooled, pp = pooled, px = x)
        fixed (int* pa = argmax)
        {
            var job = new PlanarJob { Src = px, Dz = pdp, Index = pa, Pooled = pp };
            PoolGeometry(&job, p);
            PlanarBackwardWeights<TAct>(&job, pdw, db.IsEmpty ? null : pdb, batch, s);
        }
    }

    private static void PoolGeometry(PlanarJob* j, in Pool2DShape p)
    {
        j->PH = p.PoolHeight; j->PW = p.PoolWidth; j->POH = p.OutHeight; j->POW = p.OutWidth;
    }

    /// <summary>One sample of the fused forward: the planar tiles, bias and activation as <see cref="PlanarSample"/>, then
    /// each channel's windows pooled from the planar rows into NHWC with their argmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarPoolSample<T, TAct>(void* argument, int n) where T : struct, IConvLanes<T> where TAct : struct, IActivation
    {
        PlanarJob* j = (PlanarJob*)argument;
        int lanes = T.Count, f = j->F, ow = j->OW, wp = j->Wp;
        int ph = j->PH, pw = j->PW, poh = j->POH, pow = j->POW;
        nint plane = j->Plane, taps = (nint)j->C * j->KH * j->KW;
        nint outPlane = j->Pixels + PlanarVectors * lanes;
        float* img = ConvScratch.Get(1, j->C * plane + PlanarChannels * outPlane);
        float* acc = img + j->C * plane;
        PlacePlanar(j, n, img);
        nint outOff = (nint)n * poh * pow * f;
        float* pooled = j->Y + outOff;
        int* index = j->Index + outOff;
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
            for (int i = 0; i < rows; i++)
            {
                int ch = f0 + i;
                T bias = T.Splat(j->Bias == null ? 0f : j->Bias[ch]);
                float* row = acc + i * outPlane;
                for (int u = 0; u < vectors; u++) T.Store(row + u * lanes, T.Apply<TAct>(T.Add(T.Load(row + u * lanes), bias)));
                // y[py, px, ch] = the first largest of the window (strictly greater replaces), as Pooling.MaxForward.
                float* o = pooled + ch;
                int* at = index + ch;
                for (int py = 0; py < poh; py++)
                    for (int px = 0; px < pow; px++, o += f, at += f)
                    {
                        int y0 = py * ph, x0 = px * pw;
                        float* q = row + (nint)y0 * wp + x0;
                        float best = q[0];
                        int by = 0, bx = 0;
                        for (int ty = 0; ty < ph; ty++)
                            for (int tx = 0; tx < pw; tx++)
                            {
                                float value = q[(nint)ty * wp + tx];
                                if (value > best) { best = value; by = ty; bx = tx; }
                            }
                        *o = best;
                        *at = ((y0 + by) * ow + x0 + bx) * f + ch;
                    }
            }
        }
    }

    /// <summary>Sample <paramref name="n"/>'s dz on the planar pitch of a fused weight gradient (dzp zero on entry):
    /// dzp[ch][(iy·Wp + ix)] = (0 + dL/d(pooled)) · f'(pooled) at each window's maximum (iy, ix), as
    /// <see cref="Pooling.MaxBackward"/> followed by <see cref="Activations.Backward{TAct}"/> would leave it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScatterPooled<TAct>(PlanarJob* j, int n, float* dzp) where TAct : struct, IActivation
    {
        int f = j->F, ow = j->OW, wp = j->Wp, ph = j->PH, pw = j->PW, poh = j->POH, pow = j->POW;
        nint pixels = j->Pixels, off = (nint)n * poh * pow * f;
        float* dp = j->Dz + off, pv = j->Pooled + off;
        int* index = j->Index + off;
        for (int py = 0, o = 0; py < poh; py++)
            for (int px = 0; px < pow; px++)
            {
                int y0 = py * ph, x0 = px * pw;
                for (int ch = 0; ch < f; ch++, o++)
                {
                    // The window's tap whose NHWC offset the argmax holds.
                    int a = index[o];
                    for (int ty = 0; ty < ph; ty++)
                        for (int tx = 0; tx < pw; tx++)
                            if (a == ((y0 + ty) * ow + x0 + tx) * f + ch)
                                dzp[ch * pixels + (nint)(y0 + ty) * wp + x0 + tx] = (0f + dp[o]) * TAct.Derivative(pv[o], 0f);
                }
            }
    }
}
