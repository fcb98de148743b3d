using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Compiled;

/// <summary>
/// Updates a model's whole parameter arena from its gradient arena, one <see cref="Step"/> per batch.
/// Subclasses follow PyTorch's <c>torch.optim</c> update rules and defaults exactly.
/// </summary>
/// <remarks>
/// <para>State buffers (moments, momentum) are allocated once, on the first <see cref="Step"/>, and sized to the arena;
/// a step never allocates after that. An optimizer belongs to one arena: call <see cref="Reset"/> before using it on
/// another one.</para>
/// <para>The learning rate is <see cref="LearningRate"/> (the base rate) until a <see cref="Schedule"/> changes it:
/// the trainer calls <see cref="BeginEpoch"/> before every epoch, which sets <see cref="CurrentLearningRate"/> from the
/// schedule, like calling a PyTorch scheduler's <c>step()</c> once per epoch.</para>
/// <para>When <see cref="ClipNorm"/> is positive, each step first rescales the gradients in place so their global L2
/// norm is at most <see cref="ClipNorm"/>, exactly as <c>torch.nn.utils.clip_grad_norm_</c> does.</para>
/// </remarks>
public abstract class Optimizer
{
    private double _learningRate;
    private double _currentLearningRate;
    private LearningRateSchedule? _schedule;
    private double _clipNorm;
    private int _epoch;
    private int _length = -1;

    /// <summary>Sets the base learning rate.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative or not finite.</exception>
    protected Optimizer(double learningRate)
    {
        CheckNonNegative(learningRate, nameof(learningRate));
        _learningRate = learningRate;
        _currentLearningRate = learningRate;
    }

