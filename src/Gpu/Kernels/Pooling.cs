using System.Runtime.CompilerServices;
using Compiled.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Pooling's device functions over NHWC activations, the GPU forms of <c>Compiled.CompilerServices.Pooling</c> with the
/// same argument order: max pooling (saving the arg-max for the backward pass), average pooling (padded taps not
/// counted, as Keras and PyTorch's <c>count_include_pad=False</c>) and global average pooling.
/// </summary>
/// <remarks>
/// <para>A thread per output element of each pass, grid-stride (<see cref="Launch.Elementwise"/> shapes, given by the
/// <c>…Launch</c> methods). The backward passes gather rather than scatter: a thread per input element adds the
/// gradients of the windows that cover it, in a fixed order, so overlapping windows need no atomics and the results
/// are deterministic. A tuned version would stage an input tile per group in shared memory; these passes are
/// memory-bound and already read each element a handful of times.</para>
/// <para>Arg-max indices are PyTorch's: <c>iy·InWidth + ix</c> within the sample's channel plane (an
/// <c>ArrayView&lt;int&gt;</c> of [batch, OH, OW, C]; a float arena can lend one with <c>Cast&lt;int&gt;()</c>). Ties
/// keep the first maximum in (i, j) order and a NaN wins, as PyTorch; a window with no tap inside the image (impossible
/// with Keras padding) gives 0 and index −1.</para>
/// </remarks>
public static class Pooling
{
    /// <summary>The forward passes: a thread per element of y[batch, OH, OW, C].</summary>
    public static KernelConfig ForwardLaunch(int batch, Pool2DShape s) => Launch.Elementwise((long)batch * s.OutSize);

    /// <summary>The backward passes: a thread per element of dx[batch, H, W, C].</summary>
    public static KernelConfig BackwardLaunch(int batch, Pool2DShape s) => Launch.Elementwise((long)batch * s.InSize);

    /// <summary><see cref="GlobalAverageForward"/>: a thread per element of y[batch, C].</summary>
    public static KernelConfig GlobalAverageForwardLaunch(int batch, int channels) => Launch.Elementwise((long)batch * channels);

    /// <summary><see cref="GlobalAverageBackward"/>: a thread per element of dx[batch, H, W, C].</summary>
    public static KernelConfig GlobalAverageBackwardLaunch(int batch, int height, int width, int channels) =>
        Launch.Elementwise((long)batch * height * width * channels);

