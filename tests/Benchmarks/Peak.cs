using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Compiled.CompilerServices;

namespace Compiled.Benchmarks;

/// <summary>
/// The machine's measured FMA peak on the threads our kernels use (the caller and the <see cref="Worker"/>), at the
/// vector width the kernels use: independent chains of fused multiply-adds, in registers, no memory traffic. A GEMM
/// cannot beat it, so each workload's FLOP/s is reported as a fraction of it.
/// </summary>
internal static unsafe class Peak
{
    /// <summary>FMA steps per chunk: 4096 × 12 chains is about 25,000 cycles (5 µs), so both threads share the chunks and
    /// one thread's best of many chunks is rarely interrupted.</summary>
    private const int Steps = 4096, Chunks = 64;

    /// <summary>Independent FMA chains the probe keeps in flight. Zen 5 issues two 512-bit FMAs a cycle with a latency of
    /// 4 cycles, so 8 chains suffice in theory; the probe runs 8, 12, 16 and 24 (AVX2: 8 and 12, its 16 registers hold
    /// no more) and <see cref="Measure"/> takes the best, so a probe one chain count happens to under-read cannot
    /// flatter the fractions.</summary>
    public static int[] ChainCounts => Gemm.Isa == KernelIsa.Vector512 ? [8, 12, 16, 24] : Gemm.Isa == KernelIsa.Vector256 ? [8, 12] : [12];

    private static delegate*<void*, int, void> Probe(int chains) => (Gemm.Isa, chains) switch
    {
        (KernelIsa.Vector512, 8) => &Chunk512x8,
        (KernelIsa.Vector512, 12) => &Chunk512x12,
        (KernelIsa.Vector512, 16) => &Chunk512x16,
        (KernelIsa.Vector512, 24) => &Chunk512x24,
        (KernelIsa.Vector256, 8) => &Chunk256x8,
        (KernelIsa.Vector256, 12) => &Chunk256x12,
        _ => &ChunkScalar,
    };

    private static double FlopsPerChunk(int chains) =>
        2.0 * (Gemm.Isa switch { KernelIsa.Vector512 => 16, KernelIsa.Vector256 => 8, _ => 1 }) * (Gemm.Isa == KernelIsa.Scalar ? 12 : chains) * Steps;