    /// <summary>The base learning rate, which the <see cref="Schedule"/> (if any) scales per epoch.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or not finite.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            CheckNonNegative(value, nameof(LearningRate));
            _learningRate = value;
            UpdateCurrentRate();
        }
    }

    /// <summary>The learning rate the next <see cref="Step"/> uses: the schedule's rate for the current epoch.</summary>
    public double CurrentLearningRate => _currentLearningRate;

    /// <summary>How the learning rate changes from epoch to epoch; <see langword="null"/> keeps it constant.</summary>
    public LearningRateSchedule? Schedule
    {
        get => _schedule;
        init
        {
            _schedule = value;
            UpdateCurrentRate();
        }
    }

    /// <summary>
    /// The largest global L2 norm of the gradients; larger gradients are scaled down in place before the update, as
    /// <c>torch.nn.utils.clip_grad_norm_(parameters, max_norm=ClipNorm)</c> does. 0 (the default) turns clipping off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or not finite.</exception>
    public double ClipNorm
    {
        get => _clipNorm;
        init
        {
            CheckNonNegative(value, nameof(ClipNorm));
            _clipNorm = value;
        }
    }

    /// <summary>The global L2 norm of the gradients before clipping, measured by the last step when clipping is on.</summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>The number of steps taken since construction or the last <see cref="Reset"/>.</summary>
    public long Steps { get; private set; }

    /// <summary>The arena length the state was made for, or −1 before the first step.</summary>
    internal int StateLength => _length;

    /// <summary>The epoch set by the last <see cref="BeginEpoch"/> (counted from 0).</summary>
    public int Epoch => _epoch;

    /// <summary>
    /// Starts epoch <paramref name="epoch"/> (counted from 0): sets <see cref="CurrentLearningRate"/> to the schedule's
    /// rate for that epoch. Epoch 0 uses the base rate for every schedule here, as in PyTorch.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The schedule's rate for <paramref name="epoch"/> is negative, NaN or
    /// overflows a float.</exception>
    public void BeginEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        _epoch = epoch;
        UpdateCurrentRate();
        if (!(_currentLearningRate >= 0) || !float.IsFinite((float)_currentLearningRate))
            throw new InvalidOperationException(
                $"The learning-rate schedule {_schedule?.GetType().Name} gives {_currentLearningRate:R} for epoch {epoch} " +
                $"(base rate {_learningRate:R}), which is not a finite float ≥ 0.");
    }

    /// <summary>
    /// Forgets all state (moments, momentum, step count, epoch) so the optimizer starts afresh, possibly on an arena
    /// of another length. The base learning rate, schedule and clipping are kept.
    /// </summary>
    public void Reset()
    {
        _length = -1;
        _epoch = 0;
        Steps = 0;
        LastGradientNorm = double.NaN;
        UpdateCurrentRate();
        ReleaseState();
    }

    /// <summary>
    /// One update of <paramref name="parameters"/> from <paramref name="gradients"/> (the same layout and length).
    /// Clipping, when on, rescales <paramref name="gradients"/> in place first.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length, or the arena is not the one the optimizer's
    /// state was made for.</exception>
    public void Step(Span<float> parameters, Span<float> gradients)
    {
        if (parameters.Length != gradients.Length)
            ThrowLengthMismatch(parameters.Length, gradients.Length);
        if (_length != parameters.Length)
        {
            if (_length >= 0) ThrowArenaChanged(_length, parameters.Length);
            AllocateState(parameters.Length);
            _length = parameters.Length;
        }

        if (_clipNorm > 0) ClipGradients(gradients);
        Steps++;
        Update(parameters, gradients, (float)_currentLearningRate);
    }

    /// <summary>
    /// The number of state buffers (each as long as the arena) a training checkpoint must save for an exact resume:
    /// 0 for plain SGD, 1 for SGD with momentum, 2 for Adam. An optimizer written outside this library that keeps state
    /// must override this, <see cref="StateName"/> and <see cref="StateBuffer"/>, or resuming it starts its state afresh.
    /// </summary>
    protected virtual int StateCount => 0;

    /// <summary>The checkpoint name of state buffer <paramref name="index"/> (PyTorch's: <c>exp_avg</c>, <c>exp_avg_sq</c>,
    /// <c>momentum_buffer</c>, <c>square_avg</c>).</summary>
    protected virtual string StateName(int index) => throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>State buffer <paramref name="index"/>, once allocated (after the first step or a restore).</summary>
    protected virtual Span<float> StateBuffer(int index) => throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The state buffers by name, for a training checkpoint; empty before the first step.</summary>
    internal IEnumerable<(string Name, float[] Values)> SaveState()
    {
        if (_length < 0) yield break;
        for (int i = 0; i < StateCount; i++) yield return (StateName(i), StateBuffer(i).ToArray());
    }

    /// <summary>The names of the state buffers a checkpoint of this optimizer holds.</summary>
    internal string[] StateNames()
    {
        var names = new string[StateCount];
        for (int i = 0; i < names.Length; i++) names[i] = StateName(i);
        return names;
    }

    /// <summary>
    /// Puts back what a training checkpoint saved: the step count, the epoch and (when <paramref name="length"/> ≥ 0) the
    /// state buffers of an arena of <paramref name="length"/> floats, read through <paramref name="read"/> by name.
    /// </summary>
    internal void RestoreState(long steps, int epoch, int length, Func<string, ReadOnlySpan<float>> read)
    {
        Reset();
        Steps = steps;
        _epoch = epoch;
        UpdateCurrentRate();
        if (length < 0) return;
        AllocateState(length);
        _length = length;
        for (int i = 0; i < StateCount; i++) read(StateName(i)).CopyTo(StateBuffer(i));
    }

    /// <summary>Allocates (zeroed) state for an arena of <paramref name="length"/> floats; called on the first step.</summary>
    protected abstract void AllocateState(int length);

    /// <summary>Drops the state made by <see cref="AllocateState"/>.</summary>
    protected abstract void ReleaseState();

    /// <summary>
    /// Applies one update at <paramref name="learningRate"/>. <see cref="Steps"/> already counts this step (it is 1 on the
    /// first call). Must not allocate.
    /// </summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate);

    private void UpdateCurrentRate()
    {
        double rate = _schedule is null ? _learningRate : _schedule.Rate(_learningRate, _epoch);
        _currentLearningRate = rate;
    }

    /// <summary>
    /// torch.nn.utils.clip_grad_norm_ (norm_type 2): total = ‖g‖₂ over the whole arena,
    /// coef = max_norm / (total + 1e-6), and g *= min(coef, 1).
    /// </summary>
    private void ClipGradients(Span<float> gradients)
    {
        double total = GlobalNorm(gradients);
        LastGradientNorm = total;
        float coef = (float)_clipNorm / ((float)total + 1e-6f);
        if (coef < 1f) TensorPrimitives.Multiply(gradients, coef, gradients);
    }

    /// <summary>The L2 norm of <paramref name="values"/>, with chunked float sums added in double for accuracy.</summary>
    internal static double GlobalNorm(ReadOnlySpan<float> values)
    {
        const int Chunk = 4096;
        double sum = 0;
        for (int i = 0; i < values.Length; i += Chunk)
            sum += TensorPrimitives.SumOfSquares(values.Slice(i, Math.Min(Chunk, values.Length - i)));
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is finite, ≥ 0 and at most
    /// <see cref="float.MaxValue"/>: the update runs in float, where a larger value is +∞ (<c>new Sgd(1e39)</c> would make
    /// every parameter NaN on the first step).
    /// </summary>
    protected static void CheckNonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0.");
        if (value > float.MaxValue)
            throw new ArgumentOutOfRangeException(name, value,
                $"{name} is {value:R}, which overflows a float (the largest is {float.MaxValue:R}): the update runs in float, " +
                "where it would be +Infinity and turn every parameter into NaN.");
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless 0 ≤ <paramref name="value"/> &lt; 1.</summary>
    protected static void CheckFraction(double value, string name)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1).");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLengthMismatch(int parameters, int gradients) =>
        throw new ArgumentException(
            $"gradients holds {gradients} floats but parameters holds {parameters}; they must be the same arena layout.",
            nameof(gradients));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowArenaChanged(int expected, int actual) =>
        throw new ArgumentException(
            $"This optimizer's state was made for an arena of {expected} parameters, but this step passes {actual}. " +
            "Use one optimizer per model, or call Reset() first.", "parameters");
}