    /// <summary>
    /// y[n, oy, ox, c] = max over the window's taps inside the image of x[n, iy, ix, c]; argmax receives iy·W + ix.
    /// Launch: <see cref="ForwardLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaxForward(ArrayView<float> y, ArrayView<int> argmax, ArrayView<float> x, int batch, Pool2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.Channels, ph = s.PoolHeight, pw = s.PoolWidth;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int total = batch * oh * ow * ch;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % ch, p = e / ch;
            int ox = p % ow; p /= ow;
            int oy = p % oh, n = p / oh;
            int iy0 = oy * sy - pt, ix0 = ox * sx - pl;
            float best = float.NegativeInfinity;
            int at = -1;
            for (int i = 0; i < ph; i++)
            {
                int iy = iy0 + i;
                if (iy < 0 || iy >= h) continue;
                for (int j = 0; j < pw; j++)
                {
                    int ix = ix0 + j;
                    if (ix < 0 || ix >= wd) continue;
                    float v = x[((n * h + iy) * wd + ix) * ch + c];
                    if (at < 0 || v > best || float.IsNaN(v) && !float.IsNaN(best))
                    {
                        best = v;
                        at = iy * wd + ix;
                    }
                }
            }
            y[e] = at < 0 ? 0f : best;
            argmax[e] = at;
        }
    }

    /// <summary>
    /// dx[n, iy, ix, c] = Σ dy[n, oy, ox, c] over the windows that cover (iy, ix) and chose it as their maximum
    /// (argmax = iy·W + ix). Overwritten, not accumulated. Launch: <see cref="BackwardLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaxBackward(ArrayView<float> dx, ArrayView<float> dy, ArrayView<int> argmax, int batch, Pool2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.Channels, ph = s.PoolHeight, pw = s.PoolWidth;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int total = batch * h * wd * ch;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % ch, p = e / ch;
            int ix = p % wd; p /= wd;
            int iy = p % h, n = p / h;
            int self = iy * wd + ix;
            float acc = 0f;
            for (int i = 0; i < ph; i++)
            {
                int ty = iy + pt - i;
                if (ty < 0 || ty % sy != 0) continue;
                int oy = ty / sy;
                if (oy >= oh) continue;
                for (int j = 0; j < pw; j++)
                {
                    int tx = ix + pl - j;
                    if (tx < 0 || tx % sx != 0) continue;
                    int ox = tx / sx;
                    if (ox >= ow) continue;
                    int o = ((n * oh + oy) * ow + ox) * ch + c;
                    if (argmax[o] == self) acc += dy[o];
                }
            }
            dx[e] = acc;
        }
    }

    /// <summary>
    /// y[n, oy, ox, c] = the mean of x[n, iy, ix, c] over the window's taps inside the image (padding not counted).
    /// Launch: <see cref="ForwardLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AvgForward(ArrayView<float> y, ArrayView<float> x, int batch, Pool2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.Channels, ph = s.PoolHeight, pw = s.PoolWidth;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int total = batch * oh * ow * ch;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % ch, p = e / ch;
            int ox = p % ow; p /= ow;
            int oy = p % oh, n = p / oh;
            int iy0 = oy * sy - pt, ix0 = ox * sx - pl;
            float sum = 0f;
            for (int i = 0; i < ph; i++)
            {
                int iy = iy0 + i;
                if (iy < 0 || iy >= h) continue;
                for (int j = 0; j < pw; j++)
                {
                    int ix = ix0 + j;
                    if (ix < 0 || ix >= wd) continue;
                    sum += x[((n * h + iy) * wd + ix) * ch + c];
                }
            }
            int count = Taps(iy0, ph, h) * Taps(ix0, pw, wd);
            y[e] = count > 0 ? sum / count : 0f;
        }
    }

    /// <summary>
    /// dx[n, iy, ix, c] = Σ dy[n, oy, ox, c] / taps(oy, ox) over the windows that cover (iy, ix), taps being the window's
    /// count of in-image taps. Overwritten, not accumulated. Launch: <see cref="BackwardLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AvgBackward(ArrayView<float> dx, ArrayView<float> dy, int batch, Pool2DShape s)
    {
        int h = s.InHeight, wd = s.InWidth, ch = s.Channels, ph = s.PoolHeight, pw = s.PoolWidth;
        int oh = s.OutHeight, ow = s.OutWidth, sy = s.StrideY, sx = s.StrideX, pt = s.PadTop, pl = s.PadLeft;
        int total = batch * h * wd * ch;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % ch, p = e / ch;
            int ix = p % wd; p /= wd;
            int iy = p % h, n = p / h;
            float acc = 0f;
            for (int i = 0; i < ph; i++)
            {
                int ty = iy + pt - i;
                if (ty < 0 || ty % sy != 0) continue;
                int oy = ty / sy;
                if (oy >= oh) continue;
                int rows = Taps(ty - pt, ph, h);
                for (int j = 0; j < pw; j++)
                {
                    int tx = ix + pl - j;
                    if (tx < 0 || tx % sx != 0) continue;
                    int ox = tx / sx;
                    if (ox >= ow) continue;
                    acc += dy[((n * oh + oy) * ow + ox) * ch + c] / (rows * Taps(tx - pl, pw, wd));
                }
            }
            dx[e] = acc;
        }
    }

    /// <summary>y[n, c] = the mean of x[n, ·, ·, c] over the height·width pixels. Launch: <see cref="GlobalAverageForwardLaunch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GlobalAverageForward(ArrayView<float> y, ArrayView<float> x, int batch, int height, int width, int channels)
    {
        int pixels = height * width;
        int total = batch * channels;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % channels, n = e / channels;
            int o = n * pixels * channels + c;
            float sum = 0f;
            for (int q = 0; q < pixels; q++) sum += x[o + q * channels];
            y[e] = sum / pixels;
        }
    }

    /// <summary>dx[n, iy, ix, c] = dy[n, c] / (height·width). Launch: <see cref="GlobalAverageBackwardLaunch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GlobalAverageBackward(ArrayView<float> dx, ArrayView<float> dy, int batch, int height, int width, int channels)
    {
        int pixels = height * width;
        int total = batch * pixels * channels;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % channels, n = e / (pixels * channels);
            dx[e] = dy[n * channels + c] / pixels;
        }
    }

    /// <summary>The taps of a window starting at <paramref name="start"/> (possibly negative) of <paramref name="size"/> that fall in [0, extent).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Taps(int start, int size, int extent)
    {
        int lo = start < 0 ? 0 : start;
        int hi = start + size > extent ? extent : start + size;
        return hi > lo ? hi - lo : 0;
    }
}