    /// <summary>The best FLOP/s of <paramref name="repeats"/> runs of <see cref="Chunks"/> chunks on the caller and the
    /// worker (one thread when the machine has one core), at every chain count of <see cref="ChainCounts"/>, or at
    /// <paramref name="chains"/> alone when given.</summary>
    public static double Measure(int repeats = 30, int chains = 0)
    {
        if (chains == 0) return ChainCounts.Max(c => Measure(repeats, c));
        delegate*<void*, int, void> chunk = Probe(chains);
        double flopsPerRun = FlopsPerChunk(chains) * Chunks, best = 0;
        float sink = 0;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            if (Worker.Available && Worker.TryEnter())
            {
                try { Worker.Run(chunk, &sink, Chunks); }
                finally { Worker.Exit(); }
            }
            else
            {
                for (int c = 0; c < Chunks; c++) chunk(&sink, c);
            }
            double seconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
            best = Math.Max(best, flopsPerRun / seconds);
        }
        return best;
    }

    /// <summary>The best FLOP/s of one chunk on this thread alone over <paramref name="repeats"/> runs, at every chain
    /// count (or at <paramref name="chains"/>): a single core's ceiling, for kernels timed on one core.</summary>
    public static double MeasureOneThread(int chains = 0, int repeats = 300)
    {
        if (chains == 0) return ChainCounts.Max(c => MeasureOneThread(c, repeats));
        delegate*<void*, int, void> chunk = Probe(chains);
        double flops = FlopsPerChunk(chains), best = 0;
        float sink = 0;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            chunk(&sink, r);
            double seconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
            best = Math.Max(best, flops / seconds);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512x8(void* sink, int chunk)
    {
        Vector512<float> m = Vector512.Create(0.999f), a = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a); c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
        }
        Vector512<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512x12(void* sink, int chunk)
    {
        Vector512<float> m = Vector512.Create(0.999f), a = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a); c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a); c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
        }
        Vector512<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512x16(void* sink, int chunk)
    {
        Vector512<float> m = Vector512.Create(0.999f), a = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a); c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a); c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
            c12 = Vector512.FusedMultiplyAdd(c12, m, a); c13 = Vector512.FusedMultiplyAdd(c13, m, a); c14 = Vector512.FusedMultiplyAdd(c14, m, a); c15 = Vector512.FusedMultiplyAdd(c15, m, a);
        }
        Vector512<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512x24(void* sink, int chunk)
    {
        Vector512<float> m = Vector512.Create(0.999f), a = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0, c16 = c0, c17 = c0, c18 = c0, c19 = c0, c20 = c0, c21 = c0, c22 = c0, c23 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a); c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a); c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
            c12 = Vector512.FusedMultiplyAdd(c12, m, a); c13 = Vector512.FusedMultiplyAdd(c13, m, a); c14 = Vector512.FusedMultiplyAdd(c14, m, a); c15 = Vector512.FusedMultiplyAdd(c15, m, a);
            c16 = Vector512.FusedMultiplyAdd(c16, m, a); c17 = Vector512.FusedMultiplyAdd(c17, m, a); c18 = Vector512.FusedMultiplyAdd(c18, m, a); c19 = Vector512.FusedMultiplyAdd(c19, m, a);
            c20 = Vector512.FusedMultiplyAdd(c20, m, a); c21 = Vector512.FusedMultiplyAdd(c21, m, a); c22 = Vector512.FusedMultiplyAdd(c22, m, a); c23 = Vector512.FusedMultiplyAdd(c23, m, a);
        }
        Vector512<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17 + c18 + c19 + c20 + c21 + c22 + c23;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk256x8(void* sink, int chunk)
    {
        Vector256<float> m = Vector256.Create(0.999f), a = Vector256.Create(1e-3f);
        Vector256<float> c0 = Vector256.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a); c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
            c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a); c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
        }
        Vector256<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk256x12(void* sink, int chunk)
    {
        Vector256<float> m = Vector256.Create(0.999f), a = Vector256.Create(1e-3f);
        Vector256<float> c0 = Vector256.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a); c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
            c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a); c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
            c8 = Vector256.FusedMultiplyAdd(c8, m, a); c9 = Vector256.FusedMultiplyAdd(c9, m, a); c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
        }
        Vector256<float> s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ChunkScalar(void* sink, int chunk)
    {
        float c0 = chunk, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = MathF.FusedMultiplyAdd(c0, 0.999f, 1e-3f); c1 = MathF.FusedMultiplyAdd(c1, 0.999f, 1e-3f);
            c2 = MathF.FusedMultiplyAdd(c2, 0.999f, 1e-3f); c3 = MathF.FusedMultiplyAdd(c3, 0.999f, 1e-3f);
            c4 = MathF.FusedMultiplyAdd(c4, 0.999f, 1e-3f); c5 = MathF.FusedMultiplyAdd(c5, 0.999f, 1e-3f);
            c6 = MathF.FusedMultiplyAdd(c6, 0.999f, 1e-3f); c7 = MathF.FusedMultiplyAdd(c7, 0.999f, 1e-3f);
            c8 = MathF.FusedMultiplyAdd(c8, 0.999f, 1e-3f); c9 = MathF.FusedMultiplyAdd(c9, 0.999f, 1e-3f);
            c10 = MathF.FusedMultiplyAdd(c10, 0.999f, 1e-3f); c11 = MathF.FusedMultiplyAdd(c11, 0.999f, 1e-3f);
        }
        float s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        if (s == 42f) *(float*)sink = s;
    }

    /// <summary>FLOPs of one training step of a dense chain (sizes input first): forward 2·B·Σ in·out, weight gradients
    /// as much again, input gradients for every layer but the first; element-wise work and the optimizer not counted.</summary>
    /// <summary>
    /// FLOPs of one training step of a chain of convolutions and dense layers, given each layer's multiply-adds per sample
    /// (first layer first; <see cref="ConvMacs"/>, or in·out for a dense layer): forward 2·B·macs, weight gradients as much
    /// again, input gradients for every layer but the first. Pooling, activations and the optimizer are not counted.
    /// </summary>
    public static double StepFlops(int batch, params double[] macsPerSample)
    {
        double forward = 0, inputGradients = 0;
        for (int l = 0; l < macsPerSample.Length; l++)
        {
            forward += 2.0 * batch * macsPerSample[l];
            if (l > 0) inputGradients += 2.0 * batch * macsPerSample[l];
        }
        return 2 * forward + inputGradients;
    }

    /// <summary>Multiply-adds per sample of a convolution with a <c>outH × outW × filters</c> output.</summary>
    public static double ConvMacs(int outH, int outW, int filters, int channels, int kh, int kw) =>
        (double)outH * outW * filters * channels * kh * kw;

    public static double MlpStepFlops(int batch, params int[] sizes)
    {
        double forward = 0, inputGradients = 0;
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            double products = 2.0 * batch * sizes[l] * sizes[l + 1];
            forward += products;
            if (l > 0) inputGradients += products;
        }
        return 2 * forward + inputGradients;
    }
}
