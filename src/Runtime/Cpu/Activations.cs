using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

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

    /// <summary>True when <see cref="Derivative(float, float)"/> reads z, so the forward pass must keep the pre-activation.</summary>
    static abstract bool NeedsPreActivation { get; }

    /// <summary>f(z) on 16 lanes: the form the GEMM epilogue inlines.</summary>
    static abstract Vector512<float> Apply(Vector512<float> z);

    /// <summary>f'(z) on 16 lanes, given y = f(z) and z (z is only read when NeedsPreActivation).</summary>
    static abstract Vector512<float> Derivative(Vector512<float> y, Vector512<float> z);

    /// <summary>f(z) on 8 lanes, for machines without 512-bit vectors.</summary>
    static abstract Vector256<float> Apply(Vector256<float> z);

    /// <summary>f'(z) on 8 lanes.</summary>
    static abstract Vector256<float> Derivative(Vector256<float> y, Vector256<float> z);
}

/// <summary>f(z) = z.</summary>
public readonly struct Identity : IActivation
{
    /// <inheritdoc/>
    public static float Apply(float z) => z;
    /// <inheritdoc/>
    public static float Derivative(float y, float z) => 1f;
    /// <inheritdoc/>
    public static bool NeedsPreActivation => false;
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z) => z;
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z) => Vector512<float>.One;
    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z) => z;
    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z) => Vector256<float>.One;
}

/// <summary>f(z) = max(0, z).</summary>
public readonly struct Relu : IActivation
{
    /// <inheritdoc/>
    public static float Apply(float z) => z > 0f ? z : 0f;
    /// <inheritdoc/>
    public static float Derivative(float y, float z) => y > 0f ? 1f : 0f;
    /// <inheritdoc/>
    public static bool NeedsPreActivation => false;
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z) => Vector512.MaxNative(z, Vector512<float>.Zero);
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z) =>
        Vector512.GreaterThan(y, Vector512<float>.Zero) & Vector512<float>.One;
    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z) => Vector256.MaxNative(z, Vector256<float>.Zero);
    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z) =>
        Vector256.GreaterThan(y, Vector256<float>.Zero) & Vector256<float>.One;
}

/// <summary>f(z) = z for z &gt; 0, else 0.01·z.</summary>
public readonly struct LeakyRelu : IActivation
{
    /// <summary>The slope for negative inputs (PyTorch's default).</summary>
    public const float Slope = 0.01f;
    /// <inheritdoc/>
    public static float Apply(float z) => z > 0f ? z : Slope * z;
    /// <inheritdoc/>
    public static float Derivative(float y, float z) => y > 0f ? 1f : Slope;
    /// <inheritdoc/>
    public static bool NeedsPreActivation => false;
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero), z, z * Slope);
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), Vector512<float>.One, Vector512.Create(Slope));
    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z, z * Slope);
    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), Vector256<float>.One, Vector256.Create(Slope));
}

/// <summary>f(z) = 1 / (1 + e^−z).</summary>
public readonly struct Sigmoid : IActivation
{
    /// <inheritdoc/>
    public static float Apply(float z) => 1f / (1f + MathF.Exp(-z));
    /// <inheritdoc/>
    public static float Derivative(float y, float z) => y * (1f - y);
    /// <inheritdoc/>
    public static bool NeedsPreActivation => false;
    // exp(−z) overflows to +∞ for z < −88, and 1 / (1 + ∞) = 0: no NaN for any finite z.
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-z));
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z) => y * (Vector512<float>.One - y);
    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-z));
    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z) => y * (Vector256<float>.One - y);
}

/// <summary>f(z) = tanh(z).</summary>
public readonly struct Tanh : IActivation
{
    /// <inheritdoc/>
    public static float Apply(float z) => MathF.Tanh(z);
    /// <inheritdoc/>
    public static float Derivative(float y, float z) => 1f - y * y;
    /// <inheritdoc/>
    public static bool NeedsPreActivation => false;
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z) => VectorMath.Tanh(z);
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z) => Vector512<float>.One - y * y;
    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z) => VectorMath.Tanh(z);
    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z) => Vector256<float>.One - y * y;
}

