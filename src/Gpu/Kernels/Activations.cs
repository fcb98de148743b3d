using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Activation work that does not fuse into a GEMM epilogue: the stand-alone element-wise backward (when no Dense
/// backward precedes it), and row-wise softmax with its backward. Grid-stride loops: launch with
/// <see cref="Launch.Elementwise"/> or <see cref="Launch.Rows"/>.
/// </summary>
public static class Activations
{
    /// <summary>In place: grad[i] ← grad[i]·f'(output[i], preActivation[i]) for i &lt; <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward<TAct>(ArrayView<float> grad, ArrayView<float> output, ArrayView<float> preActivation, int count)
        where TAct : struct, IGpuActivation
    {
        TAct act = default;
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            grad[i] *= act.NeedsPreActivation ? act.Derivative(output[i], preActivation[i]) : act.Derivative(output[i], 0f);
    }

    /// <summary>Row-wise, max-subtracted softmax: y[r, :] = softmax(z[r, :]) for a [batch, n] matrix; a thread per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Softmax(ArrayView<float> y, ArrayView<float> z, int batch, int n)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int r = Grid.GlobalIndex.X; r < batch; r += stride)
        {
            int o = r * n;
            float max = float.NegativeInfinity;
            for (int i = 0; i < n; i++) max = MathF.Max(max, z[o + i]);
            float sum = 0f;
            for (int i = 0; i < n; i++)
            {
                float e = GpuMath.Exp(z[o + i] - max);
                y[o + i] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int i = 0; i < n; i++) y[o + i] *= inv;
        }
    }

    /// <summary>In place, row-wise: grad ← y ⊙ (grad − Σ grad⊙y), the softmax Jacobian-vector product; a thread per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SoftmaxBackward(ArrayView<float> grad, ArrayView<float> y, int batch, int n)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int r = Grid.GlobalIndex.X; r < batch; r += stride)
        {
            int o = r * n;
            float dot = 0f;
            for (int i = 0; i < n; i++) dot += grad[o + i] * y[o + i];
            for (int i = 0; i < n; i++) grad[o + i] = y[o + i] * (grad[o + i] - dot);
        }
    }
}
