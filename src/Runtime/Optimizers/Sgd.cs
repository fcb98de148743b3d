using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        int n = parameters.Length;
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        float lr = -learningRate, wd = _weightDecay, mu = _momentum;
        int i = 0;

        if (_buffer is null)
        {
            // p = p − lr·(g + wd·p)
            if (Vector512.IsHardwareAccelerated)
            {
                var vlr = Vector512.Create(lr);
                var vwd = Vector512.Create(wd);
                for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                    var d = Vector512.LoadUnsafe(ref g, (nuint)i) + vwd * vp;
                    (vp + vlr * d).StoreUnsafe(ref p, (nuint)i);
                }
            }
            for (; i < n; i++)
            {
                float d = Unsafe.Add(ref g, i) + wd * Unsafe.Add(ref p, i);
                Unsafe.Add(ref p, i) += lr * d;
            }
            return;
        }

        ref float b = ref MemoryMarshal.GetArrayDataReference(_buffer);
        // PyTorch starts the buffer as a copy of d; the buffer starts at zero, so mu·0 + d gives exactly that.
        bool nesterov = _nesterov;
        if (Vector512.IsHardwareAccelerated)
        {
            var vlr = Vector512.Create(lr);
            var vwd = Vector512.Create(wd);
            var vmu = Vector512.Create(mu);
                        for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                var d = Vector512.LoadUnsafe(ref g, (nuint)i) + vwd * vp;
                var vb = vmu * Vector512.LoadUnsafe(ref b, (nuint)i) + d;
                vb.StoreUnsafe(ref b, (nuint)i);
                d = nesterov ? d + vmu * vb : vb;
                (vp + vlr * d).StoreUnsafe(ref p, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float vp = Unsafe.Add(ref p, i);
            float d = Unsafe.Add(ref g, i) + wd * vp;
            float vb = mu * Unsafe.Add(ref b, i) + d;
            Unsafe.Add(ref b, i) = vb;
            d = nesterov ? d + mu * vb : vb;
            Unsafe.Add(ref p, i) = vp + lr * d;
        }
    }
}
