using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        FuseMaxPool && UsePlanarForward(s) && p.InHeight == s.OutHeight && p.InWidth == s.OutWidth && p.Channels == s.Filters
        && p.PadTop == 0 && p.PadLeft == 0 && p.StrideY == p.PoolHeight && p.StrideX == p.PoolWidth
        && p.PoolHeight * p.PoolWidth <= MaxPoolTaps
        && p.OutHeight > 0 && p.OutWidth > 0 && p.OutHeight * p.StrideY <= s.OutHeight && p.OutWidth * p.StrideX <= s.OutWidth;

    /// <summary>False runs the separate calls everywhere (benchmarks compare the two).</summary>
    internal static bool FuseMaxPool = true;

    /// <summary>Window taps of a fused pooling, at most (their offsets live on the stack).</summary>
    private const int MaxPoolTaps = 16;

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
        nint plane = j->Plane, weights = (nint)j->C * j->KH * j->KW;
        nint outPlane = j->Pixels + PlanarVectors * lanes;
        // The planar image, the tile rows, then one pooled row's window maxima and winning taps (from each window's
        // top-left pixel on; computed at every pixel of the window rows, read at the window starts).
        nint span = (nint)pow * pw + 2 * lanes;
        float* img = ConvScratch.Get(1, j->C * plane + PlanarChannels * outPlane + 2 * span);
        float* acc = img + j->C * plane;
        float* best = acc + PlanarChannels * outPlane, winner = best + span;
        int taps = ph * pw;
        int* tapPixel = stackalloc int[MaxPoolTaps]; // tap t's pixel offset in the convolution's output, row-major
        for (int t = 0; t < taps; t++) tapPixel[t] = t / pw * ow + t % pw;
        PlacePlanar(j, n, img);
        nint outOff = (nint)n * poh * pow * f;
        float* pooled = j->Y + outOff;
        int* index = j->Index + outOff;
        int vectors = j->Pixels / lanes;
        for (int f0 = 0; f0 < f; f0 += PlanarChannels)
        {
            int rows = Math.Min(PlanarChannels, f - f0);
            float* w0 = j->W + f0 * weights;
            float* w1 = j->W + (f0 + Math.Min(1, rows - 1)) * weights, w2 = j->W + (f0 + Math.Min(2, rows - 1)) * weights;
            float* w3 = j->W + (f0 + Math.Min(3, rows - 1)) * weights, w4 = j->W + (f0 + Math.Min(4, rows - 1)) * weights;
            float* w5 = j->W + (f0 + Math.Min(5, rows - 1)) * weights;
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
                // y[py, px, ch] = the first largest of the window (strictly greater replaces, taps in row order), as
                // Pooling.MaxForward, without a branch on the data: window maxima and winning taps for whole pixel
                // vectors of the window rows, then read at each window's start.
                float* o = pooled + ch;
                int* at = index + ch;
                for (int py = 0; py < poh; py++)
                {
                    float* r = row + (nint)py * ph * wp;
                    for (nint u = 0; u < (nint)pow * pw; u += lanes)
                    {
                        T m = T.Load(r + u), k = T.Zero;
                        for (int t = 1; t < taps; t++)
                        {
                            T value = T.Load(r + u + (nint)(t / pw) * wp + t % pw);
                            T greater = T.GreaterThan(value, m);
                            m = T.Select(greater, value, m);
                            k = T.Select(greater, T.Splat(t), k);
                        }
                        T.Store(best + u, m);
                        T.Store(winner + u, k);
                    }
                    int rowPixel = py * ph * ow;
                    for (int px = 0; px < pow; px++, o += f, at += f)
                    {
                        *o = best[px * pw];
                        *at = (rowPixel + px * pw + tapPixel[(int)winner[px * pw]]) * f + ch;
                    }
                }
            }
        }
    }

    /// <summary>Floats of scratch <see cref="ScatterPooled{TAct}"/> needs for a sample whose pooled rows hold
    /// <paramref name="rowValues"/> values and which has <paramref name="count"/> pooled values.</summary>
    private static nint ScatterScratch(int rowValues, int count) => count + 3 * (nint)rowValues + 8;

    /// <summary>Sample <paramref name="n"/>'s dz on the planar pitch of a fused weight gradient (dzp zero on entry):
    /// dzp[ch][(iy·Wp + ix)] = (0 + dL/d(pooled)) · f'(pooled) at each window's maximum (iy, ix), as
    /// <see cref="Pooling.MaxBackward"/> followed by <see cref="Activations.Backward{TAct}"/> would leave it.
    /// <paramref name="scratch"/> holds <see cref="ScatterScratch"/> floats.</summary>
    private static void ScatterPooled<TAct>(PlanarJob* j, int n, float* dzp, float* scratch) where TAct : struct, IActivation
    {
        int f = j->F, ow = j->OW, wp = j->Wp, ph = j->PH, pw = j->PW, poh = j->POH, pow = j->POW, taps = ph * pw;
        int count = poh * pow * f, rowValues = pow * f;
        nint pixels = j->Pixels, off = (nint)n * count;
        int* index = j->Index + off;
        float* values = scratch;
        PooledGradient<TAct>(values, j->Dz + off, j->Pooled + off, count);
        // For value o' = px·f + ch of a pooled row: its window's top-left offset in the sample's NHWC output (less the
        // row's), its window's top-left on the planar pitch (less the row's), and the planar address decoded for it.
        int* corner = (int*)(scratch + count), start = corner + rowValues, address = start + rowValues;
        for (int px = 0, o = 0; px < pow; px++)
            for (int ch = 0; ch < f; ch++, o++)
            {
                corner[o] = px * pw * f + ch;
                start[o] = (int)(ch * pixels) + px * pw;
            }
        // Tap t of a window: its offset in a sample's NHWC output and on the planar pitch.
        int* tapOffset = stackalloc int[MaxPoolTaps];
        int* tapPlanar = stackalloc int[MaxPoolTaps];
        for (int t = 0; t < taps; t++)
        {
            tapOffset[t] = (t / pw * ow + t % pw) * f;
            tapPlanar[t] = t / pw * wp + t % pw;
        }
        for (int py = 0; py < poh; py++, index += rowValues, values += rowValues)
        {
            int rowCorner = py * ph * ow * f, rowStart = py * ph * wp;
            // The window's tap whose offset the argmax holds, found without a branch on the data (a mispredicted branch
            // per window cost more than the whole weight gradient), eight values at a time.
            int o = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; o + 8 <= rowValues; o += 8)
                {
                    Vector256<int> rel = Vector256.Load(index + o) - Vector256.Load(corner + o) - Vector256.Create(rowCorner);
                    Vector256<int> at = Vector256.Load(start + o) + Vector256.Create(rowStart);
                    for (int t = 1; t < taps; t++)
                        at += Vector256.Equals(rel, Vector256.Create(tapOffset[t])) & Vector256.Create(tapPlanar[t]);
                    at.Store(address + o);
                }
            for (; o < rowValues; o++)
            {
                int rel = index[o] - corner[o] - rowCorner, at = start[o] + rowStart;
                for (int t = 1; t < taps; t++)
                {
                    bool hit = rel == tapOffset[t];
                    at += *(byte*)&hit * tapPlanar[t];
                }
                address[o] = at;
            }
            for (o = 0; o < rowValues; o++) dzp[address[o]] = values[o];
        }
    }

    /// <summary>dst[i] = (0 + dy[i]) · f'(y[i]) for i &lt; count, on whole vectors (no branch on the data).</summary>
    private static void PooledGradient<TAct>(float* dst, float* dy, float* y, int count) where TAct : struct, IActivation
    {
        int i = 0;
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            for (; i + 16 <= count; i += 16)
                ((Vector512<float>.Zero + Vector512.Load(dy + i)) * TAct.Derivative(Vector512.Load(y + i), default)).Store(dst + i);
        }
        else if (Gemm.Isa == KernelIsa.Vector256)
        {
            for (; i + 8 <= count; i += 8)
                ((Vector256<float>.Zero + Vector256.Load(dy + i)) * TAct.Derivative(Vector256.Load(y + i), default)).Store(dst + i);
        }
        for (; i < count; i++) dst[i] = (0f + dy[i]) * TAct.Derivative(y[i], 0f);
    }
}
