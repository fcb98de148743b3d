namespace Compiled;

/// <summary>
/// Stops <see cref="ModelExtensions.Fit"/> when a metric has not improved for <see cref="Patience"/> epochs, as Keras'
/// <c>EarlyStopping</c> does, and by default puts the best epoch's weights back into the model at the end.
/// </summary>
/// <remarks>
/// A loss improves when it falls below the best by more than <see cref="MinDelta"/>; an accuracy when it rises above
/// the best by more than <see cref="MinDelta"/>. A <see cref="double.NaN"/> value never improves. The copy of the best
/// weights is one buffer, allocated once and reused by later runs of the same size. The state is reset at the start of
/// every <c>Fit</c>, so one instance can serve several runs (not at the same time).
/// </remarks>
public sealed class EarlyStopping
{
    private float[]? _bestWeights, _bestBuffers;

    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The metric to watch.</param>
    /// <param name="patience">Epochs without improvement before stopping, ≥ 0.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement, ≥ 0.</param>
    /// <param name="restoreBestWeights">Whether to put the best epoch's weights back into the model when training ends.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public EarlyStopping(Metric monitor = Metric.ValidationLoss, int patience = 3, double minDelta = 0, bool restoreBestWeights = true)
    {
        if (!Enum.IsDefined(monitor)) throw new ArgumentOutOfRangeException(nameof(monitor), monitor, "Unknown metric.");
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        if (!(minDelta >= 0) || double.IsInfinity(minDelta))
            throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must be a finite number ≥ 0.");
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
        RestoreBestWeights = restoreBestWeights;
    }

    /// <summary>The metric watched.</summary>
    public Metric Monitor { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether the best epoch's weights go back into the model when training ends.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>The best value of <see cref="Monitor"/> in the last run (NaN before any epoch).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The epoch (from 1) with the best value in the last run, or 0 before any epoch.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch (from 1) after which the last run stopped, or 0 if it did not stop early.</summary>
    public int StoppedEpoch { get; private set; }

    private int _wait;

    private bool Maximize => Monitor is Metric.Accuracy or Metric.ValidationAccuracy;

    /// <summary>Throws when this callback cannot watch <paramref name="model"/> trained with <paramref name="validation"/>.</summary>
    internal void CheckUsable(IModel model, Dataset? validation)
    {
        if (validation is null && Monitor is Metric.ValidationLoss or Metric.ValidationAccuracy)
            throw new ArgumentException(
                $"Early stopping watches {Monitor}, which needs validation data: pass validation, or watch Metric.Loss.",
                nameof(validation));
        if (!Metrics.HasAccuracy(model.Loss) && Monitor is Metric.Accuracy or Metric.ValidationAccuracy)
            throw new ArgumentException(
                $"Early stopping watches {Monitor}, but a model trained on {model.Loss} has no accuracy.", "earlyStopping");
    }

    internal void Begin(int parameterCount, int bufferCount = 0)
    {
        BestValue = double.NaN;
        BestEpoch = 0;
        StoppedEpoch = 0;
        _wait = 0;
        if (RestoreBestWeights && _bestWeights?.Length != parameterCount) _bestWeights = new float[parameterCount];
        // The best epoch's running statistics (BatchNorm) come back with its weights.
        if (RestoreBestWeights && _bestBuffers?.Length != bufferCount) _bestBuffers = new float[bufferCount];
    }

    /// <summary>Records an epoch's metrics; returns true when training should stop.</summary>
    internal bool EndEpoch(in EpochMetrics metrics, ReadOnlySpan<float> parameters, ReadOnlySpan<float> buffers = default)
    {
        double value = metrics[Monitor];
        bool improved = !double.IsNaN(value) &&
            (BestEpoch == 0 || (Maximize ? value - MinDelta > BestValue : value + MinDelta < BestValue));
        if (improved)
        {
            BestValue = value;
            BestEpoch = metrics.Epoch;
            _wait = 0;
            if (_bestWeights is not null) parameters.CopyTo(_bestWeights);
            if (_bestBuffers is not null && _bestBuffers.Length > 0) buffers.CopyTo(_bestBuffers);
            return false;
        }
        _wait++;
        if (_wait < Patience) return false;
        StoppedEpoch = metrics.Epoch;
        return true;
    }

    /// <summary>The state a training checkpoint saves: the best value and epoch, the epochs waited, the epoch it stopped
    /// at (0 while running) and the best weights (null when they are not kept or no epoch has been best yet).</summary>
    internal (double Best, int BestEpoch, int Wait, int Stopped, float[]? Weights) SaveState() =>
        (BestValue, BestEpoch, _wait, StoppedEpoch, BestEpoch > 0 ? _bestWeights : null);

    /// <summary>Puts back what <see cref="SaveState"/> gave, after <see cref="Begin"/>.</summary>
    internal void RestoreState(double best, int bestEpoch, int wait, int stopped, ReadOnlySpan<float> weights)
    {
        BestValue = best;
        BestEpoch = bestEpoch;
        _wait = wait;
        StoppedEpoch = stopped;
        if (_bestWeights is not null && !weights.IsEmpty) weights.CopyTo(_bestWeights);
    }

    /// <summary>Copies the best weights back; returns whether there were any.</summary>
    internal bool Restore(Span<float> parameters, Span<float> buffers = default)
    {
        if (_bestWeights is null || BestEpoch == 0) return false;
        _bestWeights.CopyTo(parameters);
        if (_bestBuffers is not null && _bestBuffers.Length > 0) _bestBuffers.CopyTo(buffers);
        return true;
    }
}
