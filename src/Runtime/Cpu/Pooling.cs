namespace Compiled.CompilerServices;

/// <summary>
/// Pooling kernels over NHWC activations (<c>[batch, height, width, channels]</c>), vectorised along the channels;
/// the geometry is a <see cref="Pool2DShape"/>. Padded taps are skipped (max) or not counted (average).
/// </summary>
/// <remarks>
/// Samples are shared with the <see cref="Worker"/> when the work is large enough; every sample is computed by the same
/// instruction sequence whichever thread runs it, so results are bit-identical whatever the core count. The kernels
/// allocate nothing and are safe to call from any thread. Outputs must not overlap inputs.
/// </remarks>
public static unsafe class Pooling
{
    /// <summary>Elements below which the second core is not worth waking.</summary>
    private const long ParallelMinWork = 1 << 16;

    /// <summary>
    /// y[batch, oh, ow, c] = the largest x over each window; argmax[batch, oh, ow, c] receives the winning tap's offset
    /// within its input sample (<c>(iy·w + ix)·c + channel</c>; the first of equal values wins), for
    /// <see cref="MaxBackward"/>. A window with no tap inside the image gives 0 and −1. The generated code may view a
    /// slice of its float workspace as the int buffer (<c>MemoryMarshal.Cast&lt;float, int&gt;</c>).
    /// </summary>
    public static void MaxForward(Span<float> y, Span<int> argmax, ReadOnlySpan<float> x, int batch, in Pool2DShape s)
    {
        Check(batch);
        Conv2D.Need(y, (long)batch * s.OutSize, nameof(y));
        if (argmax.Length < (long)batch * s.OutSize) Activations.ThrowShort(nameof(argmax));
        Conv2D.Need(x, (long)batch * s.InSize, nameof(x));
        fixed (float* py = y, px = x)
        fixed (int* pa = argmax)
        {
            var job = new PoolJob { Y = py, X = px, Index = pa, S = s };
            Run(&job, batch, (long)batch * s.OutSize * s.PoolHeight * s.PoolWidth, Gemm.Isa switch
            {
                KernelIsa.Vector512 => &MaxSample<ConvLanes512>,
                KernelIsa.Vector256 => &MaxSample<ConvLanes256>,
                _ => &MaxSample<ConvLane1>,
            });
        }
    }

    /// <summary>dx[batch, h, w, c] = Σ of dy over the outputs whose maximum came from that input (overwritten).</summary>
    public static void MaxBackward(Span<float> dx, ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, int batch, in Pool2DShape s)
    {
        Check(batch);
        Conv2D.Need(dx, (long)batch * s.InSize, nameof(dx));
        Conv2D.Need(dy, (long)batch * s.OutSize, nameof(dy));
        if (argmax.Length < (long)batch * s.OutSize) Activations.ThrowShort(nameof(argmax));
        fixed (float* pdx = dx, pdy = dy)
        fixed (int* pa = argmax)
        {
            var job = new PoolJob { Y = pdy, X = pdx, Index = pa, S = s };
            // Windows that do not overlap (stride ≥ pool, MaxPool2D's default) own each input at most once: dx is
            // written once, window by window, as dy where the tap won and 0 elsewhere, instead of cleared and then
            // scattered one float at a time. Offsets are compared as floats, exact below 2²⁴.
            bool disjoint = s.StrideY >= s.PoolHeight && s.StrideX >= s.PoolWidth && s.InSize < 1 << 24;
            Run(&job, batch, (long)batch * s.InSize, !disjoint ? &MaxBackwardSample : Gemm.Isa switch
            {
                KernelIsa.Vector512 => &MaxBackwardDisjoint<ConvLanes512>,
                KernelIsa.Vector256 => &MaxBackwardDisjoint<ConvLanes256>,
                _ => &MaxBackwardSample,
            });
        }
    }

    /// <summary>y[batch, oh, ow, c] = the mean of x over each window's taps inside the image (padding not counted).</summary>
    public static void AvgForward(Span<float> y, ReadOnlySpan<float> x, int batch, in Pool2DShape s)
    {
        Check(batch);
        Conv2D.Need(y, (long)batch * s.OutSize, nameof(y));
        Conv2D.Need(x, (long)batch * s.InSize, nameof(x));
        fixed (float* py = y, px = x)
        {
            var job = new PoolJob { Y = py, X = px, S = s };
            Run(&job, batch, (long)batch * s.OutSize * s.PoolHeight * s.PoolWidth, Gemm.Isa switch
            {
                KernelIsa.Vector512 => &AvgSample<ConvLanes512>,
                KernelIsa.Vector256 => &AvgSample<ConvLanes256>,
                _ => &AvgSample<ConvLane1>,
            });
        }
    }

