using System.Runtime.CompilerServices;
using Compiled.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// The 2-D convolution's device functions, the GPU forms of <c>Compiled.CompilerServices.Conv2D</c> with the same
/// argument order. Activations are NHWC (<c>[batch, height, width, channels]</c>), the weight PyTorch's OIHW
/// (<c>[filters, channels, kernelHeight, kernelWidth]</c>); output pixel (oy, ox) reads input
/// (oy·StrideY − PadTop + i, ox·StrideX − PadLeft + j), zeros outside the image (<see cref="Conv2DShape"/>).
/// </summary>
/// <remarks>
/// <para>Each function is the body of a thin generated kernel that passes the geometry as a <see cref="Conv2DShape"/>
/// built from literals, so after ILGPU inlines it every bound and stride is a constant; the batch is a variable.</para>
/// <para>Correctness first: a thread per output element, grid-stride loops (<see cref="Launch.Elementwise"/> shapes,
/// given by the <c>…Launch</c> methods here), each element's sum taken in a fixed order, so results are deterministic
/// and nothing is accumulated across threads (no atomics, no zeroing launch). A tuned version would run the forward
/// and backward-data passes as implicit GEMMs on <see cref="Dense"/>'s 64×64 shared-memory tiles (M = batch·OH·OW,
/// N = filters, K = C·KH·KW, the im2col gather done while staging A), and split backward-weights' long reduction
/// (batch·OH·OW) across a group with a shared-memory tree.</para>
/// </remarks>
public static class Conv2D
{
    /// <summary><see cref="Forward{TAct}"/>: a thread per element of y[batch, OH, OW, F].</summary>
    public static KernelConfig ForwardLaunch(int batch, Conv2DShape s) => Launch.Elementwise((long)batch * s.OutSize);

    /// <summary><see cref="BackwardData"/>: a thread per element of dx[batch, H, W, C].</summary>
    public static KernelConfig BackwardDataLaunch(int batch, Conv2DShape s) => Launch.Elementwise((long)batch * s.InSize);

    /// <summary><see cref="BackwardWeights"/>: a thread per element of dw[F, C, KH, KW], then one per element of db[F].</summary>
    public static KernelConfig BackwardWeightsLaunch(Conv2DShape s) => Launch.Elementwise((long)s.WeightSize + s.Filters);

    /// <summary>
    /// y[n, oy, ox, f] = act(z), z = b[f] + Σ_{c,i,j} x[n, oy·sy − pt + i, ox·sx − pl + j, c]·w[f, c, i, j]; z is stored too
    /// when <paramref name="storePreActivation"/> is set (GELU's backward reads it). Launch: <see cref="ForwardLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b,
        int batch, Conv2DShape s, bool storePreActivation) where TAct : struct, IGpuActivation
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int taps = kh * kw;
        int total = batch * oh * ow * f;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int o = e % f, p = e / f;
            int ox = p % ow; p /= ow;
            int oy = p % oh, n = p / oh;
            int iy0 = oy * sy - pt, ix0 = ox * sx - pl;
            float acc = 0f;
            for (int i = 0; i < kh; i++)
            {
                int iy = iy0 + i;
                if (iy < 0 || iy >= h) continue;
                for (int j = 0; j < kw; j++)
                {
                    int ix = ix0 + j;
                    if (ix < 0 || ix >= wd) continue;
                    int xo = ((n * h + iy) * wd + ix) * ch;
                    int wo = o * ch * taps + i * kw + j;
                    for (int c = 0; c < ch; c++) acc += x[xo + c] * w[wo + c * taps];
                }
            }
            float v = acc + b[o];
            if (storePreActivation) z[e] = v;
            y[e] = default(TAct).Apply(v);
        }
    }

    /// <summary>
    /// dx[n, iy, ix, c] = Σ dz[n, oy, ox, f]·w[f, c, i, j] over the outputs whose window reads (iy, ix) through tap (i, j):
    /// the input gradient, given dz (the gradient at this layer's pre-activation). Overwritten, not accumulated; the
    /// previous layer's activation derivative is the caller's (<see cref="Activations.Backward{TAct}"/>).
    /// Launch: <see cref="BackwardDataLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BackwardData(ArrayView<float> dx, ArrayView<float> dz, ArrayView<float> w, int batch, Conv2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int weightsPerFilter = ch * kh * kw;
        int total = batch * h * wd * ch;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % ch, p = e / ch;
            int ix = p % wd; p /= wd;
            int iy = p % h, n = p / h;
            float acc = 0f;
            for (int i = 0; i < kh; i++)
            {
                int ty = iy + pt - i; // = oy·sy
                if (ty < 0 || ty % sy != 0) continue;
                int oy = ty / sy;
                if (oy >= oh) continue;
                for (int j = 0; j < kw; j++)
                {
                    int tx = ix + pl - j;
                    if (tx < 0 || tx % sx != 0) continue;
                    int ox = tx / sx;
                    if (ox >= ow) continue;
                    int go = ((n * oh + oy) * ow + ox) * f;
                    int wo = (c * kh + i) * kw + j;
                    for (int o = 0; o < f; o++) acc += dz[go + o] * w[o * weightsPerFilter + wo];
                }
            }
            dx[e] = acc;
        }
    }

    /// <summary>
    /// dw[f, c, i, j] = Σ_{n,oy,ox} dz[n, oy, ox, f]·x[n, oy·sy − pt + i, ox·sx − pl + j, c] and db[f] = Σ_{n,oy,ox} dz[n, oy, ox, f],
    /// each summed in order (n, oy, ox) by one thread, so the result is deterministic. Overwritten, not accumulated.
    /// Launch: <see cref="BackwardWeightsLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BackwardWeights(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x, int batch, Conv2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int weights = f * ch * kh * kw;
        int total = weights + f;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            if (e >= weights)
            {
                int fb = e - weights;
                float sum = 0f;
                int pixels = batch * oh * ow;
                for (int q = 0; q < pixels; q++) sum += dz[q * f + fb];
                db[fb] = sum;
                continue;
            }
            int j = e % kw, p = e / kw;
            int i = p % kh; p /= kh;
            int c = p % ch, o = p / ch;
            float acc = 0f;
            for (int n = 0; n < batch; n++)
            {
                for (int oy = 0; oy < oh; oy++)
                {
                    int iy = oy * sy - pt + i;
                    if (iy < 0 || iy >= h) continue;
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int ix = ox * sx - pl + j;
                        if (ix < 0 || ix >= wd) continue;
                        acc += dz[((n * oh + oy) * ow + ox) * f + o] * x[((n * h + iy) * wd + ix) * ch + c];
                    }
                }
            }
            dw[e] = acc;
        }
    }
}
