using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>--conv-report</c>: GFLOP/s of each convolution kernel on the MNIST-CNN and CIFAR-CNN layers at batch 64, on two
/// cores and one, beside an FMA probe and the load average (percentages are of 613 GFLOP/s, the two-core peak measured
/// on these machines, unless marked). Set CONV_SPEED_FILE=path to append the lines to a file too.
/// </summary>
internal static class ConvReport
{
    private static Conv2DShape Shape(int h, int w, int c, int kh, int kw, int f, int sy, int sx, bool same)
    {
        int oh = Conv2DShape.OutputSize(h, kh, sy, same), ow = Conv2DShape.OutputSize(w, kw, sx, same);
        return new Conv2DShape(h, w, c, kh, kw, f, sy, sx, Conv2DShape.PadBefore(h, kh, sy, same), Conv2DShape.PadBefore(w, kw, sx, same), oh, ow);
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

    /// <summary>Prints the report.</summary>
    public static void Run()
    {
        const int batch = 64;
        const double peak = 613; // GFLOP/s, two cores' FMA peak measured on these machines
        // Each model's conv layers, the first flagged (its input gradient is never needed), each followed by a 2x2 max pool.
        var models = new (string Name, (string Name, Conv2DShape S, bool First)[] Layers)[]
        {
            ("MNIST CNN", [("conv1", Shape(28, 28, 1, 3, 3, 32, 1, 1, false), true), ("conv2", Shape(13, 13, 32, 3, 3, 64, 1, 1, false), false)]),
            ("CIFAR CNN", [("conv1", Shape(32, 32, 3, 3, 3, 32, 1, 1, false), true), ("conv2", Shape(15, 15, 32, 3, 3, 64, 1, 1, false), false),
                ("conv3", Shape(6, 6, 64, 3, 3, 128, 1, 1, false), false)]),
            ("CIFAR CNN, same padding", [("conv1", Shape(32, 32, 3, 3, 3, 32, 1, 1, true), true), ("conv2", Shape(16, 16, 32, 3, 3, 64, 1, 1, true), false),
                ("conv3", Shape(8, 8, 64, 3, 3, 128, 1, 1, true), false)]),
        };
        string? file = Environment.GetEnvironmentVariable("CONV_SPEED_FILE");
        void Report(string line)
        {
            Console.WriteLine(line);
            if (!string.IsNullOrEmpty(file)) File.AppendAllText(file, line + Environment.NewLine);
        }
        static double Time(Action a)
        {
            for (int i = 0; i < 3; i++) a();
            double best = double.MaxValue;
            for (int r = 0; r < 9; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < 5; i++) a();
                best = Math.Min(best, sw.Elapsed.TotalSeconds / 5);
            }
            return best;
        }
        static (double Two, double One) Both(Action a)
        {
            double two = Time(a);
            Worker.Disabled = true;
            try { return (two, Time(a)); }
            finally { Worker.Disabled = false; }
        }
        static string G(double flops, (double Two, double One) t) =>
            $"{flops / t.Two / 1e9,5:F0} GFLOP/s {flops / t.Two / 1e9 / peak,4:P0} ({t.Two * 1e3:F3} ms; one core {flops / t.One / 1e9:F0} = {flops / t.One / 1e9 / (peak / 2):P0} of a core)";
        Report($"FMA peak probe now, one core: {PeakProbe():F1} GFLOP/s (nominal 307); percentages are of 613 GFLOP/s (two cores) unless marked; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        foreach (var (model, layers) in models)
        {
            double stepFlops = 0, stepTime = 0, stepTime1 = 0, poolTime = 0;
            foreach (var (name, s, first) in layers)
            {
                float[] x = Random(batch * s.InSize, 1), w = Random(s.WeightSize, 2), b = Random(s.Filters, 3);
                float[] y = new float[batch * s.OutSize], dx = new float[x.Length], dw = new float[w.Length], db = new float[s.Filters];
                double flops = 2.0 * s.MultiplyAdds * batch;
                var f = Both(() => Conv2D.Forward<Relu>(y, default, x, w, b, batch, s));
                var d = Both(() => Conv2D.BackwardData(dx, y, w, batch, s));
                var g = Both(() => Conv2D.BackwardWeights(dw, db, y, x, batch, s));
                var p = new Pool2DShape(s.OutHeight, s.OutWidth, s.Filters, 2, 2, 2, 2, 0, 0, s.OutHeight / 2, s.OutWidth / 2);
                float[] py = new float[batch * p.OutSize];
                int[] arg = new int[py.Length];
                var pool = Both(() => { Pooling.MaxForward(py, arg, y, batch, p); Pooling.MaxBackward(y, py, arg, batch, p); });
                Report($"{model} {name} {s}, batch {batch}:");
                Report($"    forward          {G(flops, f)}");
                Report($"    backward-data    {G(flops, d)}{(first ? "  (first layer: not needed in training)" : "")}");
                Report($"    backward-weights {G(flops, g)}");
                Report($"    max pool 2x2 forward + backward {pool.Two * 1e3:F3} ms (one core {pool.One * 1e3:F3} ms)");
                int products = first ? 2 : 3;
                stepFlops += products * flops;
                stepTime += f.Two + g.Two + (first ? 0 : d.Two) + pool.Two;
                stepTime1 += f.One + g.One + (first ? 0 : d.One) + pool.One;
                poolTime += pool.Two;
            }
            Report($"{model}: conv + pool part of a training step {stepTime * 1e3:F2} ms (pooling {poolTime * 1e3:F2} ms), {stepFlops / stepTime / 1e9:F0} GFLOP/s = {stepFlops / stepTime / 1e9 / peak:P0} of two cores; one core {stepFlops / stepTime1 / 1e9:F0} GFLOP/s = {stepFlops / stepTime1 / 1e9 / (peak / 2):P0} of a core");
        }
    }

    /// <summary>One core's FMA throughput right now (16 independent zmm chains, best of 5 × 2·10⁷ FMAs): tells a busy
    /// machine from a slow kernel.</summary>
    private static double PeakProbe()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return 0;
        double best = 0;
        for (int r = 0; r < 5; r++)
        {
            var sw = Stopwatch.StartNew();
            var v = FmaChains(1_250_000);
            double t = sw.Elapsed.TotalSeconds;
            if (float.IsNaN(v)) throw new InvalidOperationException("FMA probe produced NaN");
            best = Math.Max(best, 1_250_000.0 * 16 * 16 * 2 / t / 1e9);
        }
        return best;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static float FmaChains(int n)
    {
        var m = System.Runtime.Intrinsics.Vector512.Create(0.999f);
        var a = System.Runtime.Intrinsics.Vector512.Create(0.001f);
        System.Runtime.Intrinsics.Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a,
            c8 = a, c9 = a, c10 = a, c11 = a, c12 = a, c13 = a, c14 = a, c15 = a;
        for (int i = 0; i < n; i++)
        {
            c0 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c0, m, a); c1 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c2, m, a); c3 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c4, m, a); c5 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c6, m, a); c7 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c8, m, a); c9 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c10, m, a); c11 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c11, m, a);
            c12 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c12, m, a); c13 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c13, m, a);
            c14 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c14, m, a); c15 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(c15, m, a);
        }
        var s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        return System.Runtime.Intrinsics.Vector512.Sum(s);
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
