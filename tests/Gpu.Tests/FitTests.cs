using Compiled.Gpu.Tests.HandWritten;

namespace Compiled.Gpu.Tests;

/// <summary>
/// What GPU <c>Fit</c> adds over a loop of training steps, against the CPU trainer: early stopping (the same stop,
/// the same restored weights, the same argument errors) and progress reported within an epoch.
/// </summary>
public class FitTests(ITestOutputHelper output)
{
    private static GpuDevice Device => Simulator.Device;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void Early_stopping_stops_where_the_cpu_trainer_does_and_restores_the_best_epochs_weights()
    {
        (Dataset train, Dataset validation) = TestData.Blobs();
        // With a minimum improvement this large only the first epoch counts as one, whatever the losses: training must
        // stop after epoch 1 + patience and put epoch 1's weights back.
        EarlyStopping Stopper() => new(Metric.ValidationLoss, patience: 2, minDelta: 1e9);
        var cpu = new TinySoftmaxMse(seed: 5);
        var gpuModel = new TinySoftmaxMse(seed: 5);
        EarlyStopping cpuStop = Stopper(), gpuStop = Stopper();
        History cpuHistory = cpu.Fit(train, epochs: 8, batchSize: 16, new Adam(0.05), validation, earlyStopping: cpuStop, seed: 9,
            cancellationToken: Token);
        History gpuHistory = gpuModel.Fit(Device, train, epochs: 8, batchSize: 16, new Adam(0.05), validation, earlyStopping: gpuStop,
            seed: 9, cancellationToken: Token);

        output.WriteLine($"CPU: {cpuHistory.Count} epochs, stopped {cpuHistory.StoppedEpoch}, best {cpuHistory.BestEpoch}; " +
            $"GPU: {gpuHistory.Count} epochs, stopped {gpuHistory.StoppedEpoch}, best {gpuHistory.BestEpoch}");
        Assert.Equal(3, gpuHistory.Count);
        Assert.Equal(cpuHistory.Count, gpuHistory.Count);
        Assert.Equal(3, gpuHistory.StoppedEpoch);
        Assert.Equal(1, gpuHistory.BestEpoch);
        Assert.True(gpuHistory.RestoredBestWeights);
        Assert.False(gpuHistory.Cancelled);
        Assert.Equal(cpuStop.BestValue, gpuStop.BestValue, 5);
        Assert.Equal(3, gpuStop.StoppedEpoch);
        Check.Close(output, "restored weights, CPU vs GPU", cpu.Parameters, gpuModel.Parameters, 1e-5);

        // The weights put back are epoch 1's, not the last epoch's.
        var oneEpoch = new TinySoftmaxMse(seed: 5);
        oneEpoch.Fit(Device, train, epochs: 1, batchSize: 16, new Adam(0.05), seed: 9, cancellationToken: Token);
        Check.Close(output, "restored weights vs one epoch's", oneEpoch.Parameters, gpuModel.Parameters, 1e-6);
        var threeEpochs = new TinySoftmaxMse(seed: 5);
        threeEpochs.Fit(Device, train, epochs: 3, batchSize: 16, new Adam(0.05), seed: 9, cancellationToken: Token);
        double moved = 0;
        for (int i = 0; i < threeEpochs.Parameters.Length; i++)
            moved = Math.Max(moved, Math.Abs(threeEpochs.Parameters[i] - gpuModel.Parameters[i]));
        output.WriteLine($"restored weights vs three epochs' weights: max |Δ| = {moved:E2}");
        Assert.True(moved > 1e-3, $"the restored weights are within {moved:E2} of the last epoch's");
    }

    [Fact]
    public void Early_stopping_without_restoring_keeps_the_last_epochs_weights()
    {
        (Dataset train, Dataset validation) = TestData.Blobs();
        var stopped = new TinySoftmaxMse(seed: 5);
        History history = stopped.Fit(Device, train, epochs: 8, batchSize: 16, new Adam(0.05), validation,
            earlyStopping: new EarlyStopping(Metric.Loss, patience: 1, minDelta: 1e9, restoreBestWeights: false), seed: 9,
            cancellationToken: Token);
        Assert.Equal(2, history.StoppedEpoch);
        Assert.False(history.RestoredBestWeights);

        var twoEpochs = new TinySoftmaxMse(seed: 5);
        twoEpochs.Fit(Device, train, epochs: 2, batchSize: 16, new Adam(0.05), seed: 9, cancellationToken: Token);
        Check.Close(output, "weights vs two epochs'", twoEpochs.Parameters, stopped.Parameters, 1e-6);
    }

