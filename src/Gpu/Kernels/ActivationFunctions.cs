using System.Runtime.CompilerServices;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// An element-wise activation for kernels, as a struct so a kernel generic over it is specialised when ILGPU compiles
/// it: the generated thin kernel writes <c>Dense.Forward&lt;Relu&gt;(...)</c>. The same math as
/// <c>Compiled.CompilerServices.IActivation</c>, with instance members because kernels call <c>default(TAct).Apply(z)</c>.
/// </summary>
public interface IGpuActivation
{
    /// <summary>f(z).</summary>
    float Apply(float z);

    /// <summary>f'(z), given the output y = f(z) and the pre-activation z (read only when <see cref="NeedsPreActivation"/>).</summary>
    float Derivative(float y, float z);

    /// <summary>True when <see cref="Derivative"/> reads z, so the forward pass must keep the pre-activation.</summary>
    bool NeedsPreActivation { get; }
}

/// <summary>f(z) = z.</summary>
public readonly struct Identity : IGpuActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float y, float z) => 1f;
    /// <inheritdoc/>
    public bool NeedsPreActivation => false;
}

/// <summary>f(z) = max(0, z).</summary>
public readonly struct Relu : IGpuActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z > 0f ? z : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float y, float z) => y > 0f ? 1f : 0f;
    /// <inheritdoc/>
    public bool NeedsPreActivation => false;
}

/// <summary>f(z) = z for z &gt; 0, else 0.01·z.</summary>
public readonly struct LeakyRelu : IGpuActivation
{
    /// <summary>The slope for negative inputs (PyTorch's default).</summary>
    public const float Slope = 0.01f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z > 0f ? z : Slope * z;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float y, float z) => y > 0f ? 1f : Slope;
    /// <inheritdoc/>
    public bool NeedsPreActivation => false;
}

/// <summary>f(z) = 1 / (1 + e^−z).</summary>
public readonly struct Sigmoid : IGpuActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => GpuMath.Sigmoid(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float y, float z) => y * (1f - y);
    /// <inheritdoc/>
    public bool NeedsPreActivation => false;
}

/// <summary>f(z) = tanh(z).</summary>
public readonly struct Tanh : IGpuActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => GpuMath.Tanh(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float y, float z) => 1f - y * y;
    /// <inheritdoc/>
    public bool NeedsPreActivation => false;
}

/// <summary>GELU, tanh approximation: 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))).</summary>
public readonly struct Gelu : IGpuActivation
{
    private const float C = 0.7978845608028654f; // sqrt(2/pi)
    private const float A = 0.044715f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float z) => 0.5f * z * (1f + GpuMath.Tanh(C * (z + A * z * z * z)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float y, float z)
    {
        float u = C * (z + A * z * z * z);
        float t = GpuMath.Tanh(u);
        return 0.5f * (1f + t) + 0.5f * z * (1f - t * t) * C * (1f + 3f * A * z * z);
    }

    /// <inheritdoc/>
    public bool NeedsPreActivation => true;
}