/// <summary>GELU, tanh approximation: 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))).</summary>
public readonly struct Gelu : IActivation
{
    private const float C = 0.7978845608028654f; // sqrt(2/pi)
    private const float A = 0.044715f;

    /// <inheritdoc/>
    public static float Apply(float z) => 0.5f * z * (1f + MathF.Tanh(C * (z + A * z * z * z)));

    /// <inheritdoc/>
    public static float Derivative(float y, float z)
    {
        float u = C * (z + A * z * z * z);
        float t = MathF.Tanh(u);
        return 0.5f * (1f + t) + 0.5f * z * (1f - t * t) * C * (1f + 3f * A * z * z);
    }

    /// <inheritdoc/>
    public static bool NeedsPreActivation => true;

    // Vector forms use the identity ½(1 + tanh u) = σ(2u): one exp, and no cancellation in the negative tail.
    /// <inheritdoc/>
    public static Vector512<float> Apply(Vector512<float> z)
    {
        Vector512<float> u2 = (2f * C) * (z + A * z * z * z);
        return z / (Vector512<float>.One + Vector512.Exp(-u2));
    }

    // f' = ½(1 + t) + ½z(1 − t²)·C(1 + 3Az²) with s = ½(1 + t) = σ(2u) and 1 − t² = 4s(1 − s).
    /// <inheritdoc/>
    public static Vector512<float> Derivative(Vector512<float> y, Vector512<float> z)
    {
        Vector512<float> z2 = z * z;
        Vector512<float> s = Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-(2f * C) * (z + A * z2 * z)));
        return s + (2f * C) * z * s * (Vector512<float>.One - s) * (Vector512<float>.One + (3f * A) * z2);
    }

    /// <inheritdoc/>
    public static Vector256<float> Apply(Vector256<float> z)
    {
        Vector256<float> u2 = (2f * C) * (z + A * z * z * z);
        return z / (Vector256<float>.One + Vector256.Exp(-u2));
    }

    /// <inheritdoc/>
    public static Vector256<float> Derivative(Vector256<float> y, Vector256<float> z)
    {
        Vector256<float> z2 = z * z;
        Vector256<float> s = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-(2f * C) * (z + A * z2 * z)));
        return s + (2f * C) * z * s * (Vector256<float>.One - s) * (Vector256<float>.One + (3f * A) * z2);
    }
}

