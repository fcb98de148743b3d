using System.Runtime.CompilerServices;

namespace Compiled.Cpu;

/// <summary>
/// An element-wise activation as a struct, so a kernel generic over it is specialised by the JIT:
/// the generator writes <c>Dense.Forward&lt;Relu&gt;(...)</c> and the activation is inlined into the epilogue.
/// </summary>
public interface IActivation
{
    /// <summary>f(z).</summary>
    static abstract float Apply(float z);

    /// <summary>f'(z), given the output y = f(z) and the pre-activation z.</summary>
    static abstract float Derivative(float y, float z);

    /// <summary>True when <see cref="Derivative"/> reads z, so the forward pass must keep the pre-activation.</summary>
    static abstract bool NeedsPreActivation { get; }
}

/// <summary>f(z) = z.</summary>
public readonly struct Identity : IActivation
{
    public static float Apply(float z) => z;
    public static float Derivative(float y, float z) => 1f;
    public static bool NeedsPreActivation => false;
}

/// <summary>f(z) = max(0, z).</summary>
public readonly struct Relu : IActivation
{
    public static float Apply(float z) => z > 0f ? z : 0f;
    public static float Derivative(float y, float z) => y > 0f ? 1f : 0f;
    public static bool NeedsPreActivation => false;
}

/// <summary>f(z) = z for z &gt; 0, else 0.01·z.</summary>
public readonly struct LeakyRelu : IActivation
{
    public const float Slope = 0.01f;
    public static float Apply(float z) => z > 0f ? z : Slope * z;
    public static float Derivative(float y, float z) => y > 0f ? 1f : Slope;
    public static bool NeedsPreActivation => false;
}

/// <summary>f(z) = 1 / (1 + e^−z).</summary>
public readonly struct Sigmoid : IActivation
{
    public static float Apply(float z) => 1f / (1f + MathF.Exp(-z));
    public static float Derivative(float y, float z) => y * (1f - y);
    public static bool NeedsPreActivation => false;
}

/// <summary>f(z) = tanh(z).</summary>
public readonly struct Tanh : IActivation
{
    public static float Apply(float z) => MathF.Tanh(z);
    public static float Derivative(float y, float z) => 1f - y * y;
    public static bool NeedsPreActivation => false;
}

/// <summary>GELU, tanh approximation: 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))).</summary>
public readonly struct Gelu : IActivation
{
    private const float C = 0.7978845608028654f; // sqrt(2/pi)
    private const float A = 0.044715f;

    public static float Apply(float z) => 0.5f * z * (1f + MathF.Tanh(C * (z + A * z * z * z)));

    public static float Derivative(float y, float z)
    {
        float u = C * (z + A * z * z * z);
        float t = MathF.Tanh(u);
        return 0.5f * (1f + t) + 0.5f * z * (1f - t * t) * C * (1f + 3f * A * z * z);
    }

    public static bool NeedsPreActivation => true;
}

/// <summary>Activation kernels that do not fuse into a GEMM: backward passes and softmax.</summary>
public static class Activations
{
    /// <summary>y = f(z), element-wise.</summary>
    public static void Forward<TAct>(ReadOnlySpan<float> z, Span<float> y) where TAct : struct, IActivation
    {
        if (y.Length < z.Length) ThrowShort(nameof(y));
        for (int i = 0; i < z.Length; i++) y[i] = TAct.Apply(z[i]);
    }

    /// <summary>
    /// In place: grad ← grad ⊙ f'(z). <paramref name="output"/> is y = f(z); <paramref name="preActivation"/>
    /// is z and may be empty unless the activation needs it.
    /// </summary>
    public static void Backward<TAct>(Span<float> grad, ReadOnlySpan<float> output, ReadOnlySpan<float> preActivation)
        where TAct : struct, IActivation
    {
        if (output.Length < grad.Length) ThrowShort(nameof(output));
        if (TAct.NeedsPreActivation)
        {
            if (preActivation.Length < grad.Length) ThrowShort(nameof(preActivation));
            for (int i = 0; i < grad.Length; i++) grad[i] *= TAct.Derivative(output[i], preActivation[i]);
        }
        else
        {
            for (int i = 0; i < grad.Length; i++) grad[i] *= TAct.Derivative(output[i], 0f);
        }
    }

    /// <summary>Row-wise softmax: y[b, :] = softmax(z[b, :]) for a [batch, n] matrix (max-subtracted, stable).</summary>
    public static void Softmax(ReadOnlySpan<float> z, Span<float> y, int batch, int n)
    {
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> zr = z.Slice(b * n, n);
            Span<float> yr = y.Slice(b * n, n);
            float max = float.NegativeInfinity;
            for (int i = 0; i < n; i++) max = MathF.Max(max, zr[i]);
            float sum = 0f;
            for (int i = 0; i < n; i++) { float e = MathF.Exp(zr[i] - max); yr[i] = e; sum += e; }
            float inv = 1f / sum;
            for (int i = 0; i < n; i++) yr[i] *= inv;
        }
    }

    /// <summary>In place, row-wise: grad ← y ⊙ (grad − Σ grad⊙y), the softmax Jacobian-vector product.</summary>
    public static void SoftmaxBackward(Span<float> grad, ReadOnlySpan<float> y, int batch, int n)
    {
        for (int b = 0; b < batch; b++)
        {
            Span<float> g = grad.Slice(b * n, n);
            ReadOnlySpan<float> yr = y.Slice(b * n, n);
            float dot = 0f;
            for (int i = 0; i < n; i++) dot += g[i] * yr[i];
            for (int i = 0; i < n; i++) g[i] = yr[i] * (g[i] - dot);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowShort(string name) =>
        throw new ArgumentException("The span is shorter than the tensor it must hold.", name);
}
