using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>Max, average and global-average pooling and Flatten against naive loops, on every instruction set, one and
/// two cores (bit-identical), plus finite differences of the average pools.</summary>
[Collection(nameof(CpuKernels))]
public class PoolingTests
{
    internal static Pool2DShape Shape(int h, int w, int c, int ph, int pw, int sy, int sx, bool same) =>
        new(h, w, c, ph, pw, sy, sx, Conv2DShape.PadBefore(h, ph, sy, same), Conv2DShape.PadBefore(w, pw, sx, same),
            Conv2DShape.OutputSize(h, ph, sy, same), Conv2DShape.OutputSize(w, pw, sx, same));

    // h, w, c, poolH, poolW, strideY, strideX, same, batch: the MNIST/CIFAR pools (odd sizes drop the last row), same
    // padding, overlapping windows, non-square windows, channel counts around the vector widths, strides beyond the
    // window (inputs no window covers) with and without padding.
    public static TheoryData<int, int, int, int, int, int, int, bool, int> Shapes => new()
    {
        { 26, 26, 32, 2, 2, 2, 2, false, 3 },
        { 11, 11, 64, 2, 2, 2, 2, false, 4 },
        { 13, 13, 64, 2, 2, 2, 2, true, 2 },
        { 9, 7, 17, 3, 3, 2, 2, true, 3 },
        { 8, 9, 5, 3, 2, 1, 2, false, 2 },
        { 7, 7, 1, 3, 3, 1, 1, true, 2 },
        { 6, 5, 33, 2, 3, 3, 1, true, 5 },
        { 30, 30, 128, 2, 2, 2, 2, false, 2 },
        { 10, 11, 20, 2, 2, 3, 3, true, 3 },
        { 7, 9, 16, 3, 2, 3, 2, true, 2 },
        { 9, 8, 40, 2, 3, 4, 3, false, 2 },
    };

