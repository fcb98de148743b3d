using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Compiled.CompilerServices;

namespace Compiled;

/// <summary>
/// RMSprop (not centered), with the update of <c>torch.optim.RMSprop</c>:
/// <code>
/// g = g + weightDecay·p
/// s = α·s + (1 − α)·g²
/// buf = momentum·buf + g / (√s + ε);  p = p − lr·buf      (momentum &gt; 0)
/// p = p − lr · g / (√s + ε)                              (momentum = 0)
/// </code>
/// </summary>
public sealed class RmsProp : Optimizer
{
    private float[]? _square, _buffer;

    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    /// <param name="learningRate">The base learning rate, ≥ 0.</param>
    /// <param name="alpha">The decay of the squared-gradient average, ≥ 0 (PyTorch's smoothing constant).</param>
    /// <param name="epsilon">Added to the denominator for stability, ≥ 0.</param>
    /// <param name="momentum">The momentum factor, ≥ 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (<c>g + weightDecay·p</c>), ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is negative or not finite.</exception>
    public RmsProp(double learningRate = 0.01, double alpha = 0.99, double epsilon = 1e-8, double momentum = 0, double weightDecay = 0)
        : base(learningRate)
    {
        CheckNonNegative(alpha, nameof(alpha));
        CheckNonNegative(epsilon, nameof(epsilon));
        CheckNonNegative(momentum, nameof(momentum));
        CheckNonNegative(weightDecay, nameof(weightDecay));
        Alpha = alpha;
        Epsilon = epsilon;
        Momentum = momentum;
        WeightDecay = weightDecay;
    }

    /// <summary>The decay of the squared-gradient average.</summary>
    public double Alpha { get; }

    /// <summary>Added to the denominator for stability.</summary>
    public double Epsilon { get; }

    /// <summary>The momentum factor (0 = none).</summary>
    public double Momentum { get; }

    /// <summary>The L2 penalty factor added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int length)
    {
        _square = new float[length];
        _buffer = Momentum > 0 ? new float[length] : null;
    }

    /// <inheritdoc/>
    protected override void ReleaseState() => _square = _buffer = null;

    /// <inheritdoc/>
    protected override int StateCount => Momentum > 0 ? 2 : 1;

    /// <inheritdoc/>
    protected override string StateName(int index) => index switch
    {
        0 => "square_avg",
        1 when Momentum > 0 => "momentum_buffer",
        _ => base.StateName(index),
    };

    /// <inheritdoc/>
    protected override Span<float> StateBuffer(int index) => index switch
    {
        0 when _square is not null => _square,
        1 when _buffer is not null => _buffer,
        _ => base.StateBuffer(index),
    };

    /// <inheritdoc/>
    protected override unsafe void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        float lr = -learningRate, wd = (float)WeightDecay, a = (float)Alpha, c = (float)(1 - Alpha);
        float eps = (float)Epsilon, mu = (float)Momentum;
        bool momentum = _buffer is not null;

        // Without momentum the buffer is never read or written (null).
        fixed (float* p = parameters, g = gradients, s = _square, b = _buffer)
        {
            var loop = new RmsPropLoop
            {
                P = p, G = g, S = s, B = b,
                Momentum = momentum, Lr = lr, Wd = wd, A = a, C = c, Eps = eps, Mu = mu,
            };
            Lanes.ForEach(ref loop, parameters.Length);
        }
    }

    /// <summary>One fused pass over p, g, the squares and (with momentum) the buffer.</summary>
    private unsafe struct RmsPropLoop : ILaneLoop
    {
        public float* P, G, S, B;
        public bool Momentum;
        public float Lr, Wd, A, C, Eps, Mu;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // straight to optimized code: tier 0 of the lane wrappers is ~10× slower
        public int Run<TL>(int i, int n) where TL : struct, ILanes<TL>
        {
            ref float p = ref *P, g = ref *G, s = ref *S, b = ref *B;
            bool momentum = Momentum;
            TL lr = TL.Splat(Lr), wd = TL.Splat(Wd), a = TL.Splat(A), c = TL.Splat(C), eps = TL.Splat(Eps), mu = TL.Splat(Mu);
            for (; i <= n - TL.Count; i += TL.Count)
            {
                nuint k = (nuint)i;
                TL vp = TL.Load(ref p, k);
                TL vg = TL.Load(ref g, k) + wd * vp;
                TL vs = a * TL.Load(ref s, k) + c * vg * vg;
                TL.Store(vs, ref s, k);
                TL avg = TL.Sqrt(vs) + eps;
                if (momentum)
                {
                    TL vb = mu * TL.Load(ref b, k) + vg / avg;
                    TL.Store(vb, ref b, k);
                    vp += lr * vb;
                }
                else
                {
                    vp += lr * vg / avg;
                }
                TL.Store(vp, ref p, k);
            }
            return i;
        }
    }
}
