using System.Globalization;
using System.Text;

namespace Compiled;

/// <summary>
/// Feature standardisation, as scikit-learn's <c>StandardScaler</c>: each feature becomes <c>(x − mean) / std</c>, with the
/// mean and the population standard deviation of the training data (computed in double). A constant feature keeps a
/// scale of 1. Fit it on the training set only, apply it to every set, and save it beside the model: a prediction must
/// see features scaled exactly as in training.
/// </summary>
/// <example><code>
/// var scaler = Standardizer.Fit(train);
/// train = scaler.Transform(train);
/// test = scaler.Transform(test);
/// scaler.Save("scaler.csv");
/// // at prediction time:
/// Standardizer.Load("scaler.csv").Transform(features);   // in place
/// </code></example>
public sealed class Standardizer
{
    private readonly double[] _mean;
    private readonly double[] _std;

    /// <summary>A standardiser with the given per-feature means and standard deviations (copied).</summary>
    /// <exception cref="ArgumentException">The lengths differ or are 0, a mean is not finite, or a standard deviation
    /// is not finite and positive.</exception>
    public Standardizer(ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"mean has {mean.Length} values and std {std.Length}: give one of each per feature (at least one).", nameof(std));
        for (int j = 0; j < mean.Length; j++)
        {
            if (!double.IsFinite(mean[j]))
                throw new ArgumentException($"The mean of feature {j} is {mean[j]}; it must be finite.", nameof(mean));
            if (!(double.IsFinite(std[j]) && std[j] > 0))
                throw new ArgumentException($"The standard deviation of feature {j} is {std[j]}; it must be finite and positive.", nameof(std));
        }
        _mean = mean.ToArray();
        _std = std.ToArray();
    }

    /// <summary>The number of features.</summary>
    public int FeatureCount => _mean.Length;

    /// <summary>Each feature's mean in the data it was fitted on.</summary>
    public ReadOnlySpan<double> Mean => _mean;

    /// <summary>Each feature's standard deviation (1 for a constant feature).</summary>
    public ReadOnlySpan<double> StandardDeviation => _std;

    /// <summary>Computes every feature's mean and population standard deviation over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The data set is empty or holds a non-finite feature.</exception>
    public static Standardizer Fit(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("The data set holds no samples.", nameof(data));
        int n = data.FeatureSize;
        var mean = new double[n];
        var square = new double[n];
        ReadOnlySpan<float> x = data.Features;
        int bad = FloatChecks.IndexOfNonFinite(x);
        if (bad >= 0)
            throw new ArgumentException(
                $"Sample {bad / n} has feature {bad % n} = {FloatChecks.Describe(x[bad])}; every feature must be finite.", nameof(data));
        for (int i = 0; i < data.Count; i++)
            for (int j = 0; j < n; j++) mean[j] += x[i * n + j];
        for (int j = 0; j < n; j++) mean[j] /= data.Count;
        for (int i = 0; i < data.Count; i++)
            for (int j = 0; j < n; j++)
            {
                double d = x[i * n + j] - mean[j];
                square[j] += d * d;
            }
        var std = new double[n];
        for (int j = 0; j < n; j++)
        {
            double s = Math.Sqrt(square[j] / data.Count);
            std[j] = s > 1e-12 * Math.Max(1, Math.Abs(mean[j])) ? s : 1;
        }
        return new Standardizer(mean, std);
    }

    /// <summary>A new data set with standardised features and the same targets.</summary>
    /// <exception cref="ArgumentException">The data set's feature size is not <see cref="FeatureCount"/>.</exception>
    public Dataset Transform(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckSize(data.FeatureSize, nameof(data));
        float[] features = data.Features.ToArray();
        Transform(features);
        return new Dataset(features, data.Targets.ToArray(), data.FeatureSize, data.TargetSize, owned: true);
    }

    /// <summary>Standardises, in place, the features of one or more samples (a whole multiple of <see cref="FeatureCount"/>).
    /// Allocates nothing.</summary>
    /// <exception cref="ArgumentException">The length is not a whole number of samples.</exception>
    public void Transform(Span<float> features)
    {
        if (features.Length % _mean.Length != 0)
            throw new ArgumentException(
                $"features holds {features.Length} floats, not a whole number of samples of {_mean.Length}.", nameof(features));
        for (int i = 0; i < features.Length; i += _mean.Length)
            for (int j = 0; j < _mean.Length; j++)
                features[i + j] = (float)((features[i + j] - _mean[j]) / _std[j]);
    }

    /// <summary>Undoes <see cref="Transform(Span{float})"/> in place.</summary>
    /// <exception cref="ArgumentException">The length is not a whole number of samples.</exception>
    public void InverseTransform(Span<float> features)
    {
        if (features.Length % _mean.Length != 0)
            throw new ArgumentException(
                $"features holds {features.Length} floats, not a whole number of samples of {_mean.Length}.", nameof(features));
        for (int i = 0; i < features.Length; i += _mean.Length)
            for (int j = 0; j < _mean.Length; j++)
                features[i + j] = (float)(features[i + j] * _std[j] + _mean[j]);
    }

    /// <summary>
    /// Writes the means and standard deviations as a CSV table (columns <c>mean</c> and <c>std</c>, one row per feature,
    /// round-trip precision), atomically.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = new StringBuilder("mean,std\n");
        for (int j = 0; j < _mean.Length; j++)
            text.Append(_mean[j].ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(_std[j].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Reads a standardiser written by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not such a table, or holds a non-finite mean or a standard
    /// deviation that is not positive; the message names the file and the row.</exception>
    public static Standardizer Load(string path)
    {
        CsvTable table = Csv.Read(path);
        if (table.ColumnCount != 2 || table.ColumnNames[0] != "mean" || table.ColumnNames[1] != "std")
            throw new InvalidDataException(
                $"{table.Source} is not a saved Standardizer: its columns are {Csv.Describe(table.ColumnNames)}, not mean, std.");
        double[] mean = table.Column("mean"), std = table.Column("std");
        for (int j = 0; j < std.Length; j++)
            if (!(std[j] > 0))
                throw new InvalidDataException($"{table.Source} data row {j + 1}: the standard deviation {std[j]} is not positive.");
        return new Standardizer(mean, std);
    }

    private void CheckSize(int featureSize, string name)
    {
        if (featureSize != _mean.Length)
            throw new ArgumentException(
                $"{name} has {featureSize} features per sample, but this standardiser was fitted on {_mean.Length}.", name);
    }
}
