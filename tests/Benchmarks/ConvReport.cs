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
        if (Environment.GetEnvironmentVariable("CONV_REPORT_ONE") == "1") { OneCore(); return; }
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
        // The minimum of single calls, after a warm-up long enough for tiered compilation to have replaced every method
        // on the path with optimized code (a few calls only time tier-0 drivers: a 64 x 10 softmax took 70 µs, not 2).
        static double Time(Action a)
        {
            // Warm up for 300 ms, not a few calls: a kernel's generic body starts as tier-0 code (no inlining of the
            // vector wrappers, several times slower) and is replaced only after 30 calls and a 100 ms quiet delay, in
            // the background. A short warm-up timed the tier-0 pooling on two cores and the tier-1 code on one, a
            // "two cores 5x slower" that the training step (long warm) never sees.
            Warm(a, 0.3);
            double best = double.MaxValue;
            long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5;
            for (int r = 0; r < 30 || (r < 2000 && Stopwatch.GetTimestamp() < until); r++)
            {
                long start = Stopwatch.GetTimestamp();
                a();
                best = Math.Min(best, (double)(Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency);
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
            IModel? generated = model switch { "MNIST CNN" => new MnistCnn(seed: 1), "CIFAR CNN" => new CifarCnn(seed: 1), _ => null };
            if (generated is not null)
            {
                // The generated training step itself (gradients + Adam), two cores and one: the calls timed alone above
                // should add up to most of it.
                var rng = new Rng(7);
                var x = new float[batch * generated.InputSize];
                for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat();
                var labels = new float[batch];
                for (int i = 0; i < batch; i++) labels[i] = i % 10;
                var adam = new Adam(1e-3);
                var step = Both(() => { generated.ComputeGradients(x, labels, default, batch); adam.Step(generated.Parameters, generated.Gradients); });
                Report($"{model}: the generated training step (gradients + Adam) {step.Two * 1e3:F2} ms on two cores, {step.One * 1e3:F2} ms on one");
            }
        }
        if (string.IsNullOrEmpty(only) || "LeNet-5 step".Contains(only, StringComparison.OrdinalIgnoreCase)) LeNetStep(Report, Both);
        if (string.IsNullOrEmpty(only) || "MNIST CNN step".Contains(only, StringComparison.OrdinalIgnoreCase)) MnistStep(Report, Both);
    }

    /// <summary>
    /// CONV_REPORT_ONE=1: each kernel on the MNIST and CIFAR layers on one core at batch 16 (calls of 0.02-0.4 ms), the
    /// minimum of 300 calls, against the one-thread FMA peak measured the same way: a figure a loaded machine disturbs
    /// little, for comparing kernels.
    /// </summary>
    private static void OneCore()
    {
        const int batch = 16, repeats = 300;
        double peak = Peak.MeasureOneThread() / 1e9;
        Console.WriteLine($"one-thread FMA peak {peak:F0} GFLOP/s; one core, batch {batch}, best of {repeats} calls; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        static double Best(Action a)
        {
            var warm = Stopwatch.StartNew();
            for (int i = 0; i < 3 || warm.ElapsedMilliseconds < 300; i++) a();
            double best = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                long start = Stopwatch.GetTimestamp();
                a();
                best = Math.Min(best, (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency);
            }
            return best;
        }
        var layers = new (string Name, Conv2DShape S, bool First)[]
        {
            ("MNIST conv1", Shape(28, 28, 1, 3, 3, 32, 1, 1, false), true), ("MNIST conv2", Shape(13, 13, 32, 3, 3, 64, 1, 1, false), false),
            ("CIFAR conv1", Shape(32, 32, 3, 3, 3, 32, 1, 1, false), true), ("CIFAR conv2", Shape(15, 15, 32, 3, 3, 64, 1, 1, false), false),
            ("CIFAR conv3", Shape(6, 6, 64, 3, 3, 128, 1, 1, false), false),
        };
        Worker.Disabled = true;
        try
        {
            string? only = Environment.GetEnvironmentVariable("CONV_REPORT_MODEL");
            foreach (var (name, s, first) in layers)
            {
                if (!string.IsNullOrEmpty(only) && !name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
                float[] x = Random(batch * s.InSize, 1), w = Random(s.WeightSize, 2), b = Random(s.Filters, 3);
                float[] y = new float[batch * s.OutSize], dx = new float[x.Length], dw = new float[w.Length], db = new float[s.Filters];
                double flops = 2.0 * s.MultiplyAdds * batch;
                string G(double t) => $"{t * 1e6,7:F1} µs {flops / t / 1e9,5:F0} GFLOP/s {flops / t / 1e9 / peak,4:P0}";
                var p = new Pool2DShape(s.OutHeight, s.OutWidth, s.Filters, 2, 2, 2, 2, 0, 0, s.OutHeight / 2, s.OutWidth / 2);
                float[] py = new float[batch * p.OutSize];
                int[] arg = new int[py.Length];
                Console.WriteLine($"{name} {s}:");
                Console.WriteLine($"    forward          {G(Best(() => Conv2D.Forward<Relu>(y, default, x, w, b, batch, s)))}");
                if (!first) Console.WriteLine($"    backward-data    {G(Best(() => Conv2D.BackwardData(dx, y, w, batch, s)))}");
                Console.WriteLine($"    backward-weights {G(Best(() => Conv2D.BackwardWeights(dw, db, y, x, batch, s)))}");
                Console.WriteLine($"    max pool forward {Best(() => Pooling.MaxForward(py, arg, y, batch, p)) * 1e6,7:F1} µs, backward {Best(() => Pooling.MaxBackward(y, py, arg, batch, p)) * 1e6,7:F1} µs");
            }
        }
        finally { Worker.Disabled = false; }
    }

    /// <summary>Every kernel call of the MNIST CNN's generated training step at batch 64, in order, timed alone (best of
    /// repetitions, two cores and one), so the step's time can be split by call.</summary>
    private static void MnistStep(Action<string> report, Func<Action, (double Two, double One)> both)
    {
        const int b = 64;
        Conv2DShape c1 = Shape(28, 28, 1, 3, 3, 32, 1, 1, false), c2 = Shape(13, 13, 32, 3, 3, 64, 1, 1, false);
        var p1 = new Pool2DShape(26, 26, 32, 2, 2, 2, 2, 0, 0, 13, 13);
        var p2 = new Pool2DShape(11, 11, 64, 2, 2, 2, 2, 0, 0, 5, 5);
        float[] x = Random(b * 784, 1), w1 = Random(288, 2), b1 = Random(32, 3), w2 = Random(18432, 4), b2 = Random(64, 5);
        float[] w5 = Random(1600 * 128, 6), b5 = Random(128, 7), w6 = Random(1280, 8), b6 = Random(10, 9);
        float[] y0 = new float[b * 21632], y1 = new float[b * 5408], y2 = new float[b * 7744], y3 = new float[b * 1600], y4 = new float[b * 1600];
        float[] y5 = new float[b * 128], y6 = new float[b * 10], prob = new float[b * 10], d6 = new float[b * 10];
        float[] d5 = new float[b * 128], d4 = new float[b * 1600], d3 = new float[b * 1600], d2 = new float[b * 7744];
        float[] d1 = new float[b * 5408], d0 = new float[b * 21632];
        float[] gw1 = new float[288], gb1 = new float[32], gw2 = new float[18432], gb2 = new float[64], gw5 = new float[1600 * 128], gb5 = new float[128];
        float[] gw6 = new float[1280], gb6 = new float[10];
        int[] a1 = new int[b * 5408], a3 = new int[b * 1600];
        float[] labels = new float[b];
        for (int i = 0; i < b; i++) labels[i] = i % 10;
        float[] parameters = Random(225034, 12), gradients = Random(225034, 13);
        var adam = new Compiled.Adam(1e-3);
        var calls = new (string Name, Action Call)[]
        {
            ("conv1 forward", () => Conv2D.Forward<Relu>(y0, default, x, w1, b1, b, c1)),
            ("pool1 forward", () => Pooling.MaxForward(y1, a1, y0, b, p1)),
            ("conv2 forward", () => Conv2D.Forward<Relu>(y2, default, y1, w2, b2, b, c2)),
            ("pool2 forward", () => Pooling.MaxForward(y3, a3, y2, b, p2)),
            ("flatten", () => Flatten.Forward(y4, y3, b, 5, 5, 64)),
            ("dense 1600→128", () => Dense.Forward<Relu>(y5, default, y4, w5, b5, b, 1600, 128)),
            ("dense 128→10", () => Dense.Forward<Identity>(y6, default, y5, w6, b6, b, 128, 10)),
            ("softmax + loss", () => Losses.SoftmaxCrossEntropySparse(prob, d6, y6, labels, b, 10)),
            ("dense 128→10 backward", () => Dense.Backward(d5, gw6, gb6, d6, y5, w6, b, 128, 10)),
            ("relu' 128", () => Activations.Backward<Relu>(d5, y5, default, b * 128)),
            ("dense 1600→128 backward", () => Dense.Backward(d4, gw5, gb5, d5, y4, w5, b, 1600, 128)),
            ("flatten backward", () => Flatten.Backward(d3, d4, b, 5, 5, 64)),
            ("pool2 backward", () => Pooling.MaxBackward(d2, d3, a3, b, p2)),
            ("relu' conv2", () => Activations.Backward<Relu>(d2, y2, default, b * 7744)),
            ("conv2 backward-weights", () => Conv2D.BackwardWeights(gw2, gb2, d2, y1, b, c2)),
            ("conv2 backward-data", () => Conv2D.BackwardData(d1, d2, w2, b, c2)),
            ("pool1 backward", () => Pooling.MaxBackward(d0, d1, a1, b, p1)),
            ("relu' conv1", () => Activations.Backward<Relu>(d0, y0, default, b * 21632)),
            ("conv1 backward-weights", () => Conv2D.BackwardWeights(gw1, gb1, d0, x, b, c1)),
            ("adam", () => adam.Step(parameters, gradients)),
        };
        double two = 0, one = 0;
        foreach (var (name, call) in calls)
        {
            var t = both(call);
            two += t.Two; one += t.One;
            report($"    {name,-24} {t.Two * 1e3,7:F3} ms   one core {t.One * 1e3,7:F3} ms");
        }
        report($"MNIST CNN step, calls timed alone: {two * 1e3:F3} ms on two cores, {one * 1e3:F3} ms on one");
    }

    /// <summary>Runs <paramref name="a"/> for <paramref name="seconds"/>, yielding between calls: tiered compilation
    /// promotes a method after 30 calls and a 100 ms quiet period, then compiles it in the background.</summary>
    private static void Warm(Action a, double seconds)
    {
        long until = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * seconds);
        while (Stopwatch.GetTimestamp() < until) { a(); Thread.Sleep(0); }
    }

    /// <summary>Every kernel call of LeNet-5's generated training step at batch 64 (conv1 and pool1 as one kernel each way), in order, timed alone (best of
    /// repetitions, two cores and one), so the step's time can be split by call.</summary>
    private static void LeNetStep(Action<string> report, Func<Action, (double Two, double One)> both)
    {
        const int b = 64;
        Conv2DShape c1 = Shape(28, 28, 1, 5, 5, 6, 1, 1, true), c2 = Shape(14, 14, 6, 5, 5, 16, 1, 1, false);
        var p1 = new Pool2DShape(28, 28, 6, 2, 2, 2, 2, 0, 0, 14, 14);
        var p2 = new Pool2DShape(10, 10, 16, 2, 2, 2, 2, 0, 0, 5, 5);
        float[] x = Random(b * 784, 1), w1 = Random(150, 2), b1 = Random(6, 3), w2 = Random(2400, 4), b2 = Random(16, 5);
        float[] w5 = Random(48000, 6), b5 = Random(120, 7), w6 = Random(10080, 8), b6 = Random(84, 9), w7 = Random(840, 10), b7 = Random(10, 11);
        float[] y0 = new float[b * 4704], y1 = new float[b * 1176], y2 = new float[b * 1600], y3 = new float[b * 400], y4 = new float[b * 400];
        float[] y5 = new float[b * 120], y6 = new float[b * 84], y7 = new float[b * 10], prob = new float[b * 10], d7 = new float[b * 10];
        float[] d6 = new float[b * 84], d5 = new float[b * 120], d4 = new float[b * 400], d3 = new float[b * 400], d2 = new float[b * 1600];
        float[] d1 = new float[b * 1176], d0 = new float[b * 4704];
        float[] gw1 = new float[150], gb1 = new float[6], gw2 = new float[2400], gb2 = new float[16], gw5 = new float[48000], gb5 = new float[120];
        float[] gw6 = new float[10080], gb6 = new float[84], gw7 = new float[840], gb7 = new float[10];
        int[] a1 = new int[b * 1176], a3 = new int[b * 400];
        float[] labels = new float[b];
        for (int i = 0; i < b; i++) labels[i] = i % 10;
        float[] parameters = Random(61706, 12), gradients = Random(61706, 13);
        var adam = new Compiled.Adam(1e-3);
        var calls = new (string Name, Action Call)[]
        {
            ("conv1 + pool1 forward", () => Conv2D.ForwardMaxPool<Relu>(y1, a1, y0, x, w1, b1, b, c1, p1)),
            ("conv2 forward", () => Conv2D.Forward<Relu>(y2, default, y1, w2, b2, b, c2)),
            ("pool2 forward", () => Pooling.MaxForward(y3, a3, y2, b, p2)),
            ("flatten", () => Flatten.Forward(y4, y3, b, 5, 5, 16)),
            ("dense 400→120", () => Dense.Forward<Relu>(y5, default, y4, w5, b5, b, 400, 120)),
            ("dense 120→84", () => Dense.Forward<Relu>(y6, default, y5, w6, b6, b, 120, 84)),
            ("dense 84→10", () => Dense.Forward<Identity>(y7, default, y6, w7, b7, b, 84, 10)),
            ("softmax + loss", () => Losses.SoftmaxCrossEntropySparse(prob, d7, y7, labels, b, 10)),
            ("dense 84→10 backward", () => Dense.Backward(d6, gw7, gb7, d7, y6, w7, b, 84, 10)),
            ("relu' 84", () => Activations.Backward<Relu>(d6, y6, default, b * 84)),
            ("dense 120→84 backward", () => Dense.Backward(d5, gw6, gb6, d6, y5, w6, b, 120, 84)),
            ("relu' 120", () => Activations.Backward<Relu>(d5, y5, default, b * 120)),
            ("dense 400→120 backward", () => Dense.Backward(d4, gw5, gb5, d5, y4, w5, b, 400, 120)),
            ("flatten backward", () => Flatten.Backward(d3, d4, b, 5, 5, 16)),
            ("pool2 backward", () => Pooling.MaxBackward(d2, d3, a3, b, p2)),
            ("relu' conv2", () => Activations.Backward<Relu>(d2, y2, default, b * 1600)),
            ("conv2 backward-weights", () => Conv2D.BackwardWeights(gw2, gb2, d2, y1, b, c2)),
            ("conv2 backward-data", () => Conv2D.BackwardData(d1, d2, w2, b, c2)),
            ("conv1 + pool1 bwd-weights", () => Conv2D.BackwardWeightsMaxPool<Relu>(gw1, gb1, d0, d1, a1, y1, y0, x, b, c1, p1)),
            ("adam", () => adam.Step(parameters, gradients)),
        };
        // The whole step in order first (on two cores and on one), so every call is timed on the data the step gives it.
        Warm(() => { foreach (var (_, call) in calls) call(); }, 1.0);
        Worker.Disabled = true;
        try { Warm(() => { foreach (var (_, call) in calls) call(); }, 0.5); }
        finally { Worker.Disabled = false; }
        double two = 0, one = 0;
        foreach (var (name, call) in calls)
        {
            var t = both(call);
            two += t.Two; one += t.One;
            report($"    {name,-24} {t.Two * 1e3,7:F3} ms   one core {t.One * 1e3,7:F3} ms");
        }
        report($"LeNet-5 step, calls timed alone: {two * 1e3:F3} ms on two cores, {one * 1e3:F3} ms on one");
        // The generated step itself (the lenet5-b64 workload: pixels in [0, 1), label i % 10, gradients then Adam), the
        // minimum of single steps: a figure that resists load better than the workload's medians.
        var model = new LeNet5(seed: 1);
        (float[] bx, float[] by) = Workloads.RandomBatch(b, LeNet5.InputSize, LeNet5.OutputSize, seed: 7);
        var optimizer = new Compiled.Adam(1e-3);
        void Step()
        {
            model.ComputeGradients(bx, by, default, b);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        // This session's kernels (conv1 + pool1 fused, the in-register dz copy) against the calls they replace, alternated.
        static void Old(bool old) { Conv2D.FuseMaxPool = !old; Conv2D.TransposeInRegisters = !old; }
        (double Two, double One) now = (double.MaxValue, double.MaxValue), before = now;
        try
        {
            for (int round = 0; round < 3; round++)
            {
                Old(false);
                var t = both(Step);
                now = (Math.Min(now.Two, t.Two), Math.Min(now.One, t.One));
                Old(true);
                t = both(Step);
                before = (Math.Min(before.Two, t.Two), Math.Min(before.One, t.One));
            }
        }
        finally { Old(false); }
        report($"LeNet-5 generated step (lenet5-b64), best single step: {now.Two * 1e3:F3} ms on two cores, {now.One * 1e3:F3} ms on one; " +
            $"with conv1 and pool1 separate and the scalar dz copy: {before.Two * 1e3:F3} ms, {before.One * 1e3:F3} ms");
    }
}