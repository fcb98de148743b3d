using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// <c>--gemm-report</c>: the GEMM's GFLOP/s on the large shapes (1024³ forward, the three products of the
/// 784-1024-1024-10 MLP at batch 1024) on one core and on two, each as a fraction of the FMA peak measured in the same
/// run on as many threads; and the peak probe itself at several chain counts, so a probe that under-reads shows.
/// Every figure is the best of many short repetitions, so a loaded machine slows it less than a median.
/// </summary>
internal static unsafe class GemmReport
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>Seconds of CPU time this thread has run (Linux CLOCK_THREAD_CPUTIME_ID), or wall time elsewhere: a
    /// one-core kernel's CPU time leaves out the time other processes held the core.</summary>
    private static double Seconds(Clock clock) =>
        clock != Clock.Wall && OperatingSystem.IsLinux() && ClockGetTime(clock == Clock.Thread ? 3 : 2, out TimeSpec t) == 0
            ? t.Seconds + t.Nanoseconds * 1e-9
            : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>Wall time; this thread's CPU time; the process's CPU time (both kernel threads, spinning included).</summary>
    private enum Clock { Wall, Thread, Process }

    /// <summary>The best seconds per call of <paramref name="a"/> over <paramref name="repeats"/> timed calls.</summary>
    private static double Best(Action a, int repeats, Clock clock)
    {
        for (int i = 0; i < 3; i++) a();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            double start = Seconds(clock);
            a();
            best = Math.Min(best, Seconds(clock) - start);
        }
        return best;
    }

    /// <summary>Prints the report.</summary>
    public static void Run(int repeats)
    {
        Console.WriteLine($"GEMM report, {Gemm.Name(Gemm.Isa)} kernels, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; best of {repeats} repetitions each");
        Console.WriteLine("  (one core: the thread's CPU time, against the one-thread probe; two cores: wall time, against the two-thread probe,");
        Console.WriteLine("  and the process's CPU time (both threads, waits included) against the one-thread probe: 100 % = both cores at their peak)");
        // The probe at several chain counts, one thread and two.
        foreach (int chains in Peak.ChainCounts)
        {
            double one = Peak.MeasureOneThread(chains, repeats * 10), two = Peak.Measure(repeats, chains);
            Console.WriteLine($"  FMA probe, {chains,2} chains: one thread {one / 1e9,6:F1} GFLOP/s, two threads {two / 1e9,6:F1} GFLOP/s");
        }
        double peak1 = Peak.MeasureOneThread(repeats: repeats * 10), peak2 = Peak.Measure(repeats);
        Console.WriteLine($"  peak used below: one thread {peak1 / 1e9:F1}, two threads {peak2 / 1e9:F1} GFLOP/s");

        void Row(string name, double flops, Action a)
        {
            double two = Best(a, repeats, Clock.Wall), twoCpu = Best(a, repeats, Clock.Process);
            Worker.Disabled = true;
            double one;
            try { one = Best(a, repeats, Clock.Thread); }
            finally { Worker.Disabled = false; }
            Console.WriteLine($"  {name,-44} one core {flops / one / 1e9,6:F1} GFLOP/s {flops / one / peak1,4:P0}   two cores {flops / two / 1e9,6:F1} GFLOP/s {flops / two / peak2,4:P0} ({two * 1e3:F3} ms), per CPU-second {flops / twoCpu / peak1,4:P0} of a core");
        }

        const int n = 1024;
        float[] x = Random(n * n, 1), w = Random(n * n, 2), b = Random(n, 3), y = new float[n * n], z = new float[n * n];
        Row("sgemm 1024³ (x·wᵀ + b)", 2.0 * n * n * n, () => Dense.Forward<Identity>(y, default, x, w, b, n, n, n));
        var packed = new PackedWeights(1);
        Row("sgemm 1024³ prepacked wᵀ (prediction)", 2.0 * n * n * n, () => Dense.Forward<Identity>(y, default, x, w, b, n, n, n, packed, 0));
        var linear = new Linear1024(seed: 1);
        Row("sgemm 1024³ through Linear1024.Forward", 2.0 * n * n * n, () => linear.Forward(x, y, n));
        Row("sgemm 1024³ (x·wᵀ + b, relu, keep z)", 2.0 * n * n * n, () => Dense.Forward<Relu>(y, z, x, w, b, n, n, n));
        // The MLP's products at batch 1024.
        const int batch = 1024, inputs = 784, hidden = 1024;
        float[] x0 = Random(batch * inputs, 4), w1 = Random(hidden * inputs, 5), w2 = Random(hidden * hidden, 6);
        float[] h = new float[batch * hidden], hz = new float[batch * hidden], dw1 = new float[w1.Length], db = new float[hidden];
        float[] dw2 = new float[w2.Length], dh = new float[batch * hidden];
        Row("mlp fwd 1024×784 · (1024×784)ᵀ", 2.0 * batch * inputs * hidden, () => Dense.Forward<Relu>(h, hz, x0, w1, b, batch, inputs, hidden));
        var packed1 = new PackedWeights(1);
        Row("mlp fwd 1024×784 prepacked wᵀ (prediction)", 2.0 * batch * inputs * hidden, () => Dense.Forward<Relu>(h, default, x0, w1, b, batch, inputs, hidden, packed1, 0));
        Row("mlp bwd 1024×1024 layer: dw = dzᵀ·x, dx = dz·w", 4.0 * batch * hidden * hidden, () => Dense.Backward(dh, dw2, db, h, hz, w2, batch, hidden, hidden));
        Row("mlp bwd first layer: dw = dzᵀ·x", 2.0 * batch * inputs * hidden, () => Dense.Backward(default, dw1, db, h, x0, w1, batch, inputs, hidden));
        // The batch-64 784-128-10 MLP's large products (the small-shape path: column split, no shared B).
        float[] h64 = new float[64 * 128], z64 = new float[64 * 128], x64 = Random(64 * inputs, 9), w64 = Random(128 * inputs, 10);
        float[] dw64 = new float[w64.Length], db64 = new float[128];
        Row("b64 fwd 64×784 · (128×784)ᵀ", 2.0 * 64 * inputs * 128, () => Dense.Forward<Relu>(h64, z64, x64, w64, b, 64, inputs, 128));
        Row("b64 bwd first layer: dw = dzᵀ·x", 2.0 * 64 * inputs * 128, () => Dense.Backward(default, dw64, db64, h64, x64, w64, 64, inputs, 128));
        // A block-sized product, well under a millisecond on one core: the micro-kernel's own rate.
        const int s = 256;
        float[] xs = Random(s * s, 7), ws = Random(s * s, 8), ys = new float[s * s];
        Row("256³ (x·wᵀ + b)", 2.0 * s * s * s, () => Dense.Forward<Identity>(ys, default, xs, ws, b, s, s, s));
    }
}
