using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>--lstm-report</c>: where the character LSTM's training step (<see cref="CharLstm"/>, batch 32, 64 steps: Embedding
/// 65x64, Lstm(128) over every step, per-step Dense(65) with softmax cross-entropy, then Adam) spends its time, call by
/// call of the generated step, on one core and on two, beside the FLOP-bound floor of each call at the FMA peak measured
/// in the same process. Every figure is the minimum over repeated runs (each call alone, warmed up), which resists a
/// loaded machine far better than medians of long rounds.
/// </summary>
internal static class LstmReport
{
    private const int Batch = 32, Steps = 64, Vocabulary = 65, Width = 64, Hidden = 128, Classes = 65;
    private const int Rows = Batch * Steps, G = 4 * Hidden;

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = scale * (2 * rng.NextFloat() - 1);
        return a;
    }

    /// <summary>The minimum of single runs of <paramref name="a"/> in µs: after a warm-up long enough for tiered
    /// compilation to settle, runs for about a second (at least 20 runs, at most 2000).</summary>
    private static double Min(Action a)
    {
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3 / 4;
        while (Stopwatch.GetTimestamp() < until) { a(); Thread.Sleep(0); }
        double best = double.MaxValue;
        long stop = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        for (int r = 0; r < 2000 && (r < 20 || Stopwatch.GetTimestamp() < stop); r++)
        {
            long start = Stopwatch.GetTimestamp();
            a();
            best = Math.Min(best, (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency);
        }
        return best;
    }

    /// <summary>Prints the report.</summary>
    public static void Run()
    {
        double peak2 = Peak.Measure() / 1e9;
        Worker.Disabled = true;
        double peak1 = Peak.Measure() / 1e9;
        Worker.Disabled = false;
        Console.WriteLine($"char-lstm: batch {Batch}, {Steps} steps, Embedding {Vocabulary}x{Width}, Lstm({Hidden}), Dense({Classes}); " +
            $"load average {Machine.LoadAverage()}");
        Console.WriteLine($"FMA peak: {peak1:0.0} GFLOP/s one thread, {peak2:0.0} two (measured now; minima of single calls below)");

        var model = new CharLstm(1);
        var rng = new Random(3);
        float[] ids = new float[Rows], labels = new float[Rows];
        for (int i = 0; i < Rows; i++) { ids[i] = rng.Next(Vocabulary); labels[i] = rng.Next(Classes); }
        // The model's initial weights (PyTorch's U(±1/√H) for the LSTM), copied out, so the gates see realistic inputs.
        float[] p = model.Parameters.ToArray();
        int at = 0;
        float[] Take(int n) { float[] t = p.AsSpan(at, n).ToArray(); at += n; return t; }
        float[] e = Take(Vocabulary * Width), wih = Take(G * Width), whh = Take(G * Hidden), bih = Take(G), bhh = Take(G);
        float[] w2 = Take(Classes * Hidden), b2 = Take(Classes);
        float[] emb = new float[Rows * Width], xp = new float[Rows * G], states = new float[Rows * Hidden],
            saved = new float[Rows * 5 * Hidden], hp = new float[Batch * G], y = new float[Rows * Hidden];
        float[] logits = new float[Rows * Classes], probs = new float[Rows * Classes], dlogits = new float[Rows * Classes];
        float[] dy = new float[Rows * Hidden], dgx = new float[Rows * G], dh = new float[Batch * Hidden], carry = new float[Batch * Hidden];
        float[] dw2 = new float[Classes * Hidden], db2 = new float[Classes], dwhh = new float[G * Hidden],
            dwih = new float[G * Width], dbih = new float[G], demb = new float[Rows * Width], de = new float[Vocabulary * Width];
        var adam = new Adam(1e-3);
        float[] parameters = model.Parameters.ToArray(), gradients = Random(parameters.Length, 6, 1e-3f);

        (string Name, double Flops, Action Run)[] Pieces() =>
        [
            ("embedding forward", 0, () => Embedding.Forward(emb, ids, e, Batch, Steps, Vocabulary, Width)),
            ("input projection, per token (65 rows)", 2.0 * Vocabulary * Width * G,
                () => EmbeddedProjection.Forward(xp, emb, ids, e, wih, bih, Batch, Steps, Vocabulary, Width, G)),
            ("recurrent forward (64 steps)", 2.0 * Rows * Hidden * G,
                () => Recurrent.Forward<LstmCell>(y, states, saved, hp, xp, whh, bhh, Batch, Steps, Hidden, true)),
            ("per-step Dense h·W2ᵀ + b2", 2.0 * Rows * Hidden * Classes,
                () => Dense.Forward<Identity>(logits, default, y, w2, b2, Rows, Hidden, Classes)),
            ("softmax cross-entropy (2048 rows)", 0,
                () => Losses.SoftmaxCrossEntropySparse(probs, dlogits, logits, labels, Rows, Classes)),
            ("Dense backward dW2, db2, dh", 4.0 * Rows * Hidden * Classes,
                () => Dense.Backward(dy, dw2, db2, dlogits, y, w2, Rows, Hidden, Classes)),
            ("recurrent backward (64 steps)", 2.0 * Rows * Hidden * G,
                () => Recurrent.Backward<LstmCell>(dgx, default, dh, carry, dy, saved, states, whh, Batch, Steps, Hidden, true)),
            ("dW_hh = Σ dgᵀ·h (db_hh: db_ih's copy)", 2.0 * Rows * Hidden * G,
                () => Dense.Backward(default, dwhh, default, dgx, states, whh, Rows, Hidden, G)),
            ("dW_ih, db_ih, dE per token (65 rows)", 4.0 * Vocabulary * Width * G,
                () => EmbeddedProjection.Backward(de, dwih, dbih, demb, dgx, emb, ids, e, wih, Batch, Steps, Vocabulary, Width, G)),
            ($"Adam over {parameters.Length:N0} parameters", 0, () => adam.Step(parameters, gradients)),
        ];
        var list = Pieces();
        foreach (var piece in list) piece.Run(); // in order once, so every piece's inputs hold what the real step gives it
        Console.WriteLine($"{"piece",-38} {"1 core µs",10} {"2 cores µs",10} {"floor 1c",9} {"floor 2c",9} {"% peak 2c",9}");
        double sum1 = 0, sum2 = 0, flops = 0;
        // LSTM_REPORT=text: only the pieces whose name holds it.
        string? only = Environment.GetEnvironmentVariable("LSTM_REPORT");
        foreach (var (name, f, run) in list)
        {
            if (only is { Length: > 0 } && !name.Contains(only, StringComparison.Ordinal)) continue;
            Worker.Disabled = true;
            double one = Min(run);
            Worker.Disabled = false;
            double two = Min(run);
            sum1 += one; sum2 += two; flops += f;
            Console.WriteLine($"{name,-38} {one,10:0.0} {two,10:0.0} {f / peak1 / 1e3,9:0.0} {f / peak2 / 1e3,9:0.0} " +
                $"{(f > 0 ? (f / two / 1e3 / peak2).ToString("P0") : ""),9}");
        }
        Console.WriteLine($"{"sum of pieces",-38} {sum1,10:0.0} {sum2,10:0.0} {flops / peak1 / 1e3,9:0.0} {flops / peak2 / 1e3,9:0.0}");
        if (only is { Length: > 0 }) return;
        // Before the per-token form (the generated step until then): the same products over all 2048 rows.
        foreach (var (name, f, run) in new (string, double, Action)[]
        {
            ("  per row: input projection", 2.0 * Rows * Width * G, () => Dense.Forward<Identity>(xp, default, emb, wih, bih, Rows, Width, G)),
            ("  per row: dW_ih, db_ih, dx = dg·W_ih", 4.0 * Rows * Width * G, () => Dense.Backward(demb, dwih, dbih, dgx, emb, wih, Rows, Width, G)),
            ("  per row: embedding backward", 0, () => Embedding.Backward(de, demb, ids, Batch, Steps, Vocabulary, Width)),
        })
        {
            Worker.Disabled = true;
            double one = Min(run);
            Worker.Disabled = false;
            double two = Min(run);
            Console.WriteLine($"{name,-38} {one,10:0.0} {two,10:0.0} {f / peak1 / 1e3,9:0.0} {f / peak2 / 1e3,9:0.0}");
        }
        // The model's FLOPs as PyTorch computes them (every product over all rows, as the benchmark row counts them).
        double modelFlops = 3 * 2.0 * Rows * ((double)Width * G + (double)Hidden * G + (double)Hidden * Classes);

        var modelAdam = new Adam(1e-3);
        float[] x = ids, t = labels;
        Action step = () => { model.ComputeGradients(x, t, default, Batch); modelAdam.Step(model.Parameters, model.Gradients); };
        Worker.Disabled = true;
        double step1 = Min(step);
        Worker.Disabled = false;
        double step2 = Min(step);
        Console.WriteLine($"{"whole step (ComputeGradients+Adam)",-38} {step1,10:0.0} {step2,10:0.0} {flops / peak1 / 1e3,9:0.0} " +
            $"{flops / peak2 / 1e3,9:0.0} {flops / step2 / 1e3 / peak2,9:P0}");
        Console.WriteLine($"FLOPs performed {flops / 1e6:0} M; the model's (every product over all rows, the benchmark row's count) " +
            $"{modelFlops / 1e6:0} M = {modelFlops / step2 / 1e3 / peak2:P0} of the two-thread peak");
    }
}
