using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Compiled;

/// <summary>
/// Adam with bias correction and optional coupled L2 weight decay, with the update of <c>torch.optim.Adam</c>
/// (amsgrad off):
/// <code>
/// g = g + weightDecay·p
/// m = β₁·m + (1 − β₁)·g
/// v = β₂·v + (1 − β₂)·g²
/// p = p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// For decoupled weight decay use <see cref="AdamW"/>.
/// </summary>
public class Adam : Optimizer
{
    private protected float[]? _m, _v;

    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">The base learning rate, ≥ 0.</param>
    /// <param name="beta1">The decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">The decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability, ≥ 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (<c>g + weightDecay·p</c>), ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range or not finite.</exception>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
        : base(learningRate)
    {
        CheckFraction(beta1, nameof(beta1));
        CheckFraction(beta2, nameof(beta2));
        CheckNonNegative(epsilon, nameof(epsilon));
        CheckNonNegative(weightDecay, nameof(weightDecay));
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    /// <summary>The decay of the first-moment average.</summary>
    public double Beta1 { get; }

    /// <summary>The decay of the second-moment average.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator for stability.</summary>
    public double Epsilon { get; }

    /// <summary>The weight-decay factor (coupled L2 here; decoupled in <see cref="AdamW"/>).</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int length)
    {
        _m = new float[length];
        _v = new float[length];
    }

    /// <inheritdoc/>
    protected override void ReleaseState() => _m = _v = null;

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
        => AdamUpdate(parameters, gradients, learningRate, (float)WeightDecay);

    /// <summary>The Adam step shared with <see cref="AdamW"/>; <paramref name="l2"/> is the coupled decay (0 for AdamW).</summary>
    private protected void AdamUpdate(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float l2)
    {
        // As PyTorch: the rate and bias corrections are combined in double, then used as float scalars.
        double bias1 = 1 - Math.Pow(Beta1, Steps);
        double bias2 = 1 - Math.Pow(Beta2, Steps);
        float stepSize = -(float)(CurrentLearningRate / bias1);
        float bias2Sqrt = (float)Math.Sqrt(bias2);
        float b1 = (float)Beta1, c1 = (float)(1 - Beta1), b2 = (float)Beta2, c2 = (float)(1 - Beta2), eps = (float)Epsilon;

        int n = parameters.Length;
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float m = ref MemoryMarshal.GetArrayDataReference(_m!);
        ref float v = ref MemoryMarshal.GetArrayDataReference(_v!);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vl2 = Vector512.Create(l2);
            var vb1 = Vector512.Create(b1);
            var vc1 = Vector512.Create(c1);
            var vb2 = Vector512.Create(b2);
            var vc2 = Vector512.Create(c2);
            var veps = Vector512.Create(eps);
            var vstep = Vector512.Create(stepSize);
            var vbias2 = Vector512.Create(bias2Sqrt);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector512.LoadUnsafe(ref g, (nuint)i) + vl2 * vp;
                var vm = vb1 * Vector512.LoadUnsafe(ref m, (nuint)i) + vc1 * vg;
                var vv = vb2 * Vector512.LoadUnsafe(ref v, (nuint)i) + vc2 * vg * vg;
                vm.StoreUnsafe(ref m, (nuint)i);
                vv.StoreUnsafe(ref v, (nuint)i);
                var denom = Vector512.Sqrt(vv) / vbias2 + veps;
                (vp + vstep * vm / denom).StoreUnsafe(ref p, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float vp = Unsafe.Add(ref p, i);
            float vg = Unsafe.Add(ref g, i) + l2 * vp;
            float vm = b1 * Unsafe.Add(ref m, i) + c1 * vg;
            float vv = b2 * Unsafe.Add(ref v, i) + c2 * vg * vg;
            Unsafe.Add(ref m, i) = vm;
            Unsafe.Add(ref v, i) = vv;
            float denom = MathF.Sqrt(vv) / bias2Sqrt + eps;
            Unsafe.Add(ref p, i) = vp + stepSize * vm / denom;
        }
    }
}

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter), with the update of <c>torch.optim.AdamW</c>:
/// first <c>p = p·(1 − lr·weightDecay)</c>, then the <see cref="Adam"/> step without L2 on the gradient.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer with PyTorch's defaults (note weight decay 0.01).</summary>
    /// <param name="learningRate">The base learning rate, ≥ 0.</param>
    /// <param name="beta1">The decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">The decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability, ≥ 0.</param>
    /// <param name="weightDecay">The decoupled decay: each step scales the parameters by <c>1 − lr·weightDecay</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range or not finite.</exception>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
        : base(learningRate, beta1, beta2, epsilon, weightDecay)
    {
    }

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        if (WeightDecay != 0)
        {
            // PyTorch: param.mul_(1 - lr * weight_decay), the factor computed in double.
            float decay = (float)(1 - CurrentLearningRate * WeightDecay);
            System.Numerics.Tensors.TensorPrimitives.Multiply(parameters, decay, parameters);
        }
        AdamUpdate(parameters, gradients, learningRate, 0f);
    }
}
