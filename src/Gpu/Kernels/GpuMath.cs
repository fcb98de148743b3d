using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Transcendental functions for kernels, built only from instructions every ILGPU backend has natively
/// (<c>ex2.approx</c> and <c>lg2.approx</c> on PTX). <see cref="MathF.Exp(float)"/>, <see cref="MathF.Log(float)"/>
/// and <see cref="MathF.Tanh(float)"/> compile on the CPU accelerator but not on CUDA without the CUDA SDK's
/// libdevice, so kernels call these instead (the PTX compilation test checks no kernel slips).
/// </summary>
public static class GpuMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2 = 0.693147180559945309f;

    /// <summary>e^x = 2^(x·log₂e). Relative error about |x|·2⁻²⁴ from the product, as CUDA's <c>__expf</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => IntrinsicMath.CPUOnly.Exp2(x * Log2E);

    /// <summary>ln x = log₂x · ln 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float x) => IntrinsicMath.CPUOnly.Log2(x) * Ln2;

    /// <summary>
    /// tanh x: an odd Taylor polynomial below |x| = 0.125 (where 1 − e^−2|x| would cancel), otherwise
    /// sign(x)·(1 − e^−2|x|)/(1 + e^−2|x|), which saturates to ±1 without overflow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        float ax = MathF.Abs(x);
        if (ax < 0.125f)
        {
            float x2 = x * x;
            return x * (1f - x2 * (1f / 3f - x2 * (2f / 15f - x2 * (17f / 315f))));
        }
        float e = Exp(-2f * ax);
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }

    /// <summary>σ(x) = 1 / (1 + e^−x); exact 0 and 1 in the tails, never NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + Exp(-x));
}