    /// <summary>dx[batch, h, w, c] = Σ over the windows containing that input of dy / (the window's tap count); overwritten.</summary>
    public static void AvgBackward(Span<float> dx, ReadOnlySpan<float> dy, int batch, in Pool2DShape s)
    {
        Check(batch);
        Conv2D.Need(dx, (long)batch * s.InSize, nameof(dx));
        Conv2D.Need(dy, (long)batch * s.OutSize, nameof(dy));
        fixed (float* pdx = dx, pdy = dy)
        {
            var job = new PoolJob { Y = pdy, X = pdx, S = s };
            Run(&job, batch, (long)batch * s.OutSize * s.PoolHeight * s.PoolWidth, Gemm.Isa switch
            {
                KernelIsa.Vector512 => &AvgBackwardSample<ConvLanes512>,
                KernelIsa.Vector256 => &AvgBackwardSample<ConvLanes256>,
                _ => &AvgBackwardSample<ConvLane1>,
            });
        }
    }

    /// <summary>y[batch, c] = the mean of x[batch, h, w, c] over the h·w pixels (pixels added in order, then scaled by 1/(h·w)).</summary>
    public static void GlobalAvgForward(Span<float> y, ReadOnlySpan<float> x, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        Conv2D.Need(y, (long)batch * c, nameof(y));
        Conv2D.Need(x, (long)batch * h * w * c, nameof(x));
        fixed (float* py = y, px = x)
        {
            var job = new PoolJob { Y = py, X = px, S = new Pool2DShape(h, w, c, h, w, 1, 1, 0, 0, 1, 1) };
            Run(&job, batch, (long)batch * h * w * c, Gemm.Isa switch
            {
                KernelIsa.Vector512 => &AvgSample<ConvLanes512>,
                KernelIsa.Vector256 => &AvgSample<ConvLanes256>,
                _ => &AvgSample<ConvLane1>,
            });
        }
    }

    /// <summary>dx[batch, h, w, c] = dy[batch, c] · 1/(h·w) (overwritten).</summary>
    public static void GlobalAvgBackward(Span<float> dx, ReadOnlySpan<float> dy, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        Conv2D.Need(dx, (long)batch * h * w * c, nameof(dx));
        Conv2D.Need(dy, (long)batch * c, nameof(dy));
        fixed (float* pdx = dx, pdy = dy)
        {
            var job = new PoolJob { Y = pdy, X = pdx, S = new Pool2DShape(h, w, c, h, w, 1, 1, 0, 0, 1, 1) };
            Run(&job, batch, (long)batch * h * w * c, Gemm.Isa switch
            {
                KernelIsa.Vector512 => &AvgBackwardSample<ConvLanes512>,
                KernelIsa.Vector256 => &AvgBackwardSample<ConvLanes256>,
                _ => &AvgBackwardSample<ConvLane1>,
            });
        }
    }

    /// <summary>The pooling call's operands: Y is the output side (y or dy), X the input side (x or dx).</summary>
    private struct PoolJob
    {
        public float* Y, X;
        public int* Index;
        public Pool2DShape S;
    }

    private static void Run(PoolJob* job, int batch, long work, delegate*<void*, int, void> part)
    {
        if (batch <= 0) return;
        if (work < ParallelMinWork) { for (int n = 0; n < batch; n++) part(job, n); return; }
        Conv2D.Run(part, job, batch, long.MaxValue);
    }

    /// <summary>The window of output (oy, ox) clipped to the image: rows [y0, y1), columns [x0, x1).</summary>
    private static void Window(in Pool2DShape s, int oy, int ox, out int y0, out int y1, out int x0, out int x1)
    {
        y0 = oy * s.StrideY - s.PadTop; y1 = Math.Min(y0 + s.PoolHeight, s.InHeight); y0 = Math.Max(y0, 0);
        x0 = ox * s.StrideX - s.PadLeft; x1 = Math.Min(x0 + s.PoolWidth, s.InWidth); x0 = Math.Max(x0, 0);
    }

