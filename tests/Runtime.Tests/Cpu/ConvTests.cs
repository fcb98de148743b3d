using System.Diagnostics;
using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>Conv2D forward, input gradient and weight gradient against naive double-precision loops, on every instruction
/// set, one and two cores (bit-identical), plus finite differences, allocation and a speed report.</summary>
[Collection(nameof(CpuKernels))]
public class ConvTests
{
    internal static Conv2DShape Shape(int h, int w, int c, int kh, int kw, int f, int sy, int sx, bool same) =>
        new(h, w, c, kh, kw, f, sy, sx, Conv2DShape.PadBefore(h, kh, sy, same), Conv2DShape.PadBefore(w, kw, sx, same),
            Conv2DShape.OutputSize(h, kh, sy, same), Conv2DShape.OutputSize(w, kw, sx, same));

    // h, w, c, kh, kw, filters, strideY, strideX, same, batch: the MNIST and CIFAR layers, stride 2, same padding with
    // even and odd kernels, non-square kernels, 1/3/5/17/32/64 channels, filter counts that are not multiples of 16,
    // batches of several weight-gradient sample blocks per group, and more than MaxK (2048) taps × channels; strides 2
    // and 3 with same padding and channel tails for the input gradient's scatter form.
    public static TheoryData<int, int, int, int, int, int, int, int, bool, int> Shapes => new()
    {
        { 28, 28, 1, 3, 3, 32, 1, 1, false, 3 },
        { 13, 13, 32, 3, 3, 64, 1, 1, false, 5 },
        { 32, 32, 3, 3, 3, 32, 1, 1, true, 2 },
        { 6, 6, 64, 3, 3, 128, 1, 1, false, 3 },
        { 9, 11, 5, 4, 4, 17, 2, 2, true, 3 },
        { 7, 6, 17, 3, 2, 33, 1, 2, true, 4 },
        { 10, 9, 64, 5, 5, 16, 2, 1, false, 2 },
        { 5, 5, 3, 1, 1, 5, 1, 1, false, 7 },
        { 6, 7, 32, 2, 3, 3, 1, 1, true, 3 },
        { 4, 4, 1, 5, 5, 1, 3, 3, true, 1 },
        { 12, 8, 3, 2, 2, 48, 2, 2, false, 6 },
        { 6, 5, 3, 3, 3, 20, 1, 1, true, 19 },
        { 5, 6, 2, 2, 3, 7, 2, 1, false, 18 },
        { 7, 7, 64, 6, 6, 17, 1, 1, false, 2 },
        { 28, 28, 1, 5, 5, 6, 1, 1, true, 3 },
        { 14, 14, 6, 5, 5, 16, 1, 1, false, 4 },
        { 9, 8, 24, 3, 3, 40, 2, 2, true, 3 },
        { 5, 7, 48, 3, 3, 8, 3, 2, true, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_matches_oracle(int h, int w, int c, int kh, int kw, int f, int sy, int sx, bool same, int batch)
    {
        var s = Shape(h, w, c, kh, kw, f, sy, sx, same);
        float[] x = Support.Random(batch * s.InSize, 1, -2f, 2f), wt = Support.Random(s.WeightSize, 2), b = Support.Random(f, 3);
        var (z, scale) = ConvOracle.Forward(x, wt, b, batch, s);
        var y = z.Select(v => Math.Max(v, 0)).ToArray();
        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? single = null;
            foreach (bool threads in new[] { false, true })
            {
                var gy = new float[batch * s.OutSize];
                var gz = new float[batch * s.OutSize];
                Support.With(isa, threads, () => Conv2D.Forward<Relu>(gy, gz, x, wt, b, batch, s));
                string what = $"{s} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(gz, z, scale, 2e-5, 1e-6, what + " z");
                Support.Close(gy, y, scale, 2e-5, 1e-6, what + " y");
                var gy2 = new float[batch * s.OutSize];
                Support.With(isa, threads, () => Conv2D.Forward<Relu>(gy2, default, x, wt, b, batch, s));
                Assert.True(Support.BitEqual(gy, gy2), what + ": output differs when z is not kept");
                if (single is null) single = gy;
                else Assert.True(Support.BitEqual(single, gy), what + ": two cores differ from one");
            }
            // Without a bias: z is the plain convolution.
            var (z0, _) = ConvOracle.Forward(x, wt, null, batch, s);
            var gi = new float[batch * s.OutSize];
            Support.With(isa, true, () => Conv2D.Forward<Identity>(gi, default, x, wt, default, batch, s));
            Support.Close(gi, z0, scale, 2e-5, 1e-6, $"{s} {isa} no bias");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_matches_oracle(int h, int w, int c, int kh, int kw, int f, int sy, int sx, bool same, int batch)
    {
        var s = Shape(h, w, c, kh, kw, f, sy, sx, same);
        float[] x = Support.Random(batch * s.InSize, 4, -2f, 2f), wt = Support.Random(s.WeightSize, 5), dz = Support.Random(batch * s.OutSize, 6);
        var r = ConvOracle.Backward(dz, x, wt, batch, s);
        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? dx1 = null, dw1 = null, db1 = null;
            foreach (bool threads in new[] { false, true })
            {
                // Outputs start as garbage: the kernels overwrite.
                float[] dx = Support.Random(batch * s.InSize, 7, 5f, 9f), dw = Support.Random(s.WeightSize, 8, 5f, 9f), db = Support.Random(f, 9, 5f, 9f);
                Support.With(isa, threads, () =>
                {
                    Conv2D.BackwardData(dx, dz, wt, batch, s);
                    Conv2D.BackwardWeights(dw, db, dz, x, batch, s);
                });
                string what = $"{s} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(dx, r.Dx, r.DxScale, 2e-5, 1e-6, what + " dx");
                Support.Close(dw, r.Dw, r.DwScale, 2e-5, 1e-6, what + " dw");
                Support.Close(db, r.Db, r.DbScale, 2e-5, 1e-6, what + " db");
                float[] dw2 = new float[s.WeightSize];
                Support.With(isa, threads, () => Conv2D.BackwardWeights(dw2, default, dz, x, batch, s));
                Assert.True(Support.BitEqual(dw, dw2), what + ": dw differs without db");
                if (dx1 is null) { dx1 = dx; dw1 = dw; db1 = db; }
                else
                {
                    Assert.True(Support.BitEqual(dx1, dx), what + ": dx on two cores differs from one");
                    Assert.True(Support.BitEqual(dw1, dw), what + ": dw on two cores differs from one");
                    Assert.True(Support.BitEqual(db1, db!), what + ": db on two cores differs from one");
                }
            }
        }
    }

    // Stride-1 shapes for the planar (pixel-vector) kernels: LeNet-5's two layers, kh ≠ kw with even and odd kernels under
    // same padding, rows wider than 4 vectors, a 1×1 kernel, a single channel and filter, filter counts that are not
    // multiples of the 6-channel tile, more taps than a tile's 4, batches of one and of several groups.
    public static TheoryData<int, int, int, int, int, int, bool, int> PlanarShapes => new()
    {
        { 28, 28, 1, 5, 5, 6, true, 3 },
        { 14, 14, 6, 5, 5, 16, false, 5 },
        { 9, 7, 2, 3, 4, 7, true, 2 },
        { 11, 13, 3, 5, 2, 13, false, 6 },
        { 5, 6, 17, 2, 3, 5, true, 3 },
        { 3, 3, 1, 3, 3, 1, true, 1 },
        { 20, 40, 1, 3, 3, 4, true, 2 },
        { 6, 5, 4, 1, 1, 3, false, 9 },
        { 7, 9, 2, 6, 2, 12, true, 4 },
        // The in-register NHWC -> planar copy of the output gradient (2 to 8 filters): 16 input channels, an odd filter
        // count, the widest (8), rows of one, two and a part of 16-pixel groups.
        { 8, 19, 16, 3, 3, 6, true, 2 },
        { 12, 17, 5, 3, 3, 5, false, 3 },
        { 4, 33, 9, 2, 2, 8, true, 2 },
    };

    /// <summary>The planar kernels (forced) and the channel kernels (planar forbidden) on the same stride-1 shapes, against
    /// the oracle, on one and two cores (bit-identical), writing nothing past their outputs.</summary>
    [Theory]
    [MemberData(nameof(PlanarShapes))]
    public void Planar_and_channel_kernels_match_oracle(int h, int w, int c, int kh, int kw, int f, bool same, int batch)
    {
        var s = Shape(h, w, c, kh, kw, f, 1, 1, same);
        float[] x = Support.Random(batch * s.InSize, 21, -2f, 2f), wt = Support.Random(s.WeightSize, 22), b = Support.Random(f, 23);
        float[] dz = Support.Random(batch * s.OutSize, 24);
        var (z, scale) = ConvOracle.Forward(x, wt, b, batch, s);
        var y = z.Select(v => Math.Max(v, 0)).ToArray();
        var r = ConvOracle.Backward(dz, x, wt, batch, s);
        int saved = Conv2D.PlanarMode;
        try
        {
            foreach (int mode in new[] { 1, -1 })
            {
                Conv2D.PlanarMode = mode;
                foreach (KernelIsa isa in Support.Isas())
                {
                    float[]? first = null;
                    foreach (bool threads in new[] { false, true })
                    {
                        const int guard = 40;
                        float[] gy = new float[batch * s.OutSize + guard], gz = new float[gy.Length], gx = new float[batch * s.InSize + guard];
                        float[] dw = Support.Random(s.WeightSize + guard, 25, 5f, 9f), db = Support.Random(f + guard, 26, 5f, 9f);
                        float[] dw0 = (float[])dw.Clone(), db0 = (float[])db.Clone();
                        Array.Fill(gy, 1234f); Array.Fill(gz, 1234f); Array.Fill(gx, 1234f);
                        Support.With(isa, threads, () =>
                        {
                            Conv2D.Forward<Relu>(gy, gz, x, wt, b, batch, s);
                            Conv2D.BackwardData(gx, dz, wt, batch, s);
                            Conv2D.BackwardWeights(dw, db, dz, x, batch, s);
                        });
                        string what = $"{(mode > 0 ? "planar" : "channel")} {s} batch {batch} {isa}{(threads ? " 2 cores" : "")}";
                        Support.Close(gz, z, scale, 2e-5, 1e-6, what + " z");
                        Support.Close(gy, y, scale, 2e-5, 1e-6, what + " y");
                        Support.Close(gx, r.Dx, r.DxScale, 2e-5, 1e-6, what + " dx");
                        Support.Close(dw, r.Dw, r.DwScale, 2e-5, 1e-6, what + " dw");
                        Support.Close(db, r.Db, r.DbScale, 2e-5, 1e-6, what + " db");
                        for (int i = batch * s.OutSize; i < gy.Length; i++) { Assert.Equal(1234f, gy[i]); Assert.Equal(1234f, gz[i]); }
                        for (int i = batch * s.InSize; i < gx.Length; i++) Assert.Equal(1234f, gx[i]);
                        for (int i = s.WeightSize; i < dw.Length; i++) Assert.Equal(dw0[i], dw[i]);
                        for (int i = f; i < db.Length; i++) Assert.Equal(db0[i], db[i]);
                        float[] all = [.. gy, .. gz, .. gx, .. dw, .. db];
                        if (first is null) first = all;
                        else Assert.True(Support.BitEqual(first, all), what + ": two cores differ from one");
                    }
                }
            }
        }
        finally { Conv2D.PlanarMode = saved; }
    }

    [Theory]
    [InlineData(5, 6, 2, 3, 3, 3, 1, 1, true, 2)]
    [InlineData(7, 5, 3, 2, 3, 4, 2, 1, true, 2)]
    [InlineData(6, 6, 1, 3, 2, 5, 2, 2, false, 3)]
    public void Backward_matches_finite_differences(int h, int w, int c, int kh, int kw, int f, int sy, int sx, bool same, int batch)
    {
        var s = Shape(h, w, c, kh, kw, f, sy, sx, same);
        float[] x = Support.Random(batch * s.InSize, 10), wt = Support.Random(s.WeightSize, 11), b = Support.Random(f, 12);
        float[] r = Support.Random(batch * s.OutSize, 13); // L = Σ r ⊙ z, so dL/dz = r
        double L(double[] xd, double[] wd, double[] bd)
        {
            var (z, _) = ConvOracle.Forward(xd.Select(v => (float)v).ToArray(), wd.Select(v => (float)v).ToArray(), bd.Select(v => (float)v).ToArray(), batch, s);
            double total = 0;
            for (int i = 0; i < z.Length; i++) total += r[i] * z[i];
            return total;
        }
        double[] xd = x.Select(v => (double)v).ToArray(), wd = wt.Select(v => (double)v).ToArray(), bd = b.Select(v => (double)v).ToArray();
        // Step 2^-7: exact in float, so θ ± h rounds to nothing and the (linear) loss differences are exact.
        const double step = 1.0 / 128;
        double[] ndx = Numeric(xd, t => L(t, wd, bd), step), ndw = Numeric(wd, t => L(xd, t, bd), step), ndb = Numeric(bd, t => L(xd, wd, t), step);
        foreach (KernelIsa isa in Support.Isas())
        {
            float[] dx = new float[x.Length], dw = new float[wt.Length], db = new float[f];
            Support.With(isa, true, () =>
            {
                Conv2D.BackwardData(dx, r, wt, batch, s);
                Conv2D.BackwardWeights(dw, db, r, x, batch, s);
            });
            Support.Close(dx, ndx, default, 1e-4, 1e-5, $"dx {s} {isa}");
            Support.Close(dw, ndw, default, 1e-4, 1e-5, $"dw {s} {isa}");
            Support.Close(db, ndb, default, 1e-4, 1e-5, $"db {s} {isa}");
        }
    }

    private static double[] Numeric(double[] theta, Func<double[], double> loss, double h)
    {
        var grad = new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double keep = theta[i];
            theta[i] = keep + h; double up = loss(theta);
            theta[i] = keep - h; double down = loss(theta);
            theta[i] = keep;
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    [Fact]
    public void Forward_writes_only_its_outputs()
    {
        var s = Shape(9, 11, 5, 4, 4, 17, 2, 2, true);
        const int batch = 3;
        float[] x = Support.Random(batch * s.InSize, 14), wt = Support.Random(s.WeightSize, 15), b = Support.Random(17, 16);
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[batch * s.OutSize + 40];
            var z = new float[batch * s.OutSize + 40];
            var dx = new float[batch * s.InSize + 40];
            Array.Fill(y, 1234f); Array.Fill(z, 1234f); Array.Fill(dx, 1234f);
            Support.With(isa, true, () =>
            {
                Conv2D.Forward<Relu>(y, z, x, wt, b, batch, s);
                Conv2D.BackwardData(dx, y, wt, batch, s);
            });
            for (int i = batch * s.OutSize; i < y.Length; i++) { Assert.Equal(1234f, y[i]); Assert.Equal(1234f, z[i]); }
            for (int i = batch * s.InSize; i < dx.Length; i++) Assert.Equal(1234f, dx[i]);
        }
    }

    [Fact]
    public void Short_spans_are_rejected()
    {
        var s = Shape(5, 5, 2, 3, 3, 4, 1, 1, false);
        float[] x = new float[2 * s.InSize], w = new float[s.WeightSize], b = new float[4], y = new float[2 * s.OutSize];
        Assert.Throws<ArgumentException>(() => Conv2D.Forward<Relu>(new float[y.Length - 1], default, x, w, b, 2, s));
        Assert.Throws<ArgumentException>(() => Conv2D.Forward<Relu>(y, default, x, new float[w.Length - 1], b, 2, s));
        Assert.Throws<ArgumentException>(() => Conv2D.Forward<Relu>(y, default, x, w, new float[3], 2, s));
        Assert.Throws<ArgumentException>(() => Conv2D.BackwardData(new float[x.Length - 1], y, w, 2, s));
        Assert.Throws<ArgumentException>(() => Conv2D.BackwardWeights(new float[w.Length - 1], b, y, x, 2, s));
        Assert.Throws<ArgumentOutOfRangeException>(() => Conv2D.Forward<Relu>(y, default, x, w, b, -1, s));
    }

    [Fact]
    public void Kernels_allocate_nothing_after_warm_up()
    {
        var s = Shape(13, 13, 32, 3, 3, 64, 1, 1, true);
        var p = new Pool2DShape(13, 13, 64, 2, 2, 2, 2, 0, 0, 6, 6);
        const int batch = 16;
        float[] x = Support.Random(batch * s.InSize, 17), w = Support.Random(s.WeightSize, 18), b = Support.Random(64, 19);
        float[] y = new float[batch * s.OutSize], z = new float[y.Length], dx = new float[x.Length], dw = new float[w.Length], db = new float[64];
        float[] py = new float[batch * p.OutSize], flat = new float[py.Length], g = new float[batch * 64];
        int[] arg = new int[py.Length];
        Conv2DShape l1 = Shape(28, 28, 1, 5, 5, 6, 1, 1, true), l2 = Shape(14, 14, 6, 5, 5, 16, 1, 1, false);
        float[] l1x = Support.Random(batch * l1.InSize, 20), l1w = Support.Random(l1.WeightSize, 21), l1b = new float[6], l1y = new float[batch * l1.OutSize];
        float[] l1dw = new float[l1.WeightSize], l1db = new float[6];
        float[] l2x = Support.Random(batch * l2.InSize, 22), l2w = Support.Random(l2.WeightSize, 23), l2b = new float[16], l2y = new float[batch * l2.OutSize];
        float[] l2z = new float[l2y.Length], l2dx = new float[l2x.Length], l2dw = new float[l2.WeightSize], l2db = new float[16];
        void Step()
        {
            Conv2D.Forward<Relu>(y, z, x, w, b, batch, s);
            Pooling.MaxForward(py, arg, y, batch, p);
            Flatten.Forward(flat, py, batch, 6, 6, 64);
            Flatten.Backward(py, flat, batch, 6, 6, 64);
            Pooling.MaxBackward(z, py, arg, batch, p);
            Pooling.AvgForward(py, y, batch, p);
            Pooling.AvgBackward(z, py, batch, p);
            Pooling.GlobalAvgForward(g, y, batch, 13, 13, 64);
            Pooling.GlobalAvgBackward(z, g, batch, 13, 13, 64);
            Conv2D.BackwardData(dx, z, w, batch, s);
            Conv2D.BackwardWeights(dw, db, z, x, batch, s);
            // LeNet-5's layers take the planar kernels.
            Conv2D.Forward<Relu>(l1y, default, l1x, l1w, l1b, batch, l1);
            Conv2D.BackwardWeights(l1dw, l1db, l1y, l1x, batch, l1);
            Conv2D.Forward<Relu>(l2y, l2z, l2x, l2w, l2b, batch, l2);
            Conv2D.BackwardData(l2dx, l2y, l2w, batch, l2);
            Conv2D.BackwardWeights(l2dw, l2db, l2y, l2x, batch, l2);
        }
        for (int i = 0; i < 30; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread() + Worker.WorkerAllocatedBytes;
        for (int i = 0; i < 5; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() + Worker.WorkerAllocatedBytes - before;
        Assert.Equal(0, allocated);
    }
}

/// <summary>Naive double-precision convolution loops straight from the definition, with the magnitude Σ|terms| of every output.</summary>
internal static class ConvOracle
{
    private static bool Tap(in Conv2DShape s, int oy, int ox, int ky, int kx, out int iy, out int ix)
    {
        iy = oy * s.StrideY - s.PadTop + ky;
        ix = ox * s.StrideX - s.PadLeft + kx;
        return iy >= 0 && iy < s.InHeight && ix >= 0 && ix < s.InWidth;
    }

    public static (double[] Z, double[] Scale) Forward(float[] x, float[] w, float[]? b, int batch, Conv2DShape s)
    {
        var z = new double[batch * s.OutSize];
        var scale = new double[z.Length];
        int c = s.InChannels, f = s.Filters, kh = s.KernelHeight, kw = s.KernelWidth;
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int o = 0; o < f; o++)
                    {
                        double acc = b is null ? 0 : b[o], mag = Math.Abs(acc);
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                            {
                                if (!Tap(s, oy, ox, ky, kx, out int iy, out int ix)) continue;
                                for (int ci = 0; ci < c; ci++)
                                {
                                    double t = (double)x[((n * s.InHeight + iy) * s.InWidth + ix) * c + ci] * w[((o * c + ci) * kh + ky) * kw + kx];
                                    acc += t; mag += Math.Abs(t);
                                }
                            }
                        int at = ((n * s.OutHeight + oy) * s.OutWidth + ox) * f + o;
                        z[at] = acc; scale[at] = mag;
                    }
        return (z, scale);
    }

    public static (double[] Dx, double[] Dw, double[] Db, double[] DxScale, double[] DwScale, double[] DbScale) Backward(
        float[] dz, float[] x, float[] w, int batch, Conv2DShape s)
    {
        var dx = new double[batch * s.InSize]; var dxS = new double[dx.Length];
        var dw = new double[s.WeightSize]; var dwS = new double[dw.Length];
        var db = new double[s.Filters]; var dbS = new double[db.Length];
        int c = s.InChannels, f = s.Filters, kh = s.KernelHeight, kw = s.KernelWidth;
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int o = 0; o < f; o++)
                    {
                        double g = dz[((n * s.OutHeight + oy) * s.OutWidth + ox) * f + o];
                        db[o] += g; dbS[o] += Math.Abs(g);
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                            {
                                if (!Tap(s, oy, ox, ky, kx, out int iy, out int ix)) continue;
                                for (int ci = 0; ci < c; ci++)
                                {
                                    int xi = ((n * s.InHeight + iy) * s.InWidth + ix) * c + ci, wi = ((o * c + ci) * kh + ky) * kw + kx;
                                    double tx = g * w[wi], tw = g * x[xi];
                                    dx[xi] += tx; dxS[xi] += Math.Abs(tx);
                                    dw[wi] += tw; dwS[wi] += Math.Abs(tw);
                                }
                            }
                    }
        return (dx, dw, db, dxS, dwS, dbS);
    }
}
