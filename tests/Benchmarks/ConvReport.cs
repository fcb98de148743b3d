using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>--conv-report</c>: GFLOP/s of each convolution kernel on the MNIST-CNN, CIFAR-CNN and LeNet-5 layers at batch 64, on two
/// cores and one, beside the FMA peak measured in the same run (<see cref="Peak"/>) and the load average. Set CONV_SPEED_FILE=path to append the lines to a file too,
/// CONV_REPORT_MODEL=text to report only the models whose name contains it, CONV_PLANAR=1 or -1 to force or forbid the
/// planar (pixel-vector) kernels.
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
        double peak = Peak.Measure() / 1e9; // GFLOP/s: the FMA peak of the kernels' two threads, measured now
        // Each model's conv layers, the first flagged (its input gradient is never needed), each followed by a 2x2 max pool.
        var models = new (string Name, (string Name, Conv2DShape S, bool First)[] Layers)[]
        {
            ("MNIST CNN", [("conv1", Shape(28, 28, 1, 3, 3, 32, 1, 1, false), true), ("conv2", Shape(13, 13, 32, 3, 3, 64, 1, 1, false), false)]),
            ("CIFAR CNN", [("conv1", Shape(32, 32, 3, 3, 3, 32, 1, 1, false), true), ("conv2", Shape(15, 15, 32, 3, 3, 64, 1, 1, false), false),
                ("conv3", Shape(6, 6, 64, 3, 3, 128, 1, 1, false), false)]),
            ("CIFAR CNN, same padding", [("conv1", Shape(32, 32, 3, 3, 3, 32, 1, 1, true), true), ("conv2", Shape(16, 16, 32, 3, 3, 64, 1, 1, true), false),
                ("conv3", Shape(8, 8, 64, 3, 3, 128, 1, 1, true), false)]),
            ("LeNet-5", [("conv1", Shape(28, 28, 1, 5, 5, 6, 1, 1, true), true), ("conv2", Shape(14, 14, 6, 5, 5, 16, 1, 1, false), false)]),
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
        string G(double flops, (double Two, double One) t) =>
            $"{flops / t.Two / 1e9,5:F0} GFLOP/s {flops / t.Two / 1e9 / peak,4:P0} ({t.Two * 1e3:F3} ms; one core {flops / t.One / 1e9:F0} = {flops / t.One / 1e9 / (peak / 2):P0} of a core)";
        Report($"FMA peak now, on the kernels' two threads: {peak:F0} GFLOP/s; percentages are of it (a core's: half of it); load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        // CONV_REPORT_MODEL=text: only the models whose name contains it; CONV_PLANAR=1 / -1: force / forbid the planar kernels.
        string? only = Environment.GetEnvironmentVariable("CONV_REPORT_MODEL");
        foreach (var (model, layers) in models)
        {
            if (!string.IsNullOrEmpty(only) && !model.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
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
}
