using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Compiled.CompilerServices;

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
/// For decoupled weight decay use <see cref="AdamW"/>. √v is multiplied by 1/√(1 − β₂ᵗ) (taken in double) where
/// PyTorch divides by √(1 − β₂ᵗ): at most an ulp apart, one division per element fewer.
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
    protected override int StateCount => 2;

    /// <inheritdoc/>
    protected override string StateName(int index) => index switch
    {
        0 => "exp_avg",
        1 => "exp_avg_sq",
        _ => base.StateName(index),
    };

    /// <inheritdoc/>
    protected override Span<float> StateBuffer(int index) => index switch
    {
        0 when _m is not null => _m,
        1 when _v is not null => _v,
        _ => base.StateBuffer(index),
    };

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
        => AdamUpdate(parameters, gradients, learningRate, (float)WeightDecay, decay: 1f);

    /// <summary>The Adam step shared with <see cref="AdamW"/>; <paramref name="l2"/> is the coupled decay (0 for AdamW),
    /// <paramref name="decay"/> the factor AdamW scales the parameters by first (1 for Adam: x·1 = x exactly).</summary>
    private protected unsafe void AdamUpdate(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float l2, float decay)
    {
        // As PyTorch: the rate and bias corrections are combined in double, then used as float scalars.
        double bias1 = 1 - Math.Pow(Beta1, Steps);
        double bias2 = 1 - Math.Pow(Beta2, Steps);
        float stepSize = -(float)(CurrentLearningRate / bias1);
        // PyTorch divides √v by √(1 − β₂ᵗ); multiplying by its reciprocal (taken in double) differs by at most an ulp
        // and leaves one division per element instead of two: the update is bound by the divider and the square root.
        float bias2Scale = (float)(1 / Math.Sqrt(bias2));
        float b1 = (float)Beta1, c1 = (float)(1 - Beta1), b2 = (float)Beta2, c2 = (float)(1 - Beta2), eps = (float)Epsilon;

        fixed (float* p = parameters, g = gradients, m = _m, v = _v)
        {
            var loop = new AdamLoop
            {
                P = p, G = g, M = m, V = v,
                Decay = decay, L2 = l2, B1 = b1, C1 = c1, B2 = b2, C2 = c2, Eps = eps, StepSize = stepSize, Bias2Scale = bias2Scale,
            };
            Lanes.ForEach(ref loop, parameters.Length);
        }
    }

    /// <summary>One fused pass over p, g, m and v (AdamW's decay of p included).</summary>
    private unsafe struct AdamLoop : ILaneLoop
    {
        public float* P, G, M, V;
        public float Decay, L2, B1, C1, B2, C2, Eps, StepSize, Bias2Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // straight to optimized code: tier 0 of the lane wrappers is ~10× slower
        public int Run<TL>(int i, int n) where TL : struct, ILanes<TL>
        {
            ref float p = ref *P, g = ref *G, m = ref *M, v = ref *V;
            TL decay = TL.Splat(Decay), l2 = TL.Splat(L2), b1 = TL.Splat(B1), c1 = TL.Splat(C1), b2 = TL.Splat(B2), c2 = TL.Splat(C2);
            TL eps = TL.Splat(Eps), step = TL.Splat(StepSize), bias2 = TL.Splat(Bias2Scale);
            for (; i <= n - TL.Count; i += TL.Count)
            {
                nuint k = (nuint)i;
                TL vp = TL.Load(ref p, k) * decay;
                TL vg = TL.Load(ref g, k) + l2 * vp;
                TL vm = b1 * TL.Load(ref m, k) + c1 * vg;
                TL vv = b2 * TL.Load(ref v, k) + c2 * vg * vg;
                TL.Store(vm, ref m, k);
                TL.Store(vv, ref v, k);
                TL denom = TL.Sqrt(vv) * bias2 + eps;
                TL.Store(vp + step * vm / denom, ref p, k);
            }
            return i;
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
        // PyTorch: param.mul_(1 - lr * weight_decay), the factor computed in double, then the Adam step on the result;
        // here the same multiply, in the same pass as the step (one pass over p instead of two, shared by both cores).
        float decay = WeightDecay != 0 ? (float)(1 - CurrentLearningRate * WeightDecay) : 1f;
        AdamUpdate(parameters, gradients, learningRate, 0f, decay);
    }
}