/// <summary>Activation kernels that do not fuse into a GEMM: backward passes and softmax.</summary>
/// <remarks>AVX-512 loops with masked tails where available, AVX2 loops with scalar tails for the element-wise
/// forward and backward, the scalar definitions otherwise.</remarks>
public static unsafe class Activations
{
    /// <summary>y = f(z), element-wise.</summary>
    public static void Forward<TAct>(Span<float> y, ReadOnlySpan<float> z) where TAct : struct, IActivation
    {
        if (y.Length < z.Length) ThrowShort(nameof(y));
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            fixed (float* pz = z, py = y)
            {
                int n = z.Length, i = 0;
                for (; i + 16 <= n; i += 16) TAct.Apply(Vector512.Load(pz + i)).Store(py + i);
                if (i < n)
                {
                    Vector512<float> m = Kernel512.Mask(n - i);
                    Avx512F.MaskStore(py + i, m, TAct.Apply(Avx512F.MaskLoad(pz + i, m, Vector512<float>.Zero)));
                }
            }
            return;
        }
        int start = 0;
        if (Gemm.Isa == KernelIsa.Vector256)
        {
            fixed (float* pz = z, py = y)
            {
                for (; start + 8 <= z.Length; start += 8) TAct.Apply(Vector256.Load(pz + start)).Store(py + start);
            }
        }
        for (int i = start; i < z.Length; i++) y[i] = TAct.Apply(z[i]);
    }

    /// <summary>
    /// In place over the first <paramref name="count"/> elements: grad ← grad ⊙ f'(z). <paramref name="output"/> is
    /// y = f(z); <paramref name="preActivation"/> is z and may be empty unless the activation needs it.
    /// </summary>
    public static void Backward<TAct>(Span<float> grad, ReadOnlySpan<float> output, ReadOnlySpan<float> preActivation, int count)
        where TAct : struct, IActivation
    {
        if ((uint)count > (uint)grad.Length) ThrowShort(nameof(grad));
        if (output.Length < count) ThrowShort(nameof(output));
        bool needsZ = TAct.NeedsPreActivation;
        if (needsZ && preActivation.Length < count) ThrowShort(nameof(preActivation));
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            fixed (float* pg = grad, py = output, pz = preActivation)
            {
                int n = count, i = 0;
                for (; i + 16 <= n; i += 16)
                {
                    Vector512<float> z = needsZ ? Vector512.Load(pz + i) : default;
                    (Vector512.Load(pg + i) * TAct.Derivative(Vector512.Load(py + i), z)).Store(pg + i);
                }
                if (i < n)
                {
                    Vector512<float> m = Kernel512.Mask(n - i);
                    Vector512<float> z = needsZ ? Avx512F.MaskLoad(pz + i, m, Vector512<float>.Zero) : default;
                    Vector512<float> d = TAct.Derivative(Avx512F.MaskLoad(py + i, m, Vector512<float>.Zero), z);
                    Avx512F.MaskStore(pg + i, m, Avx512F.MaskLoad(pg + i, m, Vector512<float>.Zero) * d);
                }
            }
            return;
        }
        int start = 0;
        if (Gemm.Isa == KernelIsa.Vector256)
        {
            // The AVX2 path (NativeAOT's default target): whole vectors here, the tail below.
            fixed (float* pg = grad, py = output, pz = preActivation)
            {
                for (; start + 8 <= count; start += 8)
                {
                    Vector256<float> z = needsZ ? Vector256.Load(pz + start) : default;
                    (Vector256.Load(pg + start) * TAct.Derivative(Vector256.Load(py + start), z)).Store(pg + start);
                }
            }
        }
        if (needsZ)
        {
            for (int i = start; i < count; i++) grad[i] *= TAct.Derivative(output[i], preActivation[i]);
        }
        else
        {
            for (int i = start; i < count; i++) grad[i] *= TAct.Derivative(output[i], 0f);
        }
    }

    /// <summary>Row-wise softmax: y[b, :] = softmax(z[b, :]) for a [batch, n] matrix (max-subtracted, stable).</summary>
    public static void Softmax(Span<float> y, ReadOnlySpan<float> z, int batch, int n)
    {
        long count = (long)batch * n;
        if (z.Length < count) ThrowShort(nameof(z));
        if (y.Length < count) ThrowShort(nameof(y));
        fixed (float* pz = z, py = y)
        {
            if (Gemm.Isa == KernelIsa.Vector512 && n <= 16)
            {
                // A row in one register (an output layer of a few classes): one load, one store, the same arithmetic
                // as Rows.ExpShifted and Rows.Scale (so the same bits as the losses' probabilities).
                Vector512<float> m = Kernel512.Mask(n), ninf = Vector512.Create(float.NegativeInfinity);
                for (int b = 0; b < batch; b++)
                {
                    float* zr = pz + (nint)b * n;
                    Vector512<float> zv = Avx512F.MaskLoad(zr, m, ninf);
                    Vector256<float> h8 = Vector256.Max(zv.GetLower(), zv.GetUpper());
                    Vector128<float> h4 = Vector128.Max(h8.GetLower(), h8.GetUpper());
                    Vector512<float> vm = Vector512.Create(MathF.Max(MathF.Max(h4[0], h4[1]), MathF.Max(h4[2], h4[3])));
                    Vector512<float> ev = GateMath.Exp(Avx512F.MaskLoad(zr, m, vm) - vm) & m;
                    Avx512F.MaskStore(py + (nint)b * n, m, ev * Vector512.Create(1f / Vector512.Sum(ev)));
                }
                return;
            }
            for (int b = 0; b < batch; b++)
            {
                float* zr = pz + (nint)b * n, yr = py + (nint)b * n;
                float sum = Rows.ExpShifted(zr, yr, n, out _);
                Rows.Scale(yr, 1f / sum, n);
            }
        }
    }

    /// <summary>In place, row-wise: grad ← y ⊙ (grad − Σ grad⊙y), the softmax Jacobian-vector product.</summary>
    public static void SoftmaxBackward(Span<float> grad, ReadOnlySpan<float> y, int batch, int n)
    {
        long count = (long)batch * n;
        if (grad.Length < count) ThrowShort(nameof(grad));
        if (y.Length < count) ThrowShort(nameof(y));
        for (int b = 0; b < batch; b++)
        {
            Span<float> g = grad.Slice(b * n, n);
            ReadOnlySpan<float> yr = y.Slice(b * n, n);
            if (Gemm.Isa == KernelIsa.Vector512)
            {
                float dot = TensorPrimitives.Dot(g, yr);
                fixed (float* pg = g, py = yr)
                {
                    Vector512<float> d = Vector512.Create(dot);
                    for (int i = 0; i < n; i += 16)
                    {
                        Vector512<float> m = Kernel512.Mask(n - i);
                        Vector512<float> gv = Avx512F.MaskLoad(pg + i, m, Vector512<float>.Zero);
                        Avx512F.MaskStore(pg + i, m, Avx512F.MaskLoad(py + i, m, Vector512<float>.Zero) * (gv - d));
                    }
                }
                continue;
            }
            float dots = 0f;
            for (int i = 0; i < n; i++) dots += g[i] * yr[i];
            for (int i = 0; i < n; i++) g[i] = yr[i] * (g[i] - dots);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowShort(string name) =>
        throw new ArgumentException("The span is shorter than the tensor it must hold.", name);
}

/// <summary>Row helpers shared by softmax and the fused losses.</summary>
internal static unsafe class Rows
{
    /// <summary>Writes e^(z − max) into e and returns Σ e; <paramref name="max"/> receives max z.</summary>
    public static float ExpShifted(float* z, float* e, int n, out float max)
    {
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            Vector512<float> ninf = Vector512.Create(float.NegativeInfinity);
            Vector512<float> vmax = ninf;
            for (int i = 0; i < n; i += 16)
                vmax = Vector512.Max(vmax, Avx512F.MaskLoad(z + i, Kernel512.Mask(n - i), ninf));
            Vector256<float> h8 = Vector256.Max(vmax.GetLower(), vmax.GetUpper());
            Vector128<float> h4 = Vector128.Max(h8.GetLower(), h8.GetUpper());
            max = MathF.Max(MathF.Max(h4[0], h4[1]), MathF.Max(h4[2], h4[3]));
            Vector512<float> vm = Vector512.Create(max), acc = default;
            for (int i = 0; i < n; i += 16)
            {
                Vector512<float> m = Kernel512.Mask(n - i);
                Vector512<float> ev = GateMath.Exp(Avx512F.MaskLoad(z + i, m, vm) - vm) & m;
                Avx512F.MaskStore(e + i, m, ev);
                acc += ev;
            }
            return Vector512.Sum(acc);
        }
        float mx = float.NegativeInfinity;
        for (int i = 0; i < n; i++) mx = MathF.Max(mx, z[i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) { float v = MathF.Exp(z[i] - mx); e[i] = v; sum += v; }
        max = mx;
        return sum;
    }

    /// <summary>x ← x · s.</summary>
    public static void Scale(float* x, float s, int n)
    {
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            Vector512<float> vs = Vector512.Create(s);
            for (int i = 0; i < n; i += 16)
            {
                Vector512<float> m = Kernel512.Mask(n - i);
                Avx512F.MaskStore(x + i, m, Avx512F.MaskLoad(x + i, m, Vector512<float>.Zero) * vs);
            }
            return;
        }
        for (int i = 0; i < n; i++) x[i] *= s;
    }
}