    private static (int Y0, int Y1, int X0, int X1) Window(Pool2DShape s, int oy, int ox)
    {
        int y0 = oy * s.StrideY - s.PadTop, x0 = ox * s.StrideX - s.PadLeft;
        return (Math.Max(y0, 0), Math.Min(y0 + s.PoolHeight, s.InHeight), Math.Max(x0, 0), Math.Min(x0 + s.PoolWidth, s.InWidth));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Max_matches_reference(int h, int w, int c, int ph, int pw, int sy, int sx, bool same, int batch)
    {
        var s = Shape(h, w, c, ph, pw, sy, sx, same);
        float[] x = Support.Random(batch * s.InSize, 1, -2f, 2f), dy = Support.Random(batch * s.OutSize, 2);
        var y = new double[batch * s.OutSize];
        var arg = new int[y.Length];
        var dx = new double[x.Length]; var dxS = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        var (y0, y1, x0, x1) = Window(s, oy, ox);
                        double best = double.NegativeInfinity; int at = -1;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                int off = (iy * w + ix) * c + ch;
                                if (x[n * s.InSize + off] > best) { best = x[n * s.InSize + off]; at = off; }
                            }
                        int o = ((n * s.OutHeight + oy) * s.OutWidth + ox) * c + ch;
                        y[o] = best; arg[o] = at;
                        dx[n * s.InSize + at] += dy[o]; dxS[n * s.InSize + at] += Math.Abs(dy[o]);
                    }
        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? first = null, firstDx = null;
            foreach (bool threads in new[] { false, true })
            {
                var gy = new float[y.Length];
                var ga = new int[y.Length];
                var gdx = Support.Random(x.Length, 3, 5f, 9f);
                Support.With(isa, threads, () =>
                {
                    Pooling.MaxForward(gy, ga, x, batch, s);
                    Pooling.MaxBackward(gdx, dy, ga, batch, s);
                });
                string what = $"max {s} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(gy, y, default, 0, 0, what + " y");
                Assert.Equal(arg, ga);
                Support.Close(gdx, dx, dxS, 1e-6, 0, what + " dx");
                if (first is null) { first = gy; firstDx = gdx; }
                else Assert.True(Support.BitEqual(first, gy) && Support.BitEqual(firstDx, gdx), what + ": two cores differ from one");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Average_matches_reference(int h, int w, int c, int ph, int pw, int sy, int sx, bool same, int batch)
    {
        var s = Shape(h, w, c, ph, pw, sy, sx, same);
        float[] x = Support.Random(batch * s.InSize, 4, -2f, 2f), dy = Support.Random(batch * s.OutSize, 5);
        var y = new double[batch * s.OutSize]; var yS = new double[y.Length];
        var dx = new double[x.Length]; var dxS = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        var (y0, y1, x0, x1) = Window(s, oy, ox);
                        int taps = (y1 - y0) * (x1 - x0);
                        int o = ((n * s.OutHeight + oy) * s.OutWidth + ox) * c + ch;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                int xi = n * s.InSize + (iy * w + ix) * c + ch;
                                y[o] += (double)x[xi] / taps; yS[o] += Math.Abs(x[xi]) / taps;
                                dx[xi] += (double)dy[o] / taps; dxS[xi] += Math.Abs(dy[o]) / taps;
                            }
                    }
        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? first = null, firstDx = null;
            foreach (bool threads in new[] { false, true })
            {
                var gy = new float[y.Length];
                var gdx = Support.Random(x.Length, 6, 5f, 9f);
                Support.With(isa, threads, () =>
                {
                    Pooling.AvgForward(gy, x, batch, s);
                    Pooling.AvgBackward(gdx, dy, batch, s);
                });
                string what = $"avg {s} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(gy, y, yS, 1e-6, 1e-7, what + " y");
                Support.Close(gdx, dx, dxS, 1e-6, 1e-7, what + " dx");
                if (first is null) { first = gy; firstDx = gdx; }
                else Assert.True(Support.BitEqual(first, gy) && Support.BitEqual(firstDx, gdx), what + ": two cores differ from one");
            }
        }
    }

    [Theory]
    [InlineData(4, 4, 128, 64)]
    [InlineData(7, 5, 17, 3)]
    [InlineData(1, 1, 3, 2)]
    [InlineData(8, 8, 64, 1)]
    public void Global_average_matches_reference(int h, int w, int c, int batch)
    {
        float[] x = Support.Random(batch * h * w * c, 7, -2f, 2f), dy = Support.Random(batch * c, 8);
        var y = new double[batch * c]; var yS = new double[y.Length];
        var dx = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int p = 0; p < h * w; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    int xi = (n * h * w + p) * c + ch;
                    y[n * c + ch] += (double)x[xi] / (h * w); yS[n * c + ch] += Math.Abs(x[xi]) / (h * w);
                    dx[xi] = (double)dy[n * c + ch] / (h * w);
                }
        foreach (KernelIsa isa in Support.Isas())
            foreach (bool threads in new[] { false, true })
            {
                var gy = new float[y.Length];
                var gdx = new float[x.Length];
                Support.With(isa, threads, () =>
                {
                    Pooling.GlobalAvgForward(gy, x, batch, h, w, c);
                    Pooling.GlobalAvgBackward(gdx, dy, batch, h, w, c);
                });
                string what = $"global avg {h}x{w}x{c} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(gy, y, yS, 1e-6, 1e-7, what + " y");
                Support.Close(gdx, dx, default, 1e-6, 1e-7, what + " dx");
            }
    }

    [Fact]
    public void Average_pool_gradient_matches_finite_differences()
    {
        var s = Shape(5, 6, 3, 3, 2, 2, 2, true);
        const int batch = 2;
        float[] x = Support.Random(batch * s.InSize, 9), r = Support.Random(batch * s.OutSize, 10);
        double L(float[] xs)
        {
            var y = new float[batch * s.OutSize];
            Pooling.AvgForward(y, xs, batch, s);
            double total = 0;
            for (int i = 0; i < y.Length; i++) total += (double)r[i] * y[i];
            return total;
        }
        var numeric = new double[x.Length];
        const float step = 1f / 64;
        for (int i = 0; i < x.Length; i++)
        {
            float keep = x[i];
            x[i] = keep + step; double up = L(x);
            x[i] = keep - step; double down = L(x);
            x[i] = keep;
            numeric[i] = (up - down) / (2 * step);
        }
        var dx = new float[x.Length];
        Pooling.AvgBackward(dx, r, batch, s);
        Support.Close(dx, numeric, default, 1e-4, 1e-5, "avg pool dx vs finite differences");
    }

    [Theory]
    [InlineData(5, 5, 64, 3)]
    [InlineData(3, 4, 7, 2)]
    [InlineData(1, 1, 9, 1)]
    [InlineData(5, 5, 64, 64)]
    public void Flatten_is_pytorch_order_and_backward_inverts_it(int h, int w, int c, int batch)
    {
        float[] x = Support.Random(batch * h * w * c, 11);
        foreach (bool threads in new[] { false, true })
        {
            var y = new float[x.Length];
            Support.With(Gemm.DetectIsa(), threads, () => Flatten.Forward(y, x, batch, h, w, c));
            for (int n = 0; n < batch; n++)
                for (int iy = 0; iy < h; iy++)
                    for (int ix = 0; ix < w; ix++)
                        for (int ch = 0; ch < c; ch++)
                            Assert.Equal(x[((n * h + iy) * w + ix) * c + ch], y[n * h * w * c + (ch * h + iy) * w + ix]);
            var back = new float[x.Length];
            Support.With(Gemm.DetectIsa(), threads, () => Flatten.Backward(back, y, batch, h, w, c));
            Assert.True(Support.BitEqual(x, back), $"Flatten.Backward does not invert Forward{(threads ? " on two cores" : "")}");
        }
    }

    [Fact]
    public void Short_spans_are_rejected()
    {
        var s = Shape(4, 4, 3, 2, 2, 2, 2, false);
        Assert.Throws<ArgumentException>(() => Pooling.MaxForward(new float[2 * s.OutSize - 1], new int[2 * s.OutSize], new float[2 * s.InSize], 2, s));
        Assert.Throws<ArgumentException>(() => Pooling.MaxForward(new float[2 * s.OutSize], new int[2 * s.OutSize - 1], new float[2 * s.InSize], 2, s));
        Assert.Throws<ArgumentException>(() => Pooling.AvgBackward(new float[2 * s.InSize - 1], new float[2 * s.OutSize], 2, s));
        Assert.Throws<ArgumentException>(() => Flatten.Forward(new float[5], new float[6], 1, 1, 2, 3));
    }
}
