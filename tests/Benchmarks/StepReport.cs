using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>--step-report</c>: where the MLP 784-128-10 batch-64 training step and its batch-1/64 predictions spend their time,
/// piece by piece (each kernel call of the generated step, then Adam), on one core and on two, beside the FLOP-bound
/// floor of each piece at the FMA peak measured in the same process; then each piece timed inside the step under the
/// old and new claim orders of the <see cref="Worker"/> (<see cref="Affinity"/>). Every figure is the minimum over many
/// short repetitions (each well under 1 ms), which resists a loaded machine far better than medians of long rounds.
/// </summary>
internal static class StepReport
{
    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = scale * (2 * rng.NextFloat() - 1);
        return a;
    }

    /// <summary>The minimum over <paramref name="repeats"/> timings of <paramref name="inner"/> calls, in µs per call.</summary>
    private static double Min(Action a, int repeats = 2000, int inner = 1)
    {
        // Long enough for tiered compilation to have replaced every method on the path with optimized code.
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3 / 4;
        while (Stopwatch.GetTimestamp() < until) { a(); Thread.Sleep(0); }
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) a();
            best = Math.Min(best, (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency / inner);
        }
        return best;
    }

    private static unsafe void Nothing(void* argument, int chunk) { }

    private static float[] s_shared = new float[100_352]; // w0's size: 392 KiB
    private static int s_writer;

    private static unsafe void WriteShared(void* argument, int chunk)
    {
        if (chunk != 1) return;
        float value = *(float*)argument;
        s_shared.AsSpan().Fill(value);
        s_writer = Environment.CurrentManagedThreadId;
    }

    /// <summary>What it costs one core to read 392 KiB that the other core has just written (it sits in the other
    /// core's cache), against reading what it wrote itself: the price of a step whose phases split the same arrays
    /// differently across the cores.</summary>
    private static unsafe void CrossCore()
    {
        double same = double.MaxValue, cross = double.MaxValue;
        int sameCount = 0, crossCount = 0, me = Environment.CurrentManagedThreadId;
        float value = 1f, sink = 0;
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3;
        while (Stopwatch.GetTimestamp() < until && (sameCount < 2000 || crossCount < 2000))
        {
            value += 1f;
            if (Worker.TryEnter())
            {
                try { Worker.Run(&WriteShared, &value, 2); }
                finally { Worker.Exit(); }
            }
            else continue;
            long start = Stopwatch.GetTimestamp();
            sink += System.Numerics.Tensors.TensorPrimitives.Sum<float>(s_shared);
            double us = (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency;
            if (s_writer == me) { same = Math.Min(same, us); sameCount++; }
            else { cross = Math.Min(cross, us); crossCount++; }
        }
        Console.WriteLine($"reading 392 KiB written by the same core: {same:0.0} µs (best of {sameCount}); " +
            $"by the other core: {cross:0.0} µs (best of {crossCount}){(sink == 42 ? " " : "")}");
    }

    /// <summary>
    /// The step as the generated code runs it, on one parameter arena and one gradient arena laid out like the model's
    /// (w0, b0, w1, b1), with a timestamp between pieces: each piece's time inside the step, where it finds the arrays
    /// as the previous pieces (and the previous step's Adam) left them in the caches, rather than repeated alone.
    /// </summary>
    private sealed class Sequence
    {
        public const int Pieces = 7;
        private const int Batch = 64, Inputs = 784, Hidden = 128, Classes = 10;
        private const int N0 = Hidden * Inputs, N1 = Classes * Hidden, Length = N0 + Hidden + N1 + Classes;
        private readonly float[] _parameters = Random(Length, 11, 0.05f), _gradients = new float[Length];
        private readonly float[] _x = Random(Batch * Inputs, 2, 0.5f), _labels = new float[Batch];
        private readonly float[] _h = new float[Batch * Hidden], _logits = new float[Batch * Classes], _probs = new float[Batch * Classes];
        private readonly float[] _dlogits = new float[Batch * Classes], _dh = new float[Batch * Hidden];
        private readonly Adam _adam = new(1e-3);

        public Sequence()
        {
            for (int i = 0; i < Batch; i++) _labels[i] = i % Classes;
        }

        /// <summary>Runs <paramref name="steps"/> steps, lowering each piece's minimum in <paramref name="best"/> (µs)
        /// and the whole step's in best[<see cref="Pieces"/>] unless <paramref name="record"/> is false.</summary>
        public unsafe void Run(int steps, double[] best, bool record = true)
        {
            long* t = stackalloc long[Pieces + 1];
            for (int s = 0; s < steps; s++)
            {
                Span<float> p = _parameters, g = _gradients;
                Span<float> w0 = p.Slice(0, N0), b0 = p.Slice(N0, Hidden), w1 = p.Slice(N0 + Hidden, N1), b1 = p.Slice(N0 + Hidden + N1, Classes);
                Span<float> dw0 = g.Slice(0, N0), db0 = g.Slice(N0, Hidden), dw1 = g.Slice(N0 + Hidden, N1), db1 = g.Slice(N0 + Hidden + N1, Classes);
                t[0] = Stopwatch.GetTimestamp();
                Dense.Forward<Relu>(_h, default, _x, w0, b0, Batch, Inputs, Hidden);
                t[1] = Stopwatch.GetTimestamp();
                Dense.Forward<Identity>(_logits, default, _h, w1, b1, Batch, Hidden, Classes);
                t[2] = Stopwatch.GetTimestamp();
                Losses.SoftmaxCrossEntropySparse(_probs, _dlogits, _logits, _labels, Batch, Classes);
                t[3] = Stopwatch.GetTimestamp();
                Dense.Backward(_dh, dw1, db1, _dlogits, _h, w1, Batch, Hidden, Classes);
                t[4] = Stopwatch.GetTimestamp();
                Activations.Backward<Relu>(_dh, _h, default, Batch * Hidden);
                t[5] = Stopwatch.GetTimestamp();
                Dense.Backward(default, dw0, db0, _dh, _x, w0, Batch, Inputs, Hidden);
                t[6] = Stopwatch.GetTimestamp();
                _adam.Step(p, g);
                t[7] = Stopwatch.GetTimestamp();
                if (!record) continue;
                for (int i = 0; i < Pieces; i++) best[i] = Math.Min(best[i], (t[i + 1] - t[i]) * 1e6 / Stopwatch.Frequency);
                best[Pieces] = Math.Min(best[Pieces], (t[Pieces] - t[0]) * 1e6 / Stopwatch.Frequency);
            }
        }
    }

    /// <summary>
    /// Why the two-core step cost more than its pieces: each piece timed inside the step (<see cref="Sequence"/>)
    /// under the claim order before chunks had a home thread (both threads claim from the front: a chunk runs on
    /// whichever comes first, and the weight gradient is cut by columns) and under the present one (the caller claims
    /// from the front, the worker from the back; the weight gradient cut by rows), beside the pieces timed alone. The
    /// settings alternate in rounds of 100 steps, so a busy spell of the machine falls on all of them alike.
    /// </summary>
    private static void Affinity(string[] names, double[] alone1, double[] alone)
    {
        var settings = new (string Name, bool Affinity, bool Rows)[]
        {
            ("one core", true, true),
            ("interleaved claims, dW0 by columns (before)", false, false),
            ("claims from both ends, dW0 by columns", true, false),
            ("claims from both ends, dW0 by rows (now)", true, true),
        };
        var sequences = new Sequence[settings.Length];
        var best = new double[settings.Length][];
        var models = new Mlp784x128[settings.Length];
        var optimizers = new Adam[settings.Length];
        var modelBest = new double[settings.Length];
        var wakeups = new long[settings.Length];
        var modelTimes = new List<double>[settings.Length];
        var steps = new long[settings.Length];
        float[] x = Random(64 * 784, 8, 0.5f), y = new float[64];
        for (int i = 0; i < y.Length; i++) y[i] = i % 10;
        for (int i = 0; i < settings.Length; i++)
        {
            sequences[i] = new Sequence();
            best[i] = new double[Sequence.Pieces + 1];
            Array.Fill(best[i], double.MaxValue);
            models[i] = new Mlp784x128(1);
            optimizers[i] = new Adam(1e-3);
            modelBest[i] = double.MaxValue;
            modelTimes[i] = new List<double>(100_000);
        }
        int rounds = 0;
        long warm = Stopwatch.GetTimestamp() + Stopwatch.Frequency, until = warm + Stopwatch.Frequency * 8;
        for (long now = Stopwatch.GetTimestamp(); now < until; now = Stopwatch.GetTimestamp(), rounds++)
            for (int i = 0; i < settings.Length; i++)
            {
                Worker.Affinity = settings[i].Affinity;
                Gemm.SplitWeightGradientRows = settings[i].Rows;
                Worker.Disabled = i == 0;
                long woken = Worker.Wakeups;
                sequences[i].Run(100, best[i], record: now >= warm);
                for (int r = 0; r < 100; r++)
                {
                    long start = Stopwatch.GetTimestamp();
                    models[i].ComputeGradients(x, y, default, 64);
                    optimizers[i].Step(models[i].Parameters, models[i].Gradients);
                    double us = (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency;
                    if (now < warm) continue;
                    modelBest[i] = Math.Min(modelBest[i], us);
                    modelTimes[i].Add(us);
                }
                wakeups[i] += Worker.Wakeups - woken;
                steps[i] += 200;
            }
        Worker.Affinity = true;
        Gemm.SplitWeightGradientRows = true;
        Worker.Disabled = false;
        Console.WriteLine($"Each piece inside the step (minimum over {rounds} rounds of 100 steps per setting), by how chunks find their core:");
        for (int i = 0; i < settings.Length; i++) Console.WriteLine($"  ({i}) {settings[i].Name}");
        string Row(string name, string first, Func<int, double> value) =>
            $"{name,-34} {first,21}" + string.Concat(Enumerable.Range(0, settings.Length).Select(i => $" {value(i),10:0.0}"));
        Console.WriteLine($"{"piece",-34} {"alone, 1c",10} {"alone, 2c",10}" + string.Concat(Enumerable.Range(0, settings.Length).Select(i => $" {"(" + i + ")",10}")));
        for (int p = 0; p < names.Length; p++) Console.WriteLine(Row(names[p], $"{alone1[p],10:0.0} {alone[p],10:0.0}", i => best[i][p]));
        Console.WriteLine(Row("sum of the minima", $"{alone1.Sum(),10:0.0} {alone.Sum(),10:0.0}", i => best[i].Take(Sequence.Pieces).Sum()));
        Console.WriteLine(Row("whole step (minimum)", "", i => best[i][Sequence.Pieces]));
        Console.WriteLine(Row("the model's step (minimum)", "", i => modelBest[i]));
        Console.WriteLine(Row("  its median", "", i => Percentile(modelTimes[i], 0.5)));
        Console.WriteLine(Row("  its 90th percentile", "", i => Percentile(modelTimes[i], 0.9)));
        Console.WriteLine(Row("worker woken per 1,000 steps", "", i => 1000.0 * wakeups[i] / steps[i]));
    }

    private static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        values.Sort();
        return values[(int)(q * (values.Count - 1))];
    }

    /// <summary>Prints the report.</summary>
    public static void Run()
    {
        string? forwardReport = Environment.GetEnvironmentVariable("FWD_REPORT");
        if (forwardReport == "dist")
        {
            ForwardReport.RunDistribution();
            return;
        }
        if (forwardReport is "1" or "64" or "1024")
        {
            if (forwardReport != "1024") ForwardReport.Run();
            if (forwardReport != "64") ForwardReport.RunWide();
            return;
        }
        const int batch = 64, inputs = 784, hidden = 128, classes = 10;
        double peak2 = Peak.Measure() / 1e9;
        Worker.Disabled = true;
        double peak1 = Peak.Measure() / 1e9;
        Worker.Disabled = false;
        Console.WriteLine($"MLP 784-128-10, batch {batch}; load average {Machine.LoadAverage()}");
        Console.WriteLine($"FMA peak: {peak1:0.0} GFLOP/s one thread, {peak2:0.0} two (measured now; minima of short runs below)");

        unsafe
        {
            double handOff = Min(() =>
            {
                if (Worker.TryEnter())
                {
                    try { Worker.Run(&Nothing, null, 2); }
                    finally { Worker.Exit(); }
                }
            }, repeats: 20000);
            Console.WriteLine($"hand-off to the worker (2 empty chunks): {handOff:0.00} µs");
        }

        CrossCore();

        var model = new Mlp784x128(1);
        float[] x = Random(batch * inputs, 2, 0.5f), labels = new float[batch];
        for (int i = 0; i < batch; i++) labels[i] = i % classes;
        float[] h = new float[batch * hidden], logits = new float[batch * classes], probs = new float[batch * classes];
        float[] dlogits = new float[batch * classes], dh = new float[batch * hidden];
        float[] w0 = model.Parameters.Slice(0, hidden * inputs).ToArray(), b0 = Random(hidden, 3, 0.1f);
        float[] w1 = Random(classes * hidden, 4, 0.1f), b1 = Random(classes, 5, 0.1f);
        float[] dw0 = new float[hidden * inputs], db0 = new float[hidden], dw1 = new float[classes * hidden], db1 = new float[classes];
        var adam = new Adam(1e-3);
        float[] parameters = model.Parameters.ToArray(), gradients = Random(parameters.Length, 6, 1e-3f);
        float[] y64 = new float[batch * classes], y1 = new float[classes];

        var pieces = new (string Name, double Flops, Action Run)[]
        {
            ("forward 0: relu(x·w0ᵀ + b0)", 2.0 * batch * inputs * hidden, () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden)),
            ("forward 1: h·w1ᵀ + b1", 2.0 * batch * hidden * classes, () => Dense.Forward<Identity>(logits, default, h, w1, b1, batch, hidden, classes)),
            ("loss: softmax cross-entropy", 0, () => Losses.SoftmaxCrossEntropySparse(probs, dlogits, logits, labels, batch, classes)),
            ("backward 1: dw1, db1, dh", 4.0 * batch * hidden * classes, () => Dense.Backward(dh, dw1, db1, dlogits, h, w1, batch, hidden, classes)),
            ("backward relu", 0, () => Activations.Backward<Relu>(dh, h, default, batch * hidden)),
            ("backward 0: dw0 = dzᵀ·x, db0", 2.0 * batch * inputs * hidden, () => Dense.Backward(default, dw0, db0, dh, x, w0, batch, inputs, hidden)),
            ("Adam over 101,770 parameters", 0, () => adam.Step(parameters, gradients)),
        };
        Console.WriteLine($"{"piece",-34} {"1 core µs",10} {"2 cores µs",10} {"floor 1c",9} {"floor 2c",9}");
        double sum1 = 0, sum2 = 0;
        var alone = new double[pieces.Length];
        var alone1 = new double[pieces.Length];
        int index = 0;
        foreach (var (name, flops, run) in pieces)
        {
            Worker.Disabled = true;
            double one = Min(run);
            Worker.Disabled = false;
            double two = Min(run);
            sum1 += one; sum2 += two;
            alone1[index] = one;
            alone[index++] = two;
            Console.WriteLine($"{name,-34} {one,10:0.0} {two,10:0.0} {flops / peak1 / 1e3,9:0.0} {flops / peak2 / 1e3,9:0.0}");
        }
        Console.WriteLine($"{"sum of pieces",-34} {sum1,10:0.0} {sum2,10:0.0}");
        // Adam on 16,384 parameters (256 KiB of p, g, m, v: in L2, below the two-core threshold) stepped 4 times per
        // timing, scaled to the model's 101,770, on one core: each element takes one IEEE square root and one division
        // (the results must match PyTorch's), and this shows what they cost when nothing has to come from L3.
        {
            var small = new Adam(1e-3);
            float[] sp = Random(16_384, 12, 0.05f), sg = Random(16_384, 13, 1e-3f);
            Worker.Disabled = true;
            double inL2 = Min(() => { for (int r = 0; r < 4; r++) small.Step(sp, sg); }, repeats: 1000) / (4 * 16_384) * 101_770;
            Worker.Disabled = false;
            Console.WriteLine($"{"  Adam, data in L2 (scaled)",-34} {inL2,10:0.0} {inL2 / 2,10:0.0}   (16,384 parameters, per 101,770; two cores: half)");
        }
        Affinity(pieces.Select(p => p.Name).ToArray(), alone1, alone);
        if (Environment.GetEnvironmentVariable("STEP_REPORT") == "step") return;

        float[] mx = Random(batch * inputs, 8, 0.5f), my = labels;
        var modelAdam = new Adam(1e-3);
        Action step = () => { model.ComputeGradients(mx, my, default, batch); modelAdam.Step(model.Parameters, model.Gradients); };
        Worker.Disabled = true;
        double step1 = Min(step);
        Worker.Disabled = false;
        double step2 = Min(step);
        double stepFlops = 2.0 * batch * (2.0 * inputs * hidden + 3.0 * hidden * classes);
        Console.WriteLine($"{"whole step (ComputeGradients+Adam)",-34} {step1,10:0.0} {step2,10:0.0} {stepFlops / peak1 / 1e3,9:0.0} {stepFlops / peak2 / 1e3,9:0.0}" +
            $"   = {stepFlops / step2 / 1e3 / peak2:P0} of the 2-thread peak");
        foreach (var (name, run) in new (string, Action)[]
        {
            ("  ComputeGradients alone", () => model.ComputeGradients(mx, my, default, batch)),
            ("  Adam on the model's arenas", () => modelAdam.Step(model.Parameters, model.Gradients)),
        })
        {
            Worker.Disabled = true;
            double one = Min(run);
            Worker.Disabled = false;
            double two = Min(run);
            Console.WriteLine($"{name,-34} {one,10:0.0} {two,10:0.0}");
        }
        // The packed path's fixed cost in forward 0: at 8 rows (one row tile) the transposed packing of w is the same
        // as at 64, the product an eighth.
        float[] h8 = new float[8 * hidden];
        Worker.Disabled = true;
        double f8 = Min(() => Dense.Forward<Relu>(h8, default, x, w0, b0, 8, inputs, hidden));
        double f64 = Min(() => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden));
        Worker.Disabled = false;
        double product = (f64 - f8) * 8 / 7;
        Console.WriteLine($"forward 0 on one core: {f64:0.0} µs at 64 rows, {f8:0.0} µs at 8 rows → product {product:0.0} µs " +
            $"({2.0 * batch * inputs * hidden / product / 1e3 / peak1:P0} of one core's peak), packing wᵀ and fixed costs {f8 - product / 8:0.0} µs");
        // The inference forward over wᵀ packed once (what the generated Forward runs), A packed per call or read in place.
        var cache = new PackedWeights(1);
        foreach ((bool inPlace, bool rows) in new[] { (false, false), (true, false), (true, true) })
        {
            Gemm.InPlaceA = inPlace;
            Gemm.SmallRowSplit = rows;
            Action prepacked = () => Dense.Forward<Relu>(h, default, x, w0, b0, batch, inputs, hidden, cache, 0);
            Worker.Disabled = true;
            double one = Min(prepacked);
            Worker.Disabled = false;
            double two = Min(prepacked);
            Console.WriteLine($"{"forward 0 prepacked wᵀ, A " + (inPlace ? "in place" : "packed") + (rows ? ", rows" : ""),-34} {one,10:0.0} {two,10:0.0}");
        }
        Gemm.InPlaceA = true;
        Gemm.SmallRowSplit = false;
        Action infer64 = () => model.Forward(mx, y64, batch);
        Action infer1 = () => model.Forward(mx.AsSpan(0, inputs), y1, 1);
        Worker.Disabled = true;
        double i64a = Min(infer64), i1a = Min(infer1);
        Worker.Disabled = false;
        double i64b = Min(infer64), i1b = Min(infer1);
        Console.WriteLine($"{"predict batch 64",-34} {i64a,10:0.0} {i64b,10:0.0}");
        Console.WriteLine($"{"predict batch 1",-34} {i1a,10:0.0} {i1b,10:0.0}");

        // ONNX Runtime on the same model and weights, timed the same way (minima of single runs), with 1 and 2 intra-op threads.
        foreach (int batchSize in new[] { 1, 64 })
        {
            double[] ort = new double[2];
            for (int threads = 1; threads <= 2; threads++)
            {
                using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
                {
                    IntraOpNumThreads = threads, InterOpNumThreads = 1,
                    ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
                    GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
                };
                using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Compiled.Onnx.OnnxExport.ToOnnx(model), options);
                float[] theirs = new float[batchSize * classes], ours = new float[batchSize * classes];
                using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(mx, [batchSize, inputs]);
                using var output = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(theirs, [batchSize, classes]);
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                string[] inNames = ["input"], outNames = ["output"];
                Microsoft.ML.OnnxRuntime.OrtValue[] ins = [input], outs = [output];
                ort[threads - 1] = Min(() => session.Run(runOptions, inNames, ins, outNames, outs));
                model.Forward(mx.AsSpan(0, batchSize * inputs), ours, batchSize);
                double err = 0;
                for (int i = 0; i < ours.Length; i++) err = Math.Max(err, Math.Abs(ours[i] - theirs[i]));
                if (err > 1e-4) throw new InvalidOperationException($"ORT differs from Forward by {err:E2}");
            }
            double one = batchSize == 1 ? i1a : i64a, two = batchSize == 1 ? i1b : i64b;
            Console.WriteLine($"{"  ONNX Runtime batch " + batchSize,-34} {ort[0],10:0.0} {ort[1],10:0.0}   ORT/ours {ort[0] / one:0.00}x on 1 thread, {ort[1] / two:0.00}x on 2");
        }
    }
}
