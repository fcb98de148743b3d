using System.Diagnostics;
using Compiled.Runtime.Tests.Checkpoints;
using Xunit;

namespace Compiled.Runtime.Tests.Training;

/// <summary>
/// <c>Fit</c> refuses data that would silently poison training (non-finite features or targets, labels the loss cannot
/// take), naming the data set, the sample and the value, before it touches the model.
/// </summary>
public sealed class DataCheckTests(ITestOutputHelper output)
{
    /// <summary>64 samples of 784 values in [0, 1) with labels 0..9, in arrays the caller keeps.</summary>
    private static (float[] X, float[] Y) Digits(int count = 64)
    {
        var x = new float[count * 784];
        var y = new float[count];
        for (int i = 0; i < x.Length; i++) x[i] = (i * 7919 % 1000) / 1000f;
        for (int i = 0; i < count; i++) y[i] = i % 10;
        return (x, y);
    }

    private static void AssertFitRefuses(IModel model, Dataset train, Dataset? validation, string paramName, string message)
    {
        int[] before = SafetensorsFiles.Bits(model.Parameters);
        var ex = Assert.Throws<ArgumentException>(() => model.Fit(train, epochs: 1, batchSize: 16, validation: validation,
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(paramName, ex.ParamName);
        Assert.StartsWith(message, ex.Message);
        Assert.Equal(before, SafetensorsFiles.Bits(model.Parameters));
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void A_non_finite_feature_in_train_names_the_set_sample_feature_and_value(float bad, string shown)
    {
        var (x, y) = Digits();
        x[37 * 784 + 400] = bad;
        AssertFitRefuses(new CheckpointMlp(seed: 1), new Dataset(x, y, 784, 1), null, "train",
            $"train sample 37 has feature 400 = {shown}; every feature must be finite");
    }

    [Fact]
    public void A_non_finite_feature_in_validation_names_validation()
    {
        var (x, y) = Digits();
        var (vx, vy) = Digits(20);
        vx[5 * 784] = float.PositiveInfinity;
        AssertFitRefuses(new CheckpointMlp(seed: 1), new Dataset(x, y, 784, 1), new Dataset(vx, vy, 784, 1), "validation",
            "validation sample 5 has feature 0 = +Infinity");
    }

    [Theory]
    [InlineData(10f, "10")]
    [InlineData(1.5f, "1.5")]
    [InlineData(-1f, "-1")]
    [InlineData(float.NaN, "NaN")]
    public void A_label_outside_the_classes_names_the_set_sample_and_value(float label, string shown)
    {
        var (x, y) = Digits();
        y[3] = label;
        string expected = float.IsNaN(label)
            ? "train sample 3 has target NaN; every target must be finite."
            : $"train sample 3 has label {shown}, but SparseCategoricalCrossEntropy needs a whole-number class label in [0, 9] (the model has 10 outputs).";
        AssertFitRefuses(new CheckpointMlp(seed: 1), new Dataset(x, y, 784, 1), null, "train", expected);

        // The same in the validation set (its index counted from its own start).
        var (tx, ty) = Digits();
        AssertFitRefuses(new CheckpointMlp(seed: 1), new Dataset(tx, ty, 784, 1), new Dataset(x, y, 784, 1), "validation",
            expected.Replace("train", "validation", StringComparison.Ordinal));
    }

    [Fact]
    public void Binary_targets_must_lie_in_0_to_1_and_one_hot_rows_must_sum_to_1()
    {
        Dataset setosa = IrisData.Setosa(IrisData.Train);
        float[] targets = setosa.Targets.ToArray();
        targets[17] = 2f;
        AssertFitRefuses(new SetosaNet(seed: 1), new Dataset(setosa.Features.ToArray(), targets, 4, 1), null, "train",
            "train sample 17 has target 2, but BinaryCrossEntropy needs targets in [0, 1].");

        Dataset oneHot = IrisData.Train.OneHot(3);
        float[] rows = oneHot.Targets.ToArray();
        rows[9 * 3 + 1] = 1f - rows[9 * 3 + 1]; // sample 9 now has two ones or none
        AssertFitRefuses(new IrisOneHotNet(seed: 1), new Dataset(oneHot.Features.ToArray(), rows, 4, 3), null, "train",
            "train sample 9 has a target row summing to ");
        rows = oneHot.Targets.ToArray();
        rows[4 * 3 + 2] = -0.5f;
        AssertFitRefuses(new IrisOneHotNet(seed: 1), new Dataset(oneHot.Features.ToArray(), rows, 4, 3), null, "train",
            "train sample 4 has target -0.5 at position 2, but CategoricalCrossEntropy needs one-hot (or probability) rows");

        // Regression targets may be any finite number, but not NaN.
        Dataset width = IrisData.PetalWidth(IrisData.Train);
        float[] w = width.Targets.ToArray();
        w[0] = -123f;
        new IrisRegression(seed: 1).Fit(new Dataset(width.Features.ToArray(), w, 4, 1), epochs: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        w[1] = float.NaN;
        AssertFitRefuses(new IrisRegression(seed: 1), new Dataset(width.Features.ToArray(), w, 4, 1), null, "train",
            "train sample 1 has target NaN; every target must be finite.");
    }

    [Fact]
    public void Evaluate_checks_too()
    {
        var (x, y) = Digits();
        y[63] = 12;
        var ex = Assert.Throws<ArgumentException>(() => new CheckpointMlp(seed: 1).Evaluate(new Dataset(x, y, 784, 1)));
        Assert.StartsWith("data sample 63 has label 12", ex.Message);
    }

    /// <summary>
    /// Predicting from a NaN or infinite input is an error, not a prediction: through ReLU and softmax a NaN pixel can come
    /// out as a finite, plausible output. Every Predict helper refuses it, naming the sample and the feature.
    /// </summary>
    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void Predict_refuses_a_non_finite_input_naming_the_sample_and_feature(float bad, string shown)
    {
        var (x, y) = Digits(4);
        x[2 * 784 + 300] = bad;
        var model = new CheckpointMlp(seed: 1);
        var data = Assert.Throws<ArgumentException>(() => model.Predict(new Dataset(x, y, 784, 1)));
        Assert.Equal("data", data.ParamName);
        Assert.StartsWith($"data holds {shown} at sample 2, feature 300", data.Message);
        var span = Assert.Throws<ArgumentException>(() => model.Predict(x, new float[40]));
        Assert.Equal("input", span.ParamName);
        Assert.StartsWith($"input holds {shown} at sample 2, feature 300", span.Message);
        var one = Assert.Throws<ArgumentException>(() => model.PredictClass(x.AsSpan(2 * 784, 784)));
        Assert.StartsWith($"input holds {shown} at sample 0, feature 300", one.Message);
        // The finite samples predict as before.
        Assert.InRange(model.PredictClass(x.AsSpan(0, 784)), 0, 9);
    }

    [Fact]
    public void Only_data_sets_that_own_their_arrays_remember_the_check()
    {
        var (x, y) = Digits();
        var shared = new Dataset(x, y, 784, 1);
        var model = new CheckpointMlp(seed: 1);
        model.Fit(shared, epochs: 1, batchSize: 16, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Null(shared.Checked);

        // The caller still holds the arrays: a change after one Fit is caught by the next.
        x[2 * 784 + 1] = float.NaN;
        AssertFitRefuses(model, shared, null, "train", "train sample 2 has feature 1 = NaN");

        x[2 * 784 + 1] = 0;
        Dataset owned = shared.Take(40);
        Assert.True(owned.Owned);
        model.Fit(owned, epochs: 1, batchSize: 16, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((Loss.SparseCategoricalCrossEntropy, 10, 1, 0), Assert.IsType<ValueTuple<Loss, int, int, int>>(owned.Checked)); // 0: no token vocabulary
        Assert.True(owned.OneHot(10).Owned);
        Assert.False(shared.OneHot(10).Owned);
    }

    /// <summary>
    /// What the check costs on the 60,000 MNIST training images (47 M floats, 188 MB): measured 2026-11-30 on the
    /// 2-core development machine while four other builds ran (load average 18) at 69 ms per check in Release and
    /// 103 ms in Debug, against several seconds per training epoch; the loaders' data sets are checked once per loss
    /// and class count, not once per <c>Fit</c>. The bound here is loose, for shared CI machines.
    /// </summary>
    [Fact]
    public void The_check_of_60000_MNIST_images_is_cheap()
    {
        Dataset train = Mnist.Read(Path.Combine(TestData.MnistDirectory, "train-images-idx3-ubyte.gz"),
            Path.Combine(TestData.MnistDirectory, "train-labels-idx1-ubyte.gz"));
        Metrics.CheckValues(Loss.SparseCategoricalCrossEntropy, 10, train, "train"); // warm up
        const int Runs = 5;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Runs; i++) Metrics.CheckValues(Loss.SparseCategoricalCrossEntropy, 10, train, "train");
        double ms = clock.Elapsed.TotalMilliseconds / Runs;
        output.WriteLine($"CheckData on {train.Count} x {train.FeatureSize}: {ms:F1} ms per check");
        Assert.True(ms < 1000, $"The data check took {ms:F1} ms");
    }
}
