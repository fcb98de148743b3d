namespace Compiled.CompilerServices;

/// <summary>
/// Flattens NHWC activations into rows in PyTorch's (channels, height, width) order, so the Dense layer after it has
/// PyTorch's weight layout and a checkpoint loads in PyTorch unchanged. A pure permutation: no arithmetic, any thread.
/// </summary>
public static unsafe class Flatten
{
    /// <summary>y[batch, c·h·w] with y[n, (ch·h + iy)·w + ix] = x[n, iy, ix, ch] (x is [batch, h, w, c]).</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        long size = (long)h * w * c;
        Conv2D.Need(y, batch * size, nameof(y));
        Conv2D.Need(x, batch * size, nameof(x));
        int pixels = h * w;
        fixed (float* py = y, px = x)
            for (int n = 0; n < batch; n++)
            {
                float* src = px + n * size, dst = py + n * size;
                for (int p = 0; p < pixels; p++, src += c)
                    for (int ch = 0; ch < c; ch++) dst[(nint)ch * pixels + p] = src[ch];
            }
    }

    /// <summary>The inverse permutation: dx[n, iy, ix, ch] = dy[n, (ch·h + iy)·w + ix] (overwritten).</summary>
    public static void Backward(Span<float> dx, ReadOnlySpan<float> dy, int batch, int h, int w, int c)
    {
        Check(batch, h, w, c);
        long size = (long)h * w * c;
        Conv2D.Need(dx, batch * size, nameof(dx));
        Conv2D.Need(dy, batch * size, nameof(dy));
        int pixels = h * w;
        fixed (float* pdx = dx, pdy = dy)
            for (int n = 0; n < batch; n++)
            {
                float* src = pdy + n * size, dst = pdx + n * size;
                for (int p = 0; p < pixels; p++, dst += c)
                    for (int ch = 0; ch < c; ch++) dst[ch] = src[(nint)ch * pixels + p];
            }
    }

    private static void Check(int batch, int h, int w, int c)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), "The batch must not be negative.");
        if (h <= 0 || w <= 0 || c <= 0) throw new ArgumentOutOfRangeException(h <= 0 ? nameof(h) : w <= 0 ? nameof(w) : nameof(c), "Sizes must be positive.");
    }
}
