using Compiled.Gpu.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu;

/// <summary>
/// An optimizer whose state (moments, momentum) lives on the device and whose update is one kernel over the whole
/// parameter arena (two with gradient clipping). Update rules, defaults and hyper-parameters are those of
/// <c>torch.optim</c> and of the CPU optimizers in <c>Compiled</c> (Sgd, Adam, AdamW, RmsProp): make one from the CPU
/// optimizer with <see cref="From"/>, so both share one set of defaults and argument checks.
/// </summary>
/// <remarks>
/// Like a CPU optimizer it belongs to one arena: its state is allocated on the first step, sized to that arena, and
/// kept until <see cref="Reset"/> or <see cref="Dispose"/>. <see cref="LearningRate"/> may change between steps (a
/// schedule sets it per epoch); the bias corrections use <see cref="Steps"/>, computed in double as PyTorch does.
/// </remarks>
public sealed class GpuOptimizer : IDisposable
{
    private enum Kind { Sgd, Adam, AdamW, RmsProp }

    private readonly Kind _kind;
    private MemoryBuffer1D<float, Stride1D.Dense>? _state0, _state1, _norm;
    private GpuDevice? _device;
    private long _length = -1;

    private GpuOptimizer(Kind kind, double learningRate, double clipNorm)
    {
        _kind = kind;
        LearningRate = learningRate;
        ClipNorm = clipNorm;
    }

    /// <summary>
    /// The GPU form of a CPU optimizer: the same kind and hyper-parameters (<see cref="Compiled.Sgd"/>,
    /// <see cref="Compiled.Adam"/>, <see cref="Compiled.AdamW"/>, <see cref="Compiled.RmsProp"/>), its current learning rate
    /// and clipping. The CPU optimizer's own state is neither read nor changed; the GPU Fit keeps
    /// <see cref="LearningRate"/> in step with its schedule every epoch.
    /// </summary>
    /// <exception cref="NotSupportedException">An optimizer type the GPU backend has no kernel for.</exception>
    public static GpuOptimizer From(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        double lr = optimizer.CurrentLearningRate, clip = optimizer.ClipNorm;
        // The CPU optimizer checked every hyper-parameter when it was made: one set of defaults and checks.
        return optimizer switch
        {
            Compiled.Sgd s => new GpuOptimizer(Kind.Sgd, lr, clip) { Momentum = s.Momentum, Nesterov = s.Nesterov, WeightDecay = s.WeightDecay },
            Compiled.AdamW a => new GpuOptimizer(Kind.AdamW, lr, clip)
            {
                Beta1 = a.Beta1, Beta2 = a.Beta2, Epsilon = a.Epsilon, WeightDecay = a.WeightDecay,
            },
            Compiled.Adam a => new GpuOptimizer(Kind.Adam, lr, clip)
            {
                Beta1 = a.Beta1, Beta2 = a.Beta2, Epsilon = a.Epsilon, WeightDecay = a.WeightDecay,
            },
            Compiled.RmsProp r => new GpuOptimizer(Kind.RmsProp, lr, clip)
            {
                Alpha = r.Alpha, Epsilon = r.Epsilon, Momentum = r.Momentum, WeightDecay = r.WeightDecay,
            },
            _ => throw new NotSupportedException(
                $"The GPU backend has no kernel for {optimizer.GetType().Name}; use Sgd, Adam, AdamW or RmsProp, or train on the CPU."),
        };
    }

    /// <summary>The learning rate of the next step (a schedule may change it between steps).</summary>
    public double LearningRate
    {
        get;
        set
        {
            CheckNonNegative(value, nameof(LearningRate));
            field = value;
        }
    }

    /// <summary>The largest global L2 norm of the gradients (<c>clip_grad_norm_</c>); 0 turns clipping off.</summary>
    public double ClipNorm { get; }

    /// <summary>SGD's and RMSprop's momentum factor.</summary>
    public double Momentum { get; private init; }

    /// <summary>Whether SGD's momentum is Nesterov's.</summary>
    public bool Nesterov { get; private init; }

    /// <summary>The weight-decay factor (coupled L2, except decoupled for AdamW).</summary>
    public double WeightDecay { get; private init; }

    /// <summary>Adam's first-moment decay.</summary>
    public double Beta1 { get; private init; }

    /// <summary>Adam's second-moment decay.</summary>
    public double Beta2 { get; private init; }

    /// <summary>Adam's and RMSprop's ε.</summary>
    public double Epsilon { get; private init; }

    /// <summary>RMSprop's squared-gradient decay.</summary>
    public double Alpha { get; private init; }

    /// <summary>Steps taken since construction or <see cref="Reset"/>.</summary>
    public long Steps { get; private set; }

