using System.Globalization;

namespace Compiled.Runtime.Tests.Training;

/// <summary>
/// The iris table shipped in tests/Runtime.Tests/TestData/iris.csv (first line: sample count, feature count, class names; then
/// rows of features and a class label), standardised and split 120 / 30 with a seeded shuffle.
/// </summary>
internal static class IrisData
{
    public const int Features = 4, Classes = 3;

    private static readonly Lazy<(Dataset Train, Dataset Test)> s_split = new(Load);

    /// <summary>120 training samples, class labels.</summary>
    public static Dataset Train => s_split.Value.Train;

    /// <summary>The 30 held-out samples, class labels.</summary>
    public static Dataset Test => s_split.Value.Test;

    private static (Dataset, Dataset) Load()
    {
        string path = TestData.Table("iris.csv");
        string[] lines = File.ReadAllLines(path);
        string[] header = lines[0].Split(',');
        int count = int.Parse(header[0], CultureInfo.InvariantCulture);
        int features = int.Parse(header[1], CultureInfo.InvariantCulture);
        if (features != Features || header.Length - 2 != Classes || lines.Length - 1 < count)
            throw new InvalidDataException($"{path}: unexpected header '{lines[0]}'.");

        var x = new float[count * features];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            string[] cells = lines[i + 1].Split(',');
            for (int j = 0; j < features; j++) x[i * features + j] = float.Parse(cells[j], CultureInfo.InvariantCulture);
            y[i] = float.Parse(cells[features], CultureInfo.InvariantCulture);
        }

        // Standardise every feature to mean 0, standard deviation 1.
        for (int j = 0; j < features; j++)
        {
            double mean = 0, square = 0;
            for (int i = 0; i < count; i++) mean += x[i * features + j];
            mean /= count;
            for (int i = 0; i < count; i++) square += Math.Pow(x[i * features + j] - mean, 2);
            double std = Math.Sqrt(square / count);
            for (int i = 0; i < count; i++) x[i * features + j] = (float)((x[i * features + j] - mean) / std);
        }

        // The file is sorted by class: shuffle before splitting.
        int[] order = Enumerable.Range(0, count).ToArray();
        new Rng(2024).Shuffle(order);
        const int TestCount = 30;
        return (Subset(x, y, order.AsSpan(TestCount)), Subset(x, y, order.AsSpan(0, TestCount)));
    }

    private static Dataset Subset(float[] x, float[] y, ReadOnlySpan<int> rows)
    {
        var xs = new float[rows.Length * Features];
        var ys = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            x.AsSpan(rows[i] * Features, Features).CopyTo(xs.AsSpan(i * Features));
            ys[i] = y[rows[i]];
        }
        return new Dataset(xs, ys, Features, 1);
    }

    /// <summary>The same samples with target 1 for setosa (class 0) and 0 otherwise.</summary>
    public static Dataset Setosa(Dataset data)
    {
        var targets = new float[data.Count];
        for (int i = 0; i < data.Count; i++) targets[i] = data.Targets[i] == 0 ? 1f : 0f;
        return new Dataset(data.Features.ToArray(), targets, Features, 1);
    }

    /// <summary>The same samples with the last feature (petal width) as a regression target.</summary>
    public static Dataset PetalWidth(Dataset data)
    {
        var targets = new float[data.Count];
        for (int i = 0; i < data.Count; i++) targets[i] = data.Features[i * Features + 3];
        return new Dataset(data.Features.ToArray(), targets, Features, 1);
    }
}
