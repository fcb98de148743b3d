using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// The CPU kernel tests switch process-wide settings (the instruction set in use, the second core), so they run
/// as one collection, alone.
/// </summary>
[CollectionDefinition(nameof(CpuKernels), DisableParallelization = true)]
public sealed class CpuKernels;

internal static class Support
{
    /// <summary>Every instruction set this machine can run, widest last.</summary>
    public static IEnumerable<KernelIsa> Isas()
    {
        KernelIsa best = Gemm.DetectIsa();
        for (var isa = KernelIsa.Scalar; isa <= best; isa++) yield return isa;
    }

    /// <summary>Runs <paramref name="action"/> with the kernels limited to <paramref name="isa"/> and the worker on or off.</summary>
    public static void With(KernelIsa isa, bool threads, Action action)
    {
        KernelIsa saved = Gemm.Isa;
        bool savedDisabled = Worker.Disabled;
        Gemm.Isa = isa;
        Worker.Disabled = !threads;
        try { action(); }
        finally { Gemm.Isa = saved; Worker.Disabled = savedDisabled; }
    }

    public static float[] Random(int n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new System.Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    public static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>
    /// Asserts |got − expected| ≤ rel·scale + abs element-wise, where scale is the magnitude of the terms that
    /// were summed (so the bound is relative to the size of the computation), and logs the largest error.
    /// </summary>
    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, ReadOnlySpan<double> scale,
        double rel, double abs, string what)
    {
        Assert.True(got.Length >= expected.Length, $"{what}: output too short");
        double worst = 0, worstRatio = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(got[i] - expected[i]);
            double bound = rel * (scale.IsEmpty ? Math.Abs(expected[i]) : scale[i]) + abs;
            if (double.IsNaN(got[i]) || err / bound > worstRatio) { worstRatio = double.IsNaN(got[i]) ? double.PositiveInfinity : err / bound; at = i; }
            worst = Math.Max(worst, err);
        }
        Log($"{what}: max |err| = {worst:E2}, worst err/bound = {worstRatio:F3} ({expected.Length} values)");
        Assert.True(worstRatio <= 1, $"{what}: element {at} is {(at >= 0 ? got[at] : 0)}, expected {(at >= 0 ? expected[at] : 0)} (err/bound {worstRatio:F2})");
    }

    public static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(a).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));
}