    [Fact]
    public void Early_stopping_on_a_metric_the_run_lacks_names_the_argument_and_leaves_the_model_alone()
    {
        (Dataset train, _) = TestData.Blobs();
        var model = new TinySoftmaxMse(seed: 5);
        float[] before = model.Parameters.ToArray();

        var noValidation = Assert.Throws<ArgumentException>(() =>
            model.Fit(Device, train, epochs: 2, earlyStopping: new EarlyStopping(Metric.ValidationLoss), cancellationToken: Token));
        Assert.Equal("validation", noValidation.ParamName);
        Assert.Contains("ValidationLoss", noValidation.Message);

        // Mean squared error has no classes, so no accuracy to watch.
        var noAccuracy = Assert.Throws<ArgumentException>(() =>
            model.Fit(Device, train, epochs: 2, validation: train, earlyStopping: new EarlyStopping(Metric.Accuracy),
                cancellationToken: Token));
        Assert.Equal("earlyStopping", noAccuracy.ParamName);
        Assert.Contains("MeanSquaredError", noAccuracy.Message);

        Assert.Equal(before, model.Parameters.ToArray());
    }

    [Fact]
    public void Progress_comes_within_each_epoch_and_agrees_with_the_cpu_trainers_running_figures()
    {
        // 70 single-sample batches: the losses come back every 64 steps, so one report at batch 64, then the epoch-end
        // report at 70; the second epoch counts its batches from 1 again. (Each step costs tens of milliseconds on the
        // CPU simulator, so the run is as short as a drained ring allows.)
        Dataset train = TestData.SeparableBinary(70, seed: 17);
        List<TrainingProgress> cpuReports = [], gpuReports = [];
        new TinyGeluBinary(seed: 4).Fit(train, epochs: 2, batchSize: 1, new Adam(0.01), progress: new ListProgress(cpuReports), seed: 3,
            cancellationToken: Token);
        History gpuHistory = new TinyGeluBinary(seed: 4).Fit(Device, train, epochs: 2, batchSize: 1, new Adam(0.01),
            progress: new ListProgress(gpuReports), seed: 3, cancellationToken: Token);

        foreach (TrainingProgress r in gpuReports)
            output.WriteLine($"GPU epoch {r.Epoch} batch {r.Batch}/{r.Batches}: loss {r.Loss:F5}, accuracy {r.Accuracy:F4}");
        int[] expectedBatches = [64, 70];
        for (int epoch = 1; epoch <= 2; epoch++)
        {
            TrainingProgress[] reports = gpuReports.Where(r => r.Epoch == epoch).ToArray();
            Assert.Equal(expectedBatches, reports.Select(r => r.Batch));
            Assert.All(reports, r => Assert.Equal(70, r.Batches));
            Check.Close(output, $"epoch {epoch} end loss vs history", gpuHistory[epoch - 1].Loss, reports[^1].Loss, 1e-12);

            // Batch 64 is one where both trainers report (the CPU one every 2 batches): same running loss and accuracy.
            TrainingProgress cpuAt64 = cpuReports.Single(r => r.Epoch == epoch && r.Batch == 64);
            TrainingProgress gpuAt64 = reports[0];
            Check.Close(output, $"epoch {epoch} running loss at batch 64", cpuAt64.Loss, gpuAt64.Loss, 1e-5);
            Assert.Equal(cpuAt64.Accuracy, gpuAt64.Accuracy, 6);
        }
    }

    [Fact]
    public void A_non_finite_loss_on_the_GPU_stops_Fit_at_its_epoch_and_leaves_the_model_as_it_was()
    {
        // One huge but finite feature (the data check passes) overflows the forward pass or the first update, so the
        // loss of epoch 1 or 2 is not finite (the GPU trainer sees losses, not gradients).
        Dataset good = TestData.SeparableBinary(16, seed: 21);
        float[] x = good.Features.ToArray();
        x[5 * 6 + 2] = 3e38f;
        var model = new TinyGeluBinary(seed: 5);
        float[] before = model.Parameters.ToArray();
        var ex = Assert.Throws<TrainingDivergedException>(() => model.Fit(Device, new Dataset(x, good.Targets.ToArray(), 6, 1),
            epochs: 2, batchSize: 16, new Adam(0.01), cancellationToken: Token));
        output.WriteLine(ex.Message);
        Assert.InRange(ex.Epoch, 1, 2);
        Assert.False(ex.ParametersRestored);
        Assert.Contains($"epoch {ex.Epoch}", ex.Message);
        Assert.Equal(before, model.Parameters.ToArray());
    }
}
