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
/// <para>Each function is the body of a thin generated kernel. The geometry cannot be built from literals inside the
/// kernel (<see cref="Conv2DShape"/>'s constructor validates and throws, which ILGPU rejects); the thin kernel takes it
/// as <c>SpecializedValue&lt;Conv2DShape&gt;</c> and passes <c>s.Value</c>, and ILGPU compiles one kernel per distinct
/// geometry with every bound and stride a constant. The batch is a variable.</para>
/// <para>Correctness first: forward and backward-data run a thread per output element, grid-stride
/// (<see cref="Launch.Elementwise"/> shapes, given by the <c>…Launch</c> methods here); backward-weights a group per
/// weight with a fixed-order tree. Every sum is taken in a fixed order, so results are deterministic, and nothing is
/// accumulated across launches (no atomics, no zeroing launch). A tuned version would run forward and backward-data as
/// implicit GEMMs on <see cref="Dense"/>'s 64×64 shared-memory tiles (M = batch·OH·OW, N = filters, K = C·KH·KW, the
/// im2col gather done while staging A), and backward-weights as one with K = batch·OH·OW.</para>
/// </remarks>
public static class Conv2D
{
    /// <summary><see cref="Forward{TAct}"/>: a thread per element of y[batch, OH, OW, F].</summary>
    public static KernelConfig ForwardLaunch(int batch, Conv2DShape s) => Launch.Elementwise((long)batch * s.OutSize);

    /// <summary><see cref="BackwardData"/>: a thread per element of dx[batch, H, W, C].</summary>
    public static KernelConfig BackwardDataLaunch(int batch, Conv2DShape s) => Launch.Elementwise((long)batch * s.InSize);

    /// <summary><see cref="BackwardWeights"/>: a group per element of dw[F, C, KH, KW] and of db[F] (grid-stride past
    /// <see cref="Launch.MaxElementwiseGroups"/>).</summary>
    public static KernelConfig BackwardWeightsLaunch(Conv2DShape s) => GroupSums.Launch(s.WeightSize + s.Filters);

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
            float v = b.Length > 0 ? acc + b[o] : acc; // UseBias = false passes an empty view
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
    /// dw[f, c, i, j] = Σ_{n,oy,ox} dz[n, oy, ox, f]·x[n, oy·sy − pt + i, ox·sx − pl + j, c] and db[f] = Σ_{n,oy,ox} dz[n, oy, ox, f].
    /// A group of <see cref="ReductionGroupSize"/> threads per element of dw (then of db), grid-stride over them: thread t
    /// adds pixels t, t + 256, … in order, then a shared-memory tree adds the 256 partial sums in a fixed order, so the
    /// result is deterministic. Overwritten, not accumulated. Launch: <see cref="BackwardWeightsLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BackwardWeights(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x, int batch, Conv2DShape s)
    {
        var shared = SharedMemory.Allocate<float>(ReductionGroupSize);
        int h = s.InHeight, wd = s.InWidth, ch = s.InChannels, kh = s.KernelHeight, kw = s.KernelWidth, f = s.Filters;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int weights = f * ch * kh * kw;
        int total = weights + f;
        int pixels = batch * oh * ow;
        int t = Group.IdxX;
        for (int e = Grid.IdxX; e < total; e += Grid.DimX)
        {
            float acc = 0f;
            if (e >= weights)
            {
                int fb = e - weights;
                for (int q = t; q < pixels; q += ReductionGroupSize) acc += dz[q * f + fb];
            }
            else
            {
                int j = e % kw, p = e / kw;
                int i = p % kh; p /= kh;
                int c = p % ch, o = p / ch;
                for (int q = t; q < pixels; q += ReductionGroupSize)
                {
                    int ox = q % ow, r = q / ow;
                    int oy = r % oh, n = r / oh;
                    int iy = oy * sy - pt + i, ix = ox * sx - pl + j;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                    acc += dz[q * f + o] * x[((n * h + iy) * wd + ix) * ch + c];
                }
            }
            float sum = GroupSums.Sum(shared, acc);
            if (t == 0)
            {
                if (e >= weights) { if (db.Length > 0) db[e - weights] = sum; }
                else dw[e] = sum;
            }
        }
    }

    /// <summary>Threads per group of <see cref="BackwardWeights"/> (and of the other group-per-sum kernels).</summary>
    public const int ReductionGroupSize = GroupSums.GroupSize;
}
