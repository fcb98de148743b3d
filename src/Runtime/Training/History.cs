using System.Collections;

namespace Compiled;

/// <summary>The metrics of one epoch of <see cref="ModelExtensions.Fit"/>.</summary>
/// <param name="Epoch">The epoch, counted from 1.</param>
/// <param name="Loss">The mean training loss over the epoch's batches, weighted by batch size (with any L2 penalty).</param>
/// <param name="Accuracy">The training accuracy over the epoch (<see cref="double.NaN"/> without classes).</param>
/// <param name="ValidationLoss">The loss on the validation data after the epoch, if there is validation data.</param>
/// <param name="ValidationAccuracy">The accuracy on the validation data after the epoch, if there is validation data.</param>
/// <param name="LearningRate">The learning rate the optimizer used during the epoch.</param>
/// <param name="Duration">The wall time of the epoch, validation included.</param>
/// <param name="Samples">The samples trained on: the whole data set, or fewer in an epoch cut short by cancellation.</param>
public readonly record struct EpochMetrics(
    int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, TimeSpan Duration, int Samples)
{
    /// <summary>The value of <paramref name="metric"/>; <see cref="double.NaN"/> when the epoch does not have it.</summary>
    public double this[Metric metric] => metric switch
    {
        Metric.Loss => Loss,
        Metric.Accuracy => Accuracy,
        Metric.ValidationLoss => ValidationLoss ?? double.NaN,
        Metric.ValidationAccuracy => ValidationAccuracy ?? double.NaN,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, null),
    };
}

/// <summary>
/// What <see cref="ModelExtensions.Fit"/> returns: one <see cref="EpochMetrics"/> per epoch run, in order, plus how the
/// run ended. Like Keras' <c>History</c>, a metric's values over the epochs are <c>history["loss"]</c>,
/// <c>history["val_accuracy"]</c> and so on, or <c>history[Metric.Loss]</c>.
/// </summary>
public sealed class History : IReadOnlyList<EpochMetrics>
{
    private readonly List<EpochMetrics> _epochs;

    internal History(int capacity) => _epochs = new List<EpochMetrics>(capacity);

    /// <summary>The epochs recorded, in order (the history itself is also that list).</summary>
    public IReadOnlyList<EpochMetrics> Epochs => _epochs;

    /// <summary>The number of epochs recorded.</summary>
    public int Count => _epochs.Count;

    /// <summary>The metrics of the epoch at <paramref name="index"/> (from 0; the epoch number is index + 1).</summary>
    public EpochMetrics this[int index] => _epochs[index];

    /// <summary>One metric over the epochs; <see cref="double.NaN"/> where an epoch lacks it.</summary>
    public double[] this[Metric metric]
    {
        get
        {
            var values = new double[_epochs.Count];
            for (int i = 0; i < values.Length; i++) values[i] = _epochs[i][metric];
            return values;
        }
    }

    /// <summary>
    /// One metric over the epochs by its Keras name: <c>loss</c>, <c>accuracy</c>, <c>val_loss</c>, <c>val_accuracy</c>,
    /// or <c>lr</c> (the learning rate).
    /// </summary>
    /// <exception cref="KeyNotFoundException">The name is none of those.</exception>
    public double[] this[string metric] => metric switch
    {
        "loss" => this[Metric.Loss],
        "accuracy" => this[Metric.Accuracy],
        "val_loss" => this[Metric.ValidationLoss],
        "val_accuracy" => this[Metric.ValidationAccuracy],
        "lr" or "learning_rate" => _epochs.Select(e => e.LearningRate).ToArray(),
        _ => throw new KeyNotFoundException($"No metric named '{metric}'; use loss, accuracy, val_loss, val_accuracy or lr."),
    };

    /// <summary>The last epoch's metrics.</summary>
    /// <exception cref="InvalidOperationException">No epoch was recorded (the run was cancelled before its first batch).</exception>
    public EpochMetrics Last => _epochs.Count > 0
        ? _epochs[^1]
        : throw new InvalidOperationException("No epoch was recorded.");

    /// <summary>Whether the run was cancelled; the last epoch may then be partial (see <see cref="EpochMetrics.Samples"/>).</summary>
    public bool Cancelled { get; internal set; }

    /// <summary>The epoch (from 1) after which early stopping ended the run, or <see langword="null"/> if it did not.</summary>
    public int? StoppedEpoch { get; internal set; }

    /// <summary>The best epoch (from 1) by the early-stopping metric, or <see langword="null"/> without early stopping.</summary>
    public int? BestEpoch { get; internal set; }

    /// <summary>Whether early stopping put the best epoch's weights back into the model at the end.</summary>
    public bool RestoredBestWeights { get; internal set; }

    internal void Add(in EpochMetrics metrics) => _epochs.Add(metrics);

    /// <inheritdoc/>
    public IEnumerator<EpochMetrics> GetEnumerator() => _epochs.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