    /// <summary>The name and hyper-parameters, e.g. "Adam(lr=0.001, β=(0.9, 0.999), ε=1E-08, wd=0)".</summary>
    public override string ToString() => _kind switch
    {
        Kind.Sgd => $"Sgd(lr={LearningRate}, momentum={Momentum}, nesterov={Nesterov}, wd={WeightDecay})",
        Kind.RmsProp => $"RmsProp(lr={LearningRate}, α={Alpha}, ε={Epsilon}, momentum={Momentum}, wd={WeightDecay})",
        _ => $"{_kind}(lr={LearningRate}, β=({Beta1}, {Beta2}), ε={Epsilon}, wd={WeightDecay})",
    };

    /// <summary>Forgets the state (frees it on the device) so the next step starts afresh, possibly on another arena.</summary>
    public void Reset()
    {
        _state0?.Dispose();
        _state1?.Dispose();
        _norm?.Dispose();
        _state0 = _state1 = _norm = null;
        _device = null;
        _length = -1;
        Steps = 0;
    }

    /// <summary>Frees the device state.</summary>
    public void Dispose() => Reset();

    /// <summary>
    /// Applies one update of <paramref name="parameters"/> from <paramref name="gradients"/> on <paramref name="device"/>
    /// (asynchronous). Public so a custom loop over <see cref="GpuTwin"/> arenas, or a test, can drive it.
    /// </summary>
    /// <exception cref="ArgumentException">The views differ in length, or the arena or device is not the one the state was made for.</exception>
    public void Enqueue(GpuDevice device, ArrayView<float> parameters, ArrayView<float> gradients)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (parameters.Length != gradients.Length)
            throw new ArgumentException($"gradients holds {gradients.Length} floats but parameters holds {parameters.Length}.", nameof(gradients));
        if (_length < 0)
        {
            AllocateState(device, parameters.Length);
        }
        else if (_length != parameters.Length || !ReferenceEquals(_device, device))
        {
            throw new ArgumentException(
                $"This optimizer's state was made for an arena of {_length} parameters on {_device}; this step passes " +
                $"{parameters.Length} on {device}. Use one optimizer per model, or call Reset() first.", nameof(parameters));
        }

        var k = device.Runtime;
        var config = Launch.Elementwise(parameters.Length, device.GridStrideGroups);
        var norm = _norm!.View;
        if (ClipNorm > 0) k.SumOfSquares(Launch.Loss, gradients, norm);
        Steps++;
        float clip = (float)ClipNorm;
        switch (_kind)
        {
            case Kind.Sgd:
                k.Sgd(config, parameters, gradients, Momentum != 0 ? _state0!.View : norm, norm, new SgdArgs
                {
                    NegativeRate = -(float)LearningRate, WeightDecay = (float)WeightDecay, Momentum = (float)Momentum,
                    Nesterov = Nesterov ? 1 : 0, ClipNorm = clip,
                });
                break;
            case Kind.Adam:
            case Kind.AdamW:
                // As PyTorch: the rate and bias corrections combined in double, then used as float scalars.
                double bias1 = 1 - Math.Pow(Beta1, Steps);
                double bias2 = 1 - Math.Pow(Beta2, Steps);
                bool decoupled = _kind == Kind.AdamW;
                k.Adam(config, parameters, gradients, _state0!.View, _state1!.View, norm, new AdamArgs
                {
                    StepSize = -(float)(LearningRate / bias1), Bias2Sqrt = (float)Math.Sqrt(bias2),
                    Beta1 = (float)Beta1, OneMinusBeta1 = (float)(1 - Beta1), Beta2 = (float)Beta2, OneMinusBeta2 = (float)(1 - Beta2),
                    Epsilon = (float)Epsilon, L2 = decoupled ? 0f : (float)WeightDecay,
                    Decay = decoupled ? (float)(1 - LearningRate * WeightDecay) : 1f, ClipNorm = clip,
                });
                break;
            case Kind.RmsProp:
                k.RmsProp(config, parameters, gradients, _state0!.View, Momentum > 0 ? _state1!.View : norm, norm, new RmsPropArgs
                {
                    NegativeRate = -(float)LearningRate, WeightDecay = (float)WeightDecay, Alpha = (float)Alpha,
                    OneMinusAlpha = (float)(1 - Alpha), Epsilon = (float)Epsilon, Momentum = (float)Momentum, ClipNorm = clip,
                });
                break;
        }
    }

    private void AllocateState(GpuDevice device, long length)
    {
        string what = $"{_kind} state ({length:N0} floats)";
        _norm = device.Allocate(1, "gradient norm");
        switch (_kind)
        {
            case Kind.Sgd:
                if (Momentum != 0) _state0 = device.Allocate(length, what);
                break;
            case Kind.Adam:
            case Kind.AdamW:
                _state0 = device.Allocate(length, what + ", first moment");
                _state1 = device.Allocate(length, what + ", second moment");
                break;
            case Kind.RmsProp:
                _state0 = device.Allocate(length, what + ", squares");
                if (Momentum > 0) _state1 = device.Allocate(length, what + ", momentum");
                break;
        }
        _device = device;
        _length = length;
    }

    private static void CheckNonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0.");
    }

}
