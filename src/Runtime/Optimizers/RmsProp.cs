using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        float lr = -learningRate, wd = (float)WeightDecay, a = (float)Alpha, c = (float)(1 - Alpha);
        float eps = (float)Epsilon, mu = (float)Momentum;
        bool momentum = _buffer is not null;

        int n = parameters.Length;
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float s = ref MemoryMarshal.GetArrayDataReference(_square!);
        // Without momentum the buffer is never read or written; point at the squares so the reference is valid.
        ref float b = ref MemoryMarshal.GetArrayDataReference(_buffer ?? _square!);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vlr = Vector512.Create(lr);
            var vwd = Vector512.Create(wd);
            var va = Vector512.Create(a);
            var vc = Vector512.Create(c);
            var veps = Vector512.Create(eps);
            var vmu = Vector512.Create(mu);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var vp = Vector512.LoadUnsafe(ref p, (nuint)i);
                var vg = Vector512.LoadUnsafe(ref g, (nuint)i) + vwd * vp;
                var vs = va * Vector512.LoadUnsafe(ref s, (nuint)i) + vc * vg * vg;
                vs.StoreUnsafe(ref s, (nuint)i);
                var avg = Vector512.Sqrt(vs) + veps;
                if (momentum)
                {
                    var vb = vmu * Vector512.LoadUnsafe(ref b, (nuint)i) + vg / avg;
                    vb.StoreUnsafe(ref b, (nuint)i);
                    vp += vlr * vb;
                }
                else
                {
                    vp += vlr * vg / avg;
                }
                vp.StoreUnsafe(ref p, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float vp = Unsafe.Add(ref p, i);
            float vg = Unsafe.Add(ref g, i) + wd * vp;
            float vs = a * Unsafe.Add(ref s, i) + c * vg * vg;
            Unsafe.Add(ref s, i) = vs;
            float avg = MathF.Sqrt(vs) + eps;
            if (momentum)
            {
                float vb = mu * Unsafe.Add(ref b, i) + vg / avg;
                Unsafe.Add(ref b, i) = vb;
                vp += lr * vb;
            }
            else
            {
                vp += lr * vg / avg;
            }
            Unsafe.Add(ref p, i) = vp;
        }
    }
}
