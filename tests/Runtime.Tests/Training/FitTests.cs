using Xunit;



namespace Compiled.Runtime.Tests.Training;

public class FitTests
{
    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);

    [Fact]
    public void TrainsIrisAboveNinetyPercent()
    {
        var model = new IrisNet(seed: 1);
        (double initialLoss, double initialAccuracy) = model.Evaluate(IrisData.Test);
        History history = model.Fit(IrisData.Train, epochs: 60, batchSize: 16, optimizer: new Adam(0.01),
            validation: IrisData.Test, seed: 3, cancellationToken: TestContext.Current.CancellationToken);
        var (loss, accuracy) = model.Evaluate(IrisData.Test);
        Log($"test loss {initialLoss:F4} → {loss:F4}, accuracy {initialAccuracy:P1} → {accuracy:P1}; " +
            $"train loss {history[0].Loss:F4} → {history.Last.Loss:F4}, accuracy {history.Last.Accuracy:P1}");

        Assert.Equal(60, history.Count);
        Assert.False(history.Cancelled);
        Assert.Null(history.StoppedEpoch);
        Assert.True(accuracy > 0.9, $"test accuracy {accuracy:P1}");
        Assert.True(history.Last.Accuracy > 0.9, $"train accuracy {history.Last.Accuracy:P1}");
        Assert.True(history.Last.Loss < history[0].Loss / 3, "training loss did not fall");
        Assert.True(loss < initialLoss / 3, "test loss did not fall");
        // The last epoch's validation metrics are the model's score on the validation data.
        Assert.Equal(loss, history.Last.ValidationLoss!.Value, 1e-6);
        Assert.Equal(accuracy, history.Last.ValidationAccuracy!.Value);
        Assert.All(history, e => Assert.True(e.Duration > TimeSpan.Zero));
        Assert.Equal(Enumerable.Range(1, 60), history.Select(e => e.Epoch));
        Assert.Equal(history, history.Epochs);
        Assert.Equal(history.Last, history.Epochs[^1]);
        Assert.All(history, e => Assert.Equal(IrisData.Train.Count, e.Samples));
    }

    [Fact]
    public void TrainsWithEveryOptimizerAndOneHotTargets()
    {
        Dataset train = IrisData.Train.OneHot(3), test = IrisData.Test.OneHot(3);
        Optimizer[] optimizers =
        [
            new Sgd(0.1, momentum: 0.9, nesterov: true), new Adam(0.01), new AdamW(0.01, weightDecay: 0.05),
            new RmsProp(0.005, momentum: 0.5) { ClipNorm = 5 },
        ];
        foreach (Optimizer optimizer in optimizers)
        {
            var model = new IrisOneHotNet(seed: 4);
            History history = model.Fit(train, epochs: 40, batchSize: 8, optimizer: optimizer, cancellationToken: TestContext.Current.CancellationToken);
            var (loss, accuracy) = model.Evaluate(test);
            Log($"{optimizer.GetType().Name}: train loss {history[0].Loss:F4} → {history.Last.Loss:F4}; test accuracy {accuracy:P1}, loss {loss:F4}");
            Assert.True(accuracy > 0.9, $"{optimizer.GetType().Name}: test accuracy {accuracy:P1}");
            Assert.True(history.Last.Loss < history[0].Loss / 2, $"{optimizer.GetType().Name}: loss did not fall");
        }
    }

    [Fact]
    public void SameSeedGivesTheSameRunAndAnotherSeedDiffers()
    {
        double[] Run(int seed) => new IrisNet(seed: 5).Fit(IrisData.Train, epochs: 5, batchSize: 10, seed: seed)["loss"];
        double[] first = Run(7), again = Run(7), other = Run(8);
        Log($"seed 7: {string.Join(", ", first.Select(x => x.ToString("F6")))}; seed 8: {string.Join(", ", other.Select(x => x.ToString("F6")))}");
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal(first[0], other[0], 0.2); // the same model, only the order differs
    }

    [Fact]
    public void WithoutShufflingTheOrderIsTheDataSetsOrder()
    {
        double[] a = new IrisNet(seed: 5).Fit(IrisData.Train, epochs: 3, batchSize: 10, shuffle: false, seed: 1, cancellationToken: TestContext.Current.CancellationToken)["loss"];
        double[] b = new IrisNet(seed: 5).Fit(IrisData.Train, epochs: 3, batchSize: 10, shuffle: false, seed: 2, cancellationToken: TestContext.Current.CancellationToken)["loss"];
        Assert.Equal(a, b);
        double[] shuffled = new IrisNet(seed: 5).Fit(IrisData.Train, epochs: 3, batchSize: 10, seed: 1, cancellationToken: TestContext.Current.CancellationToken)["loss"];
        Assert.NotEqual(a, shuffled);
    }

    public static TheoryData<string> Losses => ["sparse", "onehot", "binary", "mse"];

    /// <summary>
    /// With learning rate 0 the model never changes, so an epoch's training loss and accuracy (batch means weighted by
    /// batch size, the last batch partial) must equal the model's score on the whole training set.
    /// </summary>
    [Theory]
    [MemberData(nameof(Losses))]
    public void EpochMetricsAreSampleWeightedMeans(string kind)
    {
        (IModel model, Dataset data) = kind switch
        {
            "sparse" => ((IModel)new IrisNet(seed: 2), IrisData.Train),
            "onehot" => (new IrisOneHotNet(seed: 2), IrisData.Train.OneHot(3)),
            "binary" => (new SetosaNet(seed: 2), IrisData.Setosa(IrisData.Train)),
            _ => (new IrisRegression(seed: 2), IrisData.PetalWidth(IrisData.Train)),
        };
        float[] before = model.Parameters.ToArray();
        History history = model.Fit(data, epochs: 2, batchSize: 32, optimizer: new Sgd(0), cancellationToken: TestContext.Current.CancellationToken); // 120 = 3·32 + 24
        Assert.Equal(before, model.Parameters.ToArray());

        // Independent reference: the outputs of Predict, scored here.
        float[] outputs = model.Predict(data);
        int o = model.OutputSize;
        double loss = 0, correct = 0;
        for (int i = 0; i < data.Count; i++)
        {
            ReadOnlySpan<float> y = outputs.AsSpan(i * o, o), t = data.TargetsOf(i);
            int predicted = 0;
            for (int k = 1; k < o; k++) if (y[k] > y[predicted]) predicted = k;
            switch (kind)
            {
                case "sparse": loss -= Math.Log(y[(int)t[0]]); correct += predicted == (int)t[0] ? 1 : 0; break;
                case "onehot": loss -= Math.Log(y[t.IndexOf(1f)]); correct += t[predicted] == 1f ? 1 : 0; break;
                case "binary":
                    loss -= t[0] * Math.Log(y[0]) + (1 - t[0]) * Math.Log(1 - y[0]);
                    correct += (y[0] > 0.5f ? 1f : 0f) == t[0] ? 1 : 0;
                    break;
                default: loss += Math.Pow(y[0] - t[0], 2); break;
            }
        }
        loss /= data.Count;
        double accuracy = kind == "mse" ? double.NaN : correct / data.Count;
        Log($"{kind}: epoch loss {history[0].Loss:F6} vs {loss:F6}; accuracy {history[0].Accuracy:F4} vs {accuracy:F4}");
        foreach (EpochMetrics e in history)
        {
            Assert.Equal(loss, e.Loss, 1e-5);
            Assert.Equal(accuracy, e.Accuracy);
        }
        var evaluation = model.Evaluate(data, batchSize: 7);
        Assert.Equal(loss, evaluation.Loss, 1e-5);
        Assert.Equal(accuracy, evaluation.Accuracy);
    }

    [Fact]
    public void ValidationMetricsArePresentOnlyWithValidationData()
    {
        History without = new IrisNet(seed: 1).Fit(IrisData.Train, epochs: 2, cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(without, e => { Assert.Null(e.ValidationLoss); Assert.Null(e.ValidationAccuracy); });
        Assert.All(without["val_loss"], x => Assert.True(double.IsNaN(x)));

        History with = new IrisNet(seed: 1).Fit(IrisData.Train, epochs: 2, validation: IrisData.Test, cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(with, e =>
        {
            Assert.InRange(e.ValidationLoss!.Value, 0, 10);
            Assert.InRange(e.ValidationAccuracy!.Value, 0, 1);
        });
        Assert.Equal(with.Select(e => e.ValidationLoss!.Value), with[Metric.ValidationLoss]);
        Assert.Equal(with.Select(e => e.Accuracy), with["accuracy"]);
        Assert.Throws<KeyNotFoundException>(() => with["f1"]);
    }

    [Fact]
    public void ScheduleSetsTheRatePerEpoch()
    {
        var schedule = new StepDecay(2, 0.5);
        var optimizer = new Sgd(0.1, momentum: 0.9) { Schedule = schedule };
        History history = new IrisNet(seed: 1).Fit(IrisData.Train, epochs: 5, optimizer: optimizer, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(Enumerable.Range(0, 5).Select(e => schedule.Rate(0.1, e)), history["lr"]);
        Assert.Equal(0.025, history.Last.LearningRate, 1e-12);
    }

    /// <summary>
    /// Validation labels rotated by one class: the better the model learns iris, the worse its validation loss, so
    /// early stopping must stop and restore an early epoch's weights.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EarlyStoppingStopsAndRestoresTheBestWeights(bool restore)
    {
        Dataset test = IrisData.Test;
        var rotated = new float[test.Count];
        for (int i = 0; i < rotated.Length; i++) rotated[i] = (test.Targets[i] + 1) % 3;
        var misleading = new Dataset(test.Features.ToArray(), rotated, 4, 1);

        var model = new IrisNet(seed: 1);
        var stopping = new EarlyStopping(Metric.ValidationLoss, patience: 2, restoreBestWeights: restore);
        History history = model.Fit(IrisData.Train, epochs: 50, batchSize: 16, optimizer: new Adam(0.01),
            validation: misleading, earlyStopping: stopping, cancellationToken: TestContext.Current.CancellationToken);
        double[] validation = history["val_loss"];
        Log($"val_loss: {string.Join(", ", validation.Select(x => x.ToString("F4")))}; best epoch {history.BestEpoch}, stopped after {history.StoppedEpoch}");

        Assert.NotNull(history.StoppedEpoch);
        Assert.Equal(history.Count, history.StoppedEpoch);
        Assert.True(history.Count < 50);
        int best = history.BestEpoch!.Value;
        Assert.Equal(best, stopping.BestEpoch);
        Assert.Equal(validation.Min(), validation[best - 1]);
        Assert.Equal(validation[best - 1], stopping.BestValue);
        Assert.Equal(best + 2, history.StoppedEpoch); // patience 2: two epochs without improvement
        Assert.Equal(restore, history.RestoredBestWeights);

        double now = model.Evaluate(misleading, batchSize: 16).Loss;
        Assert.Equal(restore ? validation[best - 1] : validation[^1], now, 1e-6);
        Assert.NotEqual(validation[best - 1], validation[^1]);
    }

    [Fact]
    public void EarlyStoppingOnAccuracyWithMinDelta()
    {
        var stopping = new EarlyStopping(Metric.Accuracy, patience: 1, minDelta: 0.5);
        History history = new IrisNet(seed: 1).Fit(IrisData.Train, epochs: 20, earlyStopping: stopping, cancellationToken: TestContext.Current.CancellationToken);
        // No epoch can beat the first by half the samples: the run stops after epoch 2 and keeps epoch 1's weights.
        Assert.Equal(2, history.Count);
        Assert.Equal(1, history.BestEpoch);
        Assert.Equal(2, history.StoppedEpoch);
        Assert.True(history.RestoredBestWeights);
    }

    [Fact]
    public void CancellationReturnsThePartialHistory()
    {
        using var cts = new CancellationTokenSource();
        var reports = new List<TrainingProgress>();
        var progress = new SyncProgress(p =>
        {
            reports.Add(p);
            if (p.Epoch == 2 && p.Batch == 3) cts.Cancel();
        });
        var model = new IrisNet(seed: 1);
        float[] initial = model.Parameters.ToArray();
        History history = model.Fit(IrisData.Train, epochs: 10, batchSize: 4, progress: progress,
            earlyStopping: new EarlyStopping(Metric.Loss), cancellationToken: cts.Token);

        Assert.True(history.Cancelled);
        Assert.Equal(2, history.Count);
        Assert.Equal(120, history[0].Samples);
        Assert.Equal(12, history[1].Samples); // three batches of 4, then the cancellation is seen
        Assert.True(double.IsFinite(history[1].Loss));
        Assert.False(history.RestoredBestWeights); // a cancelled run keeps what it trained
        Assert.NotEqual(initial, model.Parameters.ToArray());
        Assert.Equal(3, reports[^1].Batch); // the partial epoch's end report
        Assert.Equal(history[1].Loss, reports[^1].Loss);

        // The weights are those of 1 epoch + 3 batches: the same run stopped by its own token agrees.
        using var again = new CancellationTokenSource();
        var twin = new IrisNet(seed: 1);
        twin.Fit(IrisData.Train, epochs: 10, batchSize: 4,
            progress: new SyncProgress(p => { if (p.Epoch == 2 && p.Batch == 3) again.Cancel(); }),
            cancellationToken: again.Token);
        Assert.Equal(twin.Parameters.ToArray(), model.Parameters.ToArray());
    }

    [Fact]
    public void CancelledBeforeTheStartTrainsNothing()
    {
        var model = new IrisNet(seed: 1);
        float[] initial = model.Parameters.ToArray();
        History history = model.Fit(IrisData.Train, epochs: 3, cancellationToken: new CancellationToken(canceled: true));
        Assert.True(history.Cancelled);
        Assert.Empty(history);
        Assert.Equal(initial, model.Parameters.ToArray());
        Assert.Throws<InvalidOperationException>(() => history.Last);
    }

    [Fact]
    public void ProgressIsReportedAtMostAboutFiftyTimesPerEpoch()
    {
        var reports = new List<TrainingProgress>();
        History history = new IrisNet(seed: 1).Fit(IrisData.Train, epochs: 2, batchSize: 1, progress: new SyncProgress(reports.Add),
            validation: IrisData.Test, cancellationToken: TestContext.Current.CancellationToken);
        foreach (int epoch in new[] { 1, 2 })
        {
            var mine = reports.Where(r => r.Epoch == epoch).ToList();
            Assert.InRange(mine.Count, 10, 51);
            Assert.All(mine, r => Assert.Equal((2, 120), (r.Epochs, r.Batches)));
            Assert.Equal(mine.Select(r => r.Batch).Order(), mine.Select(r => r.Batch)); // in order
            TrainingProgress end = mine[^1];
            Assert.True(end.IsEpochEnd);
            Assert.Equal(history[epoch - 1].Loss, end.Loss);
            Assert.Equal(history[epoch - 1].ValidationLoss, end.ValidationLoss);
            Assert.Single(mine, r => r.IsEpochEnd);
        }
        Assert.Equal(1.0, reports[^1].Fraction);
    }

    [Fact]
    public void BadArgumentsThrowNamingTheArgument()
    {
        var model = new IrisNet(seed: 1);
        Dataset train = IrisData.Train;
        Assert.Equal("epochs", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(train, epochs: 0, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("batchSize", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(train, 1, batchSize: 0, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("train", Assert.Throws<ArgumentNullException>(() => model.Fit(null!, 1, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => ((IModel)null!).Fit(train, 1, cancellationToken: TestContext.Current.CancellationToken)).ParamName);

        var wide = new Dataset(new float[10], new float[2], 5, 1);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(wide, 1, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("train", e.ParamName);
        Assert.Contains("5 features", e.Message);

        var oneHot = Assert.Throws<ArgumentException>(() => new IrisOneHotNet().Fit(train, 1, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("train", oneHot.ParamName);
        Assert.Contains("train.OneHot(3)", oneHot.Message);
        var labels = Assert.Throws<ArgumentException>(() => model.Fit(train.OneHot(3), 1, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("one class label", labels.Message);
        Assert.Equal("validation", Assert.Throws<ArgumentException>(() => model.Fit(train, 1, validation: wide, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("validation", Assert.Throws<ArgumentException>(() => model.Fit(train, 1, earlyStopping: new EarlyStopping(), cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("earlyStopping", Assert.Throws<ArgumentException>(() =>
            new IrisRegression().Fit(IrisData.PetalWidth(train), 1, earlyStopping: new EarlyStopping(Metric.Accuracy), cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("train", Assert.Throws<ArgumentException>(() => model.Fit(new Dataset([], [], 4, 1), 1, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        var used = new Adam();
        new SetosaNet().Fit(IrisData.Setosa(train), 1, optimizer: used, cancellationToken: TestContext.Current.CancellationToken);
        var other = Assert.Throws<ArgumentException>(() => model.Fit(train, 1, optimizer: used, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("optimizer", other.ParamName);
        Assert.Contains("Reset()", other.Message);
        used.Reset();
        Assert.Single(model.Fit(train, 1, optimizer: used, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("batchSize", Assert.Throws<ArgumentOutOfRangeException>(() => model.Evaluate(train, 0)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => model.Evaluate(wide)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => model.Predict(wide)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => model.Predict(new float[6], new float[6])).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => model.Predict(ReadOnlySpan<float>.Empty, new float[3])).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => model.Predict(new float[8], new float[5])).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => model.PredictClass(new float[8])).ParamName);

        Assert.Equal("patience", Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyStopping(patience: -1)).ParamName);
        Assert.Equal("minDelta", Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyStopping(minDelta: -1)).ParamName);
        Assert.Equal("monitor", Assert.Throws<ArgumentOutOfRangeException>(() => new EarlyStopping((Metric)7)).ParamName);
    }

    /// <summary>Reports synchronously, on the training thread (unlike <see cref="Progress{T}"/>).</summary>
    internal sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
