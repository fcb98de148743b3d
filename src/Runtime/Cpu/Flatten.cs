namespace Compiled.CompilerServices;

/// <summary>
/// Flattens NHWC activations into rows in PyTorch's (channels, height, width) order, so the Dense layer after it has
/// PyTorch's weight layout and a checkpoint loads in PyTorch unchanged. A pure permutation: no arithmetic, any thread.
/// </summary>
/// <remarks>Samples are shared with the <see cref="Worker"/> when the batch is large enough (the MNIST CNN's 64 × 1600
/// floats took 0.07 ms each way on one core); a permutation gives the same bits on any core.</remarks>
public static unsafe class Flatten
{
    /// <summary>Floats below which the second core is not worth waking.</summary>
    private const long ParallelMinWork = 1 << 15;

    /// <summary>y[batch, c·h·w] with y[n, (ch·h + iy)·w + ix] = x[n, iy, ix, ch] (x is [batch, h, w, c]).</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        long size = (long)h * w * c;
        Conv2D.Need(y, batch * size, nameof(y));
        Conv2D.Need(x, batch * size, nameof(x));
        fixed (float* py = y, px = x)
        {
            var job = new Job { Dst = py, Src = px, Pixels = h * w, C = c };
            Run(&job, batch, &ForwardSample);
        }
    }

    /// <summary>The inverse permutation: dx[n, iy, ix, ch] = dy[n, (ch·h + iy)·w + ix] (overwritten).</summary>
    public static void Backward(Span<float> dx, ReadOnlySpan<float> dy, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        long size = (long)h * w * c;
        Conv2D.Need(dx, batch * size, nameof(dx));
        Conv2D.Need(dy, batch * size, nameof(dy));
        fixed (float* pdx = dx, pdy = dy)
        {
            var job = new Job { Dst = pdx, Src = pdy, Pixels = h * w, C = c };
            Run(&job, batch, &BackwardSample);
        }
    }

    private struct Job
    {
        public float* Dst, Src;
        public int Pixels, C;
    }

    private static void Run(Job* job, int batch, delegate*<void*, int, void> sample)
    {
        long work = (long)batch * job->Pixels * job->C;
        if (work < ParallelMinWork) { for (int n = 0; n < batch; n++) sample(job, n); return; }
        Conv2D.Run(sample, job, batch, long.MaxValue);
    }

    private static void ForwardSample(void* argument, int n)
    {
        Job* j = (Job*)argument;
        int pixels = j->Pixels, c = j->C;
        nint size = (nint)pixels * c;
        float* src = j->Src + n * size, dst = j->Dst + n * size;
        for (int p = 0; p < pixels; p++, src += c)
            for (int ch = 0; ch < c; ch++) dst[(nint)ch * pixels + p] = src[ch];
    }

    private static void BackwardSample(void* argument, int n)
    {
        Job* j = (Job*)argument;
        int pixels = j->Pixels, c = j->C;
        nint size = (nint)pixels * c;
        float* src = j->Src + n * size, dst = j->Dst + n * size;
        for (int p = 0; p < pixels; p++, dst += c)
            for (int ch = 0; ch < c; ch++) dst[ch] = src[(nint)ch * pixels + p];
    }

    private static void Check(int batch, int h, int w, int c)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), "The batch must not be negative.");
        if (h <= 0 || w <= 0 || c <= 0) throw new ArgumentOutOfRangeException(h <= 0 ? nameof(h) : w <= 0 ? nameof(w) : nameof(c), "Sizes must be positive.");
    }
}