    private static void MaxSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        PoolJob* j = (PoolJob*)argument;
        Pool2DShape s = j->S;
        int c = s.Channels, lanes = T.Count;
        float* x = j->X + (nint)n * s.InSize;
        float* y = j->Y + (nint)n * s.OutSize;
        int* index = j->Index + (nint)n * s.OutSize;
        T laneIndex = T.Indices;
        for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++, y += c, index += c)
            {
                Window(s, oy, ox, out int y0, out int y1, out int x0, out int x1);
                if (y0 >= y1 || x0 >= x1)
                {
                    new Span<float>(y, c).Clear();
                    new Span<int>(index, c).Fill(-1);
                    continue;
                }
                for (int c0 = 0; c0 < c; c0 += lanes)
                {
                    int count = c - c0;
                    int first = (y0 * s.InWidth + x0) * c + c0;
                    T best = T.LoadPart(x + first, count);
                    T at = T.Add(T.Splat(first), laneIndex);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                        {
                            int off = (iy * s.InWidth + ix) * c + c0;
                            T v = T.LoadPart(x + off, count);
                            T gt = T.GreaterThan(v, best);
                            best = T.Select(gt, v, best);
                            at = T.Select(gt, T.Add(T.Splat(off), laneIndex), at);
                        }
                    T.StorePart(y + c0, best, count);
                    T.StoreIntPart(index + c0, at, count);
                }
            }
    }

    private static void MaxBackwardSample(void* argument, int n)
    {
        PoolJob* j = (PoolJob*)argument;
        Pool2DShape s = j->S;
        float* dx = j->X + (nint)n * s.InSize;
        float* dy = j->Y + (nint)n * s.OutSize;
        int* index = j->Index + (nint)n * s.OutSize;
        new Span<float>(dx, s.InSize).Clear();
        int outSize = s.OutSize, inSize = s.InSize;
        for (int i = 0; i < outSize; i++)
        {
            int at = index[i];
            if ((uint)at < (uint)inSize) dx[at] += dy[i];
        }
    }

    /// <summary>
    /// One sample of the max pool's input gradient when windows do not overlap: dx is cleared, then every input tap of
    /// a window receives dy where argmax names it and 0 elsewhere (vectorised along the channels). Each input receives
    /// at most one dy, so the values are those of the scatter.
    /// </summary>
    private static void MaxBackwardDisjoint<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        PoolJob* j = (PoolJob*)argument;
        Pool2DShape s = j->S;
        int c = s.Channels, lanes = T.Count, w = s.InWidth;
        float* dx = j->X + (nint)n * s.InSize;
        float* dy = j->Y + (nint)n * s.OutSize;
        int* index = j->Index + (nint)n * s.OutSize;
        // Cleared first, although the windows then write every input they cover: a large clear streams whole cache
        // lines without reading them (rep stos), where the window stores alone would first fetch every line they write
        // (the MNIST CNN's first pool: 67-85 against 52-75 µs for 16 samples on one core); the window stores then hit
        // lines already in cache.
        new Span<float>(dx, s.InSize).Clear();
        T laneIndex = T.Indices;
        for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++, dy += c, index += c)
            {
                Window(s, oy, ox, out int y0, out int y1, out int x0, out int x1);
                for (int c0 = 0; c0 < c; c0 += lanes)
                {
                    int count = c - c0;
                    T g = T.LoadPart(dy + c0, count);
                    T at = T.LoadIntPart(index + c0, count);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                        {
                            int off = (iy * w + ix) * c + c0;
                            T hit = T.Equal(at, T.Add(T.Splat(off), laneIndex));
                            T.StorePart(dx + off, T.Select(hit, g, T.Zero), count);
                        }
                }
            }
    }

    private static void AvgSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        PoolJob* j = (PoolJob*)argument;
        Pool2DShape s = j->S;
        int c = s.Channels, lanes = T.Count;
        float* x = j->X + (nint)n * s.InSize;
        float* y = j->Y + (nint)n * s.OutSize;
        for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++, y += c)
            {
                Window(s, oy, ox, out int y0, out int y1, out int x0, out int x1);
                int taps = Math.Max(y1 - y0, 0) * Math.Max(x1 - x0, 0);
                T scale = T.Splat(taps == 0 ? 0f : 1f / taps);
                for (int c0 = 0; c0 < c; c0 += lanes)
                {
                    int count = c - c0;
                    T sum = T.Zero;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            sum = T.Add(sum, T.LoadPart(x + (iy * s.InWidth + ix) * c + c0, count));
                    T.StorePart(y + c0, T.Mul(sum, scale), count);
                }
            }
    }

    private static void AvgBackwardSample<T>(void* argument, int n) where T : struct, IConvLanes<T>
    {
        PoolJob* j = (PoolJob*)argument;
        Pool2DShape s = j->S;
        int c = s.Channels, lanes = T.Count;
        float* dx = j->X + (nint)n * s.InSize;
        float* dy = j->Y + (nint)n * s.OutSize;
        new Span<float>(dx, s.InSize).Clear();
        for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++, dy += c)
            {
                Window(s, oy, ox, out int y0, out int y1, out int x0, out int x1);
                int taps = Math.Max(y1 - y0, 0) * Math.Max(x1 - x0, 0);
                if (taps == 0) continue;
                T scale = T.Splat(1f / taps);
                for (int c0 = 0; c0 < c; c0 += lanes)
                {
                    int count = c - c0;
                    T g = T.Mul(T.LoadPart(dy + c0, count), scale);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                        {
                            float* d = dx + (iy * s.InWidth + ix) * c + c0;
                            T.StorePart(d, T.Add(T.LoadPart(d, count), g), count);
                        }
                }
            }
    }

    private static void Check(int batch)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), "The batch must not be negative.");
    }

    private static void Check(int batch, int h, int w, int c)
    {
        Check(batch);
        if (h <= 0 || w <= 0 || c <= 0) throw new ArgumentOutOfRangeException(h <= 0 ? nameof(h) : w <= 0 ? nameof(w) : nameof(c), "Sizes must be positive.");
    }
}
