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
    /// <summary>FMA instructions per chunk (12 chains × 4096 steps): about 50 µs, so both threads share the chunks.</summary>
    private const int Steps = 4096, Chains = 12, Chunks = 64;

    /// <summary>The best FLOP/s of <paramref name="repeats"/> runs of <see cref="Chunks"/> chunks on the caller and the
    /// worker (one thread when the machine has one core).</summary>
    public static double Measure(int repeats = 30)
    {
        int lanes = Gemm.Isa switch { KernelIsa.Vector512 => 16, KernelIsa.Vector256 => 8, _ => 1 };
        delegate*<void*, int, void> chunk = Gemm.Isa switch
        {
            KernelIsa.Vector512 => &Chunk512,
            KernelIsa.Vector256 => &Chunk256,
            _ => &ChunkScalar,
        };
        double flopsPerRun = 2.0 * lanes * Chains * Steps * Chunks, best = 0;
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

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512(void* sink, int chunk)
    {
        Vector512<float> m = Vector512.Create(0.999f), a = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector512<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
        }
        Vector512<float> s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar(); // keeps the chains alive
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Chunk256(void* sink, int chunk)
    {
        Vector256<float> m = Vector256.Create(0.999f), a = Vector256.Create(1e-3f);
        Vector256<float> c0 = Vector256.Create((float)chunk), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector256<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a);
            c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
            c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a);
            c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
            c8 = Vector256.FusedMultiplyAdd(c8, m, a); c9 = Vector256.FusedMultiplyAdd(c9, m, a);
            c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
        }
        Vector256<float> s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        if (s.ToScalar() == 42f) *(float*)sink = s.ToScalar();
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
