using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Compiled.CompilerServices;

namespace Compiled;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, with the update of
/// <c>torch.optim.SGD</c> (dampening 0):
/// <code>
/// d = g + weightDecay·p
/// buf = d (first step), else buf = momentum·buf + d
/// d = nesterov ? d + momentum·buf : buf          (when momentum ≠ 0)
/// p = p − lr·d
/// </code>
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly float _momentum;
    private readonly bool _nesterov;
    private readonly float _weightDecay;
    private float[]? _buffer;

    /// <summary>Creates the optimizer (PyTorch's defaults: no momentum, no weight decay).</summary>
    /// <param name="learningRate">The base learning rate, ≥ 0.</param>
    /// <param name="momentum">The momentum factor, ≥ 0.</param>
    /// <param name="nesterov">Nesterov momentum; needs <paramref name="momentum"/> &gt; 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (<c>g + weightDecay·p</c>), ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate or factor is negative or not finite.</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> is set without momentum.</exception>
    public Sgd(double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0)
        : base(learningRate)
    {
        CheckNonNegative(momentum, nameof(momentum));
        CheckNonNegative(weightDecay, nameof(weightDecay));
        if (nesterov && momentum <= 0)
            throw new ArgumentException("Nesterov momentum needs momentum > 0.", nameof(nesterov));
        _momentum = (float)momentum;
        _nesterov = nesterov;
        _weightDecay = (float)weightDecay;
        Momentum = momentum;
        WeightDecay = weightDecay;
    }

    /// <summary>The momentum factor (0 = plain SGD).</summary>
    public double Momentum { get; }

    /// <summary>Whether the momentum is Nesterov's.</summary>
    public bool Nesterov => _nesterov;

    /// <summary>The L2 penalty factor added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int length) => _buffer = _momentum != 0 ? new float[length] : null;

    /// <inheritdoc/>
    protected override void ReleaseState() => _buffer = null;

    /// <inheritdoc/>
    protected override int StateCount => _momentum != 0 ? 1 : 0;

    /// <inheritdoc/>
    protected override string StateName(int index) => index == 0 && _momentum != 0 ? "momentum_buffer" : base.StateName(index);

    /// <inheritdoc/>
    protected override Span<float> StateBuffer(int index) => index == 0 && _buffer is not null ? _buffer : base.StateBuffer(index);

    /// <inheritdoc/>
    protected override unsafe void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        // Without momentum there is no buffer (null, never used).
        fixed (float* p = parameters, g = gradients, b = _buffer)
        {
            var loop = new SgdLoop
            {
                P = p, G = g, B = b,
                Momentum = _buffer is not null, Nesterov = _nesterov, Lr = -learningRate, Wd = _weightDecay, Mu = _momentum,
            };
            Lanes.ForEach(ref loop, parameters.Length);
        }
    }

    /// <summary>One fused pass: p = p − lr·(g + wd·p) without momentum; with it, PyTorch's buffer update (the buffer
    /// starts at zero, so mu·0 + d gives PyTorch's first buffer, a copy of d), plus the Nesterov look-ahead.</summary>
    private unsafe struct SgdLoop : ILaneLoop
    {
        public float* P, G, B;
        public bool Momentum, Nesterov;
        public float Lr, Wd, Mu;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // straight to optimized code: tier 0 of the lane wrappers is ~10× slower
        public int Run<TL>(int i, int n) where TL : struct, ILanes<TL>
        {
            ref float p = ref *P, g = ref *G, b = ref *B;
            TL lr = TL.Splat(Lr), wd = TL.Splat(Wd), mu = TL.Splat(Mu);
            if (!Momentum)
            {
                for (; i <= n - TL.Count; i += TL.Count)
                {
                    nuint k = (nuint)i;
                    TL vp = TL.Load(ref p, k);
                    TL d = TL.Load(ref g, k) + wd * vp;
                    TL.Store(vp + lr * d, ref p, k);
                }
                return i;
            }
            bool nesterov = Nesterov;
            for (; i <= n - TL.Count; i += TL.Count)
            {
                nuint k = (nuint)i;
                TL vp = TL.Load(ref p, k);
                TL d = TL.Load(ref g, k) + wd * vp;
                TL vb = mu * TL.Load(ref b, k) + d;
                TL.Store(vb, ref b, k);
                d = nesterov ? d + mu * vb : vb;
                TL.Store(vp + lr * d, ref p, k);
            }
            return i;
        }
    }
}
