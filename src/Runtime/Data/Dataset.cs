namespace Compiled;

/// <summary>
/// Samples in memory: <see cref="Count"/> rows of <see cref="FeatureSize"/> features and <see cref="TargetSize"/>
/// targets, row-major. Class labels are stored as whole-number floats (TargetSize 1); see <see cref="OneHot"/>.
/// </summary>
public sealed class Dataset
{
    private readonly float[] _features;
    private readonly float[] _targets;

    /// <summary>Wraps the arrays (no copy). Their lengths must be whole multiples of the sizes.</summary>
    /// <remarks>The caller keeps its references to the arrays and may change them, so a data set built this way is
    /// checked (finite features, labels in range) by every <c>Fit</c> and <c>Evaluate</c>. Data sets the library builds
    /// itself (the MNIST and CIFAR-10 readers, <see cref="Take"/>, <see cref="OneHot"/> of such a set) own their arrays,
    /// which nothing can change through the read-only spans, so they are checked once per model shape and loss.</remarks>
    public Dataset(float[] features, float[] targets, int featureSize, int targetSize)
        : this(features, targets, featureSize, targetSize, owned: false)
    {
    }

    /// <summary>Wraps the arrays; <paramref name="owned"/> says that no one outside holds a reference to them.</summary>
    internal Dataset(float[] features, float[] targets, int featureSize, int targetSize, bool owned)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (features.Length % featureSize != 0)
            throw new ArgumentException($"features holds {features.Length} floats, not a whole number of samples of {featureSize}.", nameof(features));
        int count = features.Length / featureSize;
        if (targets.Length != (long)count * targetSize)
            throw new ArgumentException(
                $"targets holds {targets.Length} floats, but {count} samples of {targetSize} need {(long)count * targetSize}.", nameof(targets));
        _features = features;
        _targets = targets;
        FeatureSize = featureSize;
        TargetSize = targetSize;
        Count = count;
        Owned = owned;
    }

    /// <summary>Whether the features are also the targets (an autoencoder's data, see <see cref="WithFeaturesAsTargets"/>).</summary>
    internal bool TargetsAreFeatures => ReferenceEquals(_targets, _features);

    /// <summary>Whether the arrays belong to this instance alone (then its content can never change).</summary>
    internal bool Owned { get; }

    /// <summary>The last data check this owned set passed (see <c>Metrics.CheckData</c>), or null.</summary>
    internal object? Checked { get; set; }

    /// <summary>The number of samples.</summary>
    public int Count { get; }

    /// <summary>Floats per sample's features.</summary>
    public int FeatureSize { get; }

    /// <summary>Floats per sample's targets (1 for class labels).</summary>
    public int TargetSize { get; }

    /// <summary>All features, [Count, FeatureSize] row-major.</summary>
    public ReadOnlySpan<float> Features => _features;

    /// <summary>All targets, [Count, TargetSize] row-major.</summary>
    public ReadOnlySpan<float> Targets => _targets;

    /// <summary>The features of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> FeaturesOf(int index) => _features.AsSpan(checked(index * FeatureSize), FeatureSize);

    /// <summary>The targets of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> TargetsOf(int index) => _targets.AsSpan(checked(index * TargetSize), TargetSize);

    /// <summary>
    /// Samples without targets, for a model that reconstructs its input (<see cref="LossTarget.Input"/>): the features
    /// array (not copied) is also the targets, so <see cref="TargetSize"/> is <paramref name="featureSize"/>.
    /// </summary>
    public static Dataset FromFeatures(float[] features, int featureSize) => new(features, features, featureSize, featureSize);

    /// <summary>
    /// This data set with every sample's features as its targets (nothing is copied); what <c>Fit</c> and
    /// <c>Evaluate</c> train and score an autoencoder on.
    /// </summary>
    public Dataset WithFeaturesAsTargets()
        => ReferenceEquals(_targets, _features) ? this : new Dataset(_features, _features, FeatureSize, FeatureSize, Owned);

    /// <summary>The first <paramref name="count"/> samples (copied).</summary>
    public Dataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new Dataset(_features.AsSpan(0, count * FeatureSize).ToArray(), _targets.AsSpan(0, count * TargetSize).ToArray(),
            FeatureSize, TargetSize, owned: true);
    }

    /// <summary>Class labels (TargetSize 1) turned into one-hot rows of <paramref name="classes"/>.</summary>
    public Dataset OneHot(int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        if (TargetSize != 1)
            throw new InvalidOperationException($"OneHot needs one class label per sample, but this data set has {TargetSize} targets per sample.");
        var targets = new float[checked(Count * classes)];
        for (int i = 0; i < Count; i++)
        {
            float label = _targets[i];
            if (label != MathF.Floor(label) || label < 0 || label >= classes)
                throw new InvalidOperationException($"Sample {i} has label {label}, which is not a class in [0, {classes - 1}].");
            targets[i * classes + (int)label] = 1f;
        }
        return new Dataset(_features, targets, FeatureSize, classes, owned: Owned);
    }
}
