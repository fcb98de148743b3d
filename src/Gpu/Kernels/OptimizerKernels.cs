using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>SGD's per-step scalars (see <see cref="OptimizerKernels.Sgd"/>).</summary>
public struct SgdArgs
{
    /// <summary>−learning rate.</summary>
    public float NegativeRate;
    /// <summary>L2 factor added to the gradient.</summary>
    public float WeightDecay;
    /// <summary>Momentum factor; 0 means no buffer is read or written.</summary>
    public float Momentum;
    /// <summary>1 for Nesterov momentum.</summary>
    public int Nesterov;
    /// <summary>Gradient-clipping norm, or 0 for none.</summary>
    public float ClipNorm;
}

/// <summary>Adam's and AdamW's per-step scalars, bias corrections folded in on the host as PyTorch does.</summary>
public struct AdamArgs
{
    /// <summary>−lr / (1 − β₁ᵗ).</summary>
    public float StepSize;
    /// <summary>√(1 − β₂ᵗ).</summary>
    public float Bias2Sqrt;
    /// <summary>β₁, 1 − β₁, β₂, 1 − β₂.</summary>
    public float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2;
    /// <summary>ε.</summary>
    public float Epsilon;
    /// <summary>Adam's coupled L2 factor (0 for AdamW).</summary>
    public float L2;
    /// <summary>AdamW's decoupled decay factor 1 − lr·wd (1 for Adam).</summary>
    public float Decay;
    /// <summary>Gradient-clipping norm, or 0 for none.</summary>
    public float ClipNorm;
}

/// <summary>RMSprop's per-step scalars.</summary>
public struct RmsPropArgs
{
    /// <summary>−learning rate.</summary>
    public float NegativeRate;
    /// <summary>L2 factor added to the gradient.</summary>
    public float WeightDecay;
    /// <summary>α and 1 − α.</summary>
    public float Alpha, OneMinusAlpha;
    /// <summary>ε.</summary>
    public float Epsilon;
    /// <summary>Momentum factor; 0 means no buffer is read or written.</summary>
    public float Momentum;
    /// <summary>Gradient-clipping norm, or 0 for none.</summary>
    public float ClipNorm;
}

/// <summary>
/// Optimizer updates over a whole parameter arena, one launch per step (two with gradient clipping), with the update
/// rules of <c>torch.optim</c> and of the CPU optimizers in <c>Compiled</c> (same float operations in the same order).
/// Grid-stride loops: launch with <see cref="Launch.Elementwise"/>. When clipping, <c>normSquared[0]</c> holds
/// Σ g² from <see cref="SumOfSquares"/>, and each thread applies coef = clip / (‖g‖ + 10⁻⁶) when it is below 1, writing
/// the clipped gradient back like <c>clip_grad_norm_</c>.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>
    /// SGD: d = g + wd·p; buf = μ·buf + d (buf starts at zero, so the first step stores d as PyTorch does);
    /// d = nesterov ? d + μ·buf : buf; p = p − lr·d.
    /// </summary>
    public static void Sgd(ArrayView<float> p, ArrayView<float> g, ArrayView<float> buffer, ArrayView<float> normSquared, SgdArgs args)
    {
        int n = (int)p.Length;
        float scale = ClipScale(normSquared, args.ClipNorm);
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            float vp = p[i];
            float vg = Clip(g, i, scale);
            float d = vg + args.WeightDecay * vp;
            if (args.Momentum != 0f)
            {
                float vb = args.Momentum * buffer[i] + d;
                buffer[i] = vb;
                d = args.Nesterov != 0 ? d + args.Momentum * vb : vb;
            }
            p[i] = vp + args.NegativeRate * d;
        }
    }

    /// <summary>
    /// Adam / AdamW: p = p·decay; g = g + l2·p; m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
    /// p = p + stepSize·m / (√v / √(1−β₂ᵗ) + ε).
    /// </summary>
    public static void Adam(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v,
        ArrayView<float> normSquared, AdamArgs args)
    {
        int n = (int)p.Length;
        float scale = ClipScale(normSquared, args.ClipNorm);
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            float vp = p[i] * args.Decay;
            float vg = Clip(g, i, scale) + args.L2 * vp;
            float vm = args.Beta1 * m[i] + args.OneMinusBeta1 * vg;
            float vv = args.Beta2 * v[i] + args.OneMinusBeta2 * vg * vg;
            m[i] = vm;
            v[i] = vv;
            float denom = MathF.Sqrt(vv) / args.Bias2Sqrt + args.Epsilon;
            p[i] = vp + args.StepSize * vm / denom;
        }
    }

    /// <summary>
    /// RMSprop (not centered): g = g + wd·p; s = αs + (1−α)g²; with momentum buf = μ·buf + g/(√s + ε), p = p − lr·buf;
    /// without, p = p − lr·g/(√s + ε).
    /// </summary>
    public static void RmsProp(ArrayView<float> p, ArrayView<float> g, ArrayView<float> square, ArrayView<float> buffer,
        ArrayView<float> normSquared, RmsPropArgs args)
    {
        int n = (int)p.Length;
        float scale = ClipScale(normSquared, args.ClipNorm);
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            float vp = p[i];
            float vg = Clip(g, i, scale) + args.WeightDecay * vp;
            float vs = args.Alpha * square[i] + args.OneMinusAlpha * vg * vg;
            square[i] = vs;
            float avg = MathF.Sqrt(vs) + args.Epsilon;
            if (args.Momentum > 0f)
            {
                float vb = args.Momentum * buffer[i] + vg / avg;
                buffer[i] = vb;
                vp += args.NegativeRate * vb;
            }
            else
            {
                vp += args.NegativeRate * vg / avg;
            }
            p[i] = vp;
        }
    }

    /// <summary>normSquared[0] = Σ values², one group of <see cref="Losses.GroupSize"/> threads (deterministic order).</summary>
    public static void SumOfSquares(ArrayView<float> values, ArrayView<float> normSquared)
    {
        int n = (int)values.Length;
        float local = 0f;
        for (int i = Group.IdxX; i < n; i += Losses.GroupSize)
        {
            float v = values[i];
            local += v * v;
        }
        float total = GroupReduce.Sum(local);
        if (Group.IdxX == 0) normSquared[0] = total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ClipScale(ArrayView<float> normSquared, float clipNorm)
    {
        if (clipNorm <= 0f) return 1f;
        float coef = clipNorm / (MathF.Sqrt(normSquared[0]) + 1e-6f);
        return coef < 1f ? coef : 1f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Clip(ArrayView<float> g, int i, float scale)
    {
        float vg = g[i];
        if (scale < 1f)
        {
            vg *= scale;
            g[i] = vg;
        }
        return vg;
    }
}
