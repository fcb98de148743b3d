using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>FWD_REPORT=1 … --step-report</c>: the batch-64 inference forward of the MLP 784-128-10's first layer (64 × 784 →
/// 128, relu) in each of its forms, alternated round by round so load hits them alike: per-call packing of wᵀ (the
/// training forward), wᵀ prepacked with A packed, with A read in place, and A in place with the rows halved between the
/// cores; then the prediction's tail (layer 1, 64 × 128 → 10, on its own with h in the caller's cache; the softmax on its
/// own; layer 0 then 1, and then 1 and the softmax; the same with h on a 64-byte line and 16 bytes past one, which is
/// where an array's first element lies unless the workspace aligns it: the line across the cores' column boundary is
/// then written by both in every row), and the whole batch-64 and batch-1 predictions. Each figure is
/// the best of the rounds' minima (µs per call).
/// </summary>
internal static class ForwardReport
{
    private static double Min(Action a, int repeats)
    {
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            a();
            best = Math.Min(best, (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency);
        }
        return best;
    }

    public static void Run()
    {
        const int batch = 64, inputs = 784, hidden = 128;
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("FWD_ROUNDS"), out int r) ? r : 12;
        var rng = new Rng(2);
        float[] x = new float[batch * inputs], h = new float[batch * hidden], b0 = new float[hidden];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat() - 0.5f;
        var model = new Mlp784x128(1);
        float[] w0 = model.Parameters.Slice(0, hidden * inputs).ToArray();
        float[] y64 = new float[batch * 10], y1 = new float[10];
        var cache = new PackedWeights(2);
        // The prediction's tail: layer 1 (64 × 128 → 10) and the softmax, alone and after layer 0.
        float[] w1 = model.Parameters.Slice(hidden * inputs + hidden, 10 * hidden).ToArray();
        float[] b1 = model.Parameters.Slice(hidden * inputs + hidden + 10 * hidden, 10).ToArray();
        float[] logits = new float[batch * 10], probs = new float[batch * 10];
        // ONNX Runtime on the same model: a session with 1 intra-op thread for the one-core column, 2 for the other.
        var sessions = new Microsoft.ML.OnnxRuntime.InferenceSession[2];
        var runs = new Action[2, 2]; // [threads - 1, batch 64 / 1]
        byte[] onnx = Compiled.Onnx.OnnxExport.ToOnnx(model);
        float[] t64 = new float[batch * 10], t1 = new float[10];
        var values = new List<IDisposable>();
        for (int threads = 1; threads <= 2; threads++)
        {
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
            {
                IntraOpNumThreads = threads, InterOpNumThreads = 1,
                ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            var session = sessions[threads - 1] = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx, options);
            var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
            values.Add(runOptions);
            for (int which = 0; which < 2; which++)
            {
                int n = which == 0 ? batch : 1;
                var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [n, inputs]);
                var output = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(which == 0 ? t64 : t1, [n, 10]);
                values.Add(input);
                values.Add(output);
                Microsoft.ML.OnnxRuntime.OrtValue[] ins = [input], outs = [output];
                string[] inNames = ["input"], outNames = ["output"];
                runs[threads - 1, which] = () => session.Run(runOptions, inNames, ins, outNames, outs);
            }
        }
        float[] hbuf = GC.AllocateArray<float>(batch * hidden + 64, pinned: true);
        int alignOff;
        unsafe { fixed (float* ph = hbuf) alignOff = (int)((64 - ((nint)ph & 63)) & 63) / 4; }
        int cores = 1;
        var variants = new (string Name, Action Setup, Action Run)[]
        {
            ("per-call packing of wᵀ", () => { Gemm.PanelChunks = false; }, () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden)),
            ("prepacked wᵀ, A packed", () => { Gemm.InPlaceA = false; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0)),
            ("prepacked wᵀ, A in place", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0)),
            ("prepacked wᵀ, A in place, rows", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = true; Gemm.PanelChunks = false; },
                () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0)),
            ("prepacked wᵀ, A in place, panel chunks", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = true; },
                () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0)),
            ("dense 1 alone (h in this core's cache)", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => Dense.Forward<Identity>(logits, default, h, w1, b1, batch, hidden, 10, cache, 1)),
            ("softmax alone (64 × 10)", () => { }, () => Activations.Softmax(probs, logits, batch, 10)),
            ("dense 0 + dense 1", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => { Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0); Dense.Forward<Identity>(logits, default, h, w1, b1, batch, hidden, 10, cache, 1); }),
            ("dense 0 + dense 1 + softmax", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => { Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0); Dense.Forward<Identity>(logits, default, h, w1, b1, batch, hidden, 10, cache, 1); Activations.Softmax(probs, logits, batch, 10); }),
            ("d0+d1+sm, h 64-byte aligned", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => { var hh = hbuf.AsSpan(alignOff, batch * hidden); Dense.Forward<Relu>(hh, default, x, w0, b0, batch, inputs, hidden, cache, 0); Dense.Forward<Identity>(logits, default, hh, w1, b1, batch, hidden, 10, cache, 1); Activations.Softmax(probs, logits, batch, 10); }),
            ("d0+d1+sm, h at 16 bytes past 64", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => { var hh = hbuf.AsSpan(alignOff + 4, batch * hidden); Dense.Forward<Relu>(hh, default, x, w0, b0, batch, inputs, hidden, cache, 0); Dense.Forward<Identity>(logits, default, hh, w1, b1, batch, hidden, 10, cache, 1); Activations.Softmax(probs, logits, batch, 10); }),
            ("predict batch 64 (model.Forward)", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => model.Forward(x, y64, batch)),
            ("predict batch 64, panel chunks", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = true; },
                () => model.Forward(x, y64, batch)),
            ("predict batch 1", () => { Gemm.InPlaceA = true; Gemm.SmallRowSplit = false; Gemm.PanelChunks = false; },
                () => model.Forward(x.AsSpan(0, inputs), y1, 1)),
            ("ONNX Runtime batch 64 (1 or 2 threads)", () => { }, () => runs[cores - 1, 0]()),
            ("ONNX Runtime batch 1 (1 or 2 threads)", () => { }, () => runs[cores - 1, 1]()),
        };
        var best = new double[variants.Length, 2];
        for (int i = 0; i < variants.Length; i++) best[i, 0] = best[i, 1] = double.MaxValue;
        foreach (var v in variants) { v.Setup(); for (int i = 0; i < 2000; i++) v.Run(); } // JIT tiers
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < variants.Length; i++)
                for (cores = 1; cores <= 2; cores++)
                {
                    variants[i].Setup();
                    Worker.Disabled = cores == 1;
                    best[i, cores - 1] = Math.Min(best[i, cores - 1], Min(variants[i].Run, 300));
                }
        Worker.Disabled = false;
        Gemm.InPlaceA = true;
        Gemm.SmallRowSplit = false;
        Gemm.PanelChunks = false;
        foreach (IDisposable d in values) d.Dispose();
        foreach (var session in sessions) session.Dispose();
        Console.WriteLine($"forward 0 (64 × 784 → 128, relu) and predictions, best of {rounds} alternated rounds; load average {Machine.LoadAverage()}");
        Console.WriteLine($"{"form",-40} {"1 core µs",10} {"2 cores µs",10}");
        for (int i = 0; i < variants.Length; i++)
            Console.WriteLine($"{variants[i].Name,-40} {best[i, 0],10:0.0} {best[i, 1],10:0.0}");
        int ours64 = 11, ours1 = 13, ort64 = 14, ort1 = 15;
        Console.WriteLine($"ORT/ours batch 64: {best[ort64, 0] / best[ours64, 0]:0.00}x on 1 core, {best[ort64, 1] / best[ours64, 1]:0.00}x on 2; " +
            $"batch 1: {best[ort1, 0] / best[ours1, 0]:0.00}x, {best[ort1, 1] / best[ours1, 1]:0.00}x");
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds, Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>This thread's CPU time in seconds (Linux), else wall time.</summary>
    private static double ThreadSeconds() =>
        OperatingSystem.IsLinux() && ClockGetTime(3, out TimeSpec t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9
            : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary><c>FWD_REPORT=1024</c>: the batch-1024 prediction of the MLP 784-1024-1024-10 on one core, as the thread's
    /// CPU time (best of alternated rounds; it leaves out the time other processes held the core): prepacked weights,
    /// per-call packing, and ONNX Runtime with one intra-op thread (which runs on the calling thread).</summary>
    public static void RunWide()
    {
        const int batch = 1024, inputs = 784;
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("FWD_ROUNDS"), out int r) ? r : 12;
        var rng = new Rng(3);
        float[] x = new float[batch * inputs], ours = new float[batch * 10], theirs = new float[batch * 10];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat() - 0.5f;
        var model = new Mlp784x1024x1024(1);
        using var ort = new OrtRun(model, threads: 1, x, theirs, batch);
        var variants = new (string Name, Action Run)[]
        {
            ("ours, prepacked weights", () => { Gemm.UsePrepacked = true; Gemm.InPlaceA = true; model.Forward(x, ours, batch); }),
            ("ours, prepacked, A packed", () => { Gemm.UsePrepacked = true; Gemm.InPlaceA = false; model.Forward(x, ours, batch); }),
            ("ours, per-call packing", () => { Gemm.UsePrepacked = false; Gemm.InPlaceA = true; model.Forward(x, ours, batch); }),
            ("ONNX Runtime, 1 thread", ort.Run),
        };
        Worker.Disabled = true;
        var best = new double[variants.Length];
        Array.Fill(best, double.MaxValue);
        foreach (var v in variants) for (int i = 0; i < 5; i++) v.Run();
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < variants.Length; i++)
            {
                double start = ThreadSeconds();
                variants[i].Run();
                best[i] = Math.Min(best[i], ThreadSeconds() - start);
            }
        Worker.Disabled = false;
        Gemm.UsePrepacked = true;
        Gemm.InPlaceA = true;
        double err = 0;
        for (int i = 0; i < ours.Length; i++) err = Math.Max(err, Math.Abs(ours[i] - theirs[i]));
        double flops = 2.0 * batch * (inputs * 1024 + 1024 * 1024 + 1024 * 10);
        double peak = Peak.MeasureOneThread() / 1e9;
        Console.WriteLine($"batch-1024 prediction, MLP 784-1024-1024-10, one core (thread CPU time), best of {rounds}; load average {Machine.LoadAverage()}; max |ours − ORT| {err:E1}");
        foreach (var (v, i) in variants.Select((v, i) => (v, i)))
            Console.WriteLine($"{v.Name,-28} {best[i] * 1e3,8:0.00} ms  {flops / best[i] / 1e9 / peak,5:P0} of a core's peak");
        Console.WriteLine($"ORT/ours: {best[3] / best[0]:0.00}x prepacked, {best[3] / best[1]:0.00}x prepacked with A packed, {best[3] / best[2]:0.00}x per-call packing");
    }
    /// <summary><c>FWD_REPORT=dist</c>: the distribution of back-to-back batch-64 predictions (each call timed), ours and
    /// ONNX Runtime's (2 intra-op threads) in alternating blocks of 1,000 calls: the benchmark's rows are means of
    /// back-to-back calls, so a slow tail there weighs as much as the typical call.</summary>
    public static void RunDistribution()
    {
        const int batch = 64, inputs = 784, blocks = 20, perBlock = 1000;
        var rng = new Rng(2);
        float[] x = new float[batch * inputs], ours = new float[batch * 10], theirs = new float[batch * 10];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat() - 0.5f;
        var model = new Mlp784x128(1);
        using var ort = new OrtRun(model, threads: 2, x, theirs, batch);
        bool noOrt = Environment.GetEnvironmentVariable("FWD_DIST_NO_ORT") == "1"; // ours twice: no ORT threads at all
        var runs = new Action[] { () => model.Forward(x, ours, batch), noOrt ? () => model.Forward(x, ours, batch) : ort.Run };
        var times = new List<double>[] { new(), new() };
        foreach (Action a in runs) for (int i = 0; i < 3000; i++) a();
        int gap = int.TryParse(Environment.GetEnvironmentVariable("FWD_DIST_GAP_MS"), out int g) ? g : 0;
        for (int b = 0; b < blocks; b++)
            for (int which = 0; which < 2; which++, Thread.Sleep(gap))
                for (int i = 0; i < perBlock; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    runs[which]();
                    times[which].Add((Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency);
                }
        Console.WriteLine($"batch-64 prediction, {blocks} alternating blocks of {perBlock} back-to-back calls; load average {Machine.LoadAverage()}");
        Console.WriteLine($"{"",-14} {"min",7} {"p10",7} {"p50",7} {"p90",7} {"p99",7} {"mean",7} µs");
        string[] names = ["ours", "ONNX Runtime"];
        var t0 = new[] { new List<double>(times[0]), new List<double>(times[1]) }; // in call order
        for (int which = 0; which < 2; which++)
        {
            List<double> t = times[which];
            t.Sort();
            double P(double q) => t[(int)(q * (t.Count - 1))];
            double early = Enumerable.Range(0, blocks).SelectMany(b => t0[which].GetRange(b * perBlock, 100)).Average();
            double late = Enumerable.Range(0, blocks).SelectMany(b => t0[which].GetRange(b * perBlock + perBlock - 100, 100)).Average();
            Console.WriteLine($"{names[which],-14} {t[0],7:0.0} {P(0.1),7:0.0} {P(0.5),7:0.0} {P(0.9),7:0.0} {P(0.99),7:0.0} {t.Average(),7:0.0}" +
                $"   mean of each block's first 100 calls {early:0.0}, last 100 {late:0.0}");
        }
    }
    /// <summary>ONNX Runtime's CPU provider on the model <see cref="Compiled.Onnx.OnnxExport"/> writes, with the input
    /// and output bound to our arrays (nothing allocated per run).</summary>
    private sealed class OrtRun : IDisposable
    {
        private readonly Microsoft.ML.OnnxRuntime.InferenceSession _session;
        private readonly Microsoft.ML.OnnxRuntime.RunOptions _options = new();
        private readonly Microsoft.ML.OnnxRuntime.OrtValue[] _inputs, _outputs;
        private static readonly string[] s_inputNames = ["input"], s_outputNames = ["output"];

        public OrtRun(IModel model, int threads, float[] x, float[] y, int batch)
        {
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
            {
                IntraOpNumThreads = threads, InterOpNumThreads = 1,
                ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new Microsoft.ML.OnnxRuntime.InferenceSession(Compiled.Onnx.OnnxExport.ToOnnx(model), options);
            _inputs = [Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [batch, model.InputSize])];
            _outputs = [Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(y, [batch, model.OutputSize])];
        }

        public void Run() => _session.Run(_options, s_inputNames, _inputs, s_outputNames, _outputs);

        public void Dispose()
        {
            _inputs[0].Dispose();
            _outputs[0].Dispose();
            _options.Dispose();
            _session.Dispose();
        }
    }
}
