using System.Diagnostics;
using Compiled.CompilerServices;

namespace Compiled.Gpu;

/// <summary>
/// <c>Fit</c> and <c>Evaluate</c> on a GPU, with the CPU trainer's shape (<see cref="ModelExtensions.Fit"/>): the same
/// arguments plus the device, the same <see cref="Optimizer"/> objects (their kind, hyper-parameters and schedule; the
/// update runs as a kernel), the same seeded shuffling, the same <see cref="EpochMetrics"/> and
/// <see cref="TrainingProgress"/>. The trained parameters are copied back into the model at the end, so
/// <c>Forward</c>, checkpoints and further CPU training just work.
/// </summary>
/// <remarks>
/// One difference from the CPU trainer: the loss (and the training accuracy, counted by the loss kernels) comes back
/// from the device once per <see cref="GpuTwin.LossRingSize"/> steps, not every step, so the reports within an epoch
/// come at most that often and cover the steps read back so far. Early stopping copies the parameters to the host
/// once per epoch (one download of the arena) to keep the best epoch's weights.
/// </remarks>
public static class GpuTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="device"/> for <paramref name="epochs"/> epochs of shuffled
    /// mini-batches of <paramref name="train"/> and returns the metrics of every epoch.
    /// </summary>
    /// <param name="model">The model; its parameters are copied to the device, trained there, and copied back at the end.</param>
    /// <param name="device">The GPU (<see cref="GpuDevice.Open"/>) or the CPU simulator.</param>
    /// <param name="train">The training data; its feature and target sizes must fit the model.</param>
    /// <param name="epochs">Passes over the data, ≥ 1.</param>
    /// <param name="batchSize">Samples per step, ≥ 1; the last batch of an epoch holds the rest.</param>
    /// <param name="optimizer">The optimizer to mirror on the device; <see langword="null"/> means <c>new Adam(1e-3)</c>.
    /// Its epoch is set from 0 at the start of each epoch so its schedule applies; its CPU state is not used.</param>
    /// <param name="validation">Data to score after every epoch, or <see langword="null"/>.</param>
    /// <param name="progress">Receives reports during each epoch (each time the losses come back, at most about 50 an
    /// epoch) and one at its end.</param>
    /// <param name="earlyStopping">Stops training when its metric stops improving, and by default puts the best epoch's
    /// weights back, as with the CPU <c>Fit</c>; <see langword="null"/> trains every epoch.</param>
    /// <param name="shuffle">Whether to visit the samples in a new random order every epoch.</param>
    /// <param name="seed">The shuffling seed (the CPU trainer's order for the same seed).</param>
    /// <param name="cancellationToken">Checked before every batch; once cancelled, training stops and the parameters
    /// trained so far are copied back.</param>
    /// <exception cref="ArgumentException">The data does not fit the model, or <paramref name="earlyStopping"/> watches a
    /// metric this run does not have (a validation metric without <paramref name="validation"/>, an accuracy without
    /// classes).</exception>
    /// <exception cref="GpuException">The device failed (out of memory, a kernel failure). The model keeps the parameters
    /// it had before the call, and the CPU path keeps working.</exception>
    public static History Fit(this IGpuModel model, GpuDevice device, Dataset train, int epochs, int batchSize = 32,
        Optimizer? optimizer = null, Dataset? validation = null, IProgress<TrainingProgress>? progress = null,
        EarlyStopping? earlyStopping = null, bool shuffle = true, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Metrics.CheckData(model, train, nameof(train));
        if (validation is not null) Metrics.CheckData(model, validation, nameof(validation));
        earlyStopping?.CheckUsable(model, validation);
        optimizer ??= new Adam(1e-3);

        using var gpuOptimizer = GpuOptimizer.From(optimizer);
        using GpuTwin twin = model.CreateGpuTwin(device);
        var results = new History(Math.Min(epochs, 1024));
        var rng = new Rng(seed);
        var order = new int[train.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        int inSize = model.InputSize, tSize = model.TargetSize;
        int batches = (train.Count + batchSize - 1) / batchSize;
        int reportEvery = Math.Max(GpuTwin.LossRingSize, (batches + 49) / 50); // the CPU trainer's ~50 reports an epoch
        bool hasAccuracy = Metrics.HasAccuracy(model.Loss);
        // Early stopping compares epochs on the host: the arena is downloaded here once per epoch, never into the model
        // itself, so a device failure still leaves the model as it was before the call.
        float[]? hostParameters = earlyStopping is null ? null : new float[model.Parameters.Length];
        earlyStopping?.Begin(model.Parameters.Length);
        bool cancelled = false;

        for (int epoch = 0; epoch < epochs && !cancelled; epoch++)
        {
            long started = Stopwatch.GetTimestamp();
            optimizer.BeginEpoch(epoch);
            gpuOptimizer.LearningRate = optimizer.CurrentLearningRate;
            if (shuffle) rng.Shuffle(order);
            int done = 0, reported = 0;
            for (int start = 0; start < order.Length; start += batchSize)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    cancelled = true;
                    break;
                }
                int batch = Math.Min(batchSize, order.Length - start);
                // Gather straight into pinned staging while the device still runs the previous step.
                twin.Stage(batch, out Span<float> x, out Span<float> t);
                for (int r = 0; r < batch; r++)
                {
                    int s = order[start + r];
                    train.FeaturesOf(s).CopyTo(x.Slice(r * inSize, inSize));
                    train.TargetsOf(s).CopyTo(t.Slice(r * tSize, tSize));
                }
                twin.TrainStaged(batch, gpuOptimizer);
                done++;
                // Report what has come back from the device, without waiting for it: the ring drains on its own.
                if (progress is not null && done - reported >= reportEvery && done < batches &&
                    twin.PeekLosses(out int steps, out double sum, out long seen, out double right) && steps > reported)
                {
                    reported = steps;
                    progress.Report(new TrainingProgress(epoch + 1, epochs, steps, batches, sum / seen,
                        hasAccuracy ? right / seen : double.NaN));
                }
            }
            int stepsRun = twin.ReadLosses(default, out double lossSum, out long samples, out double correct);
            if (stepsRun == 0) break; // cancelled before this epoch's first batch
            double loss = lossSum / samples;
            double accuracy = hasAccuracy ? correct / samples : double.NaN;
            double? validationLoss = null, validationAccuracy = null;
            if (validation is not null && !cancelled)
            {
                (double vl, double va) = Evaluate(twin, validation, batchSize);
                validationLoss = vl;
                validationAccuracy = va;
            }
            var metrics = new EpochMetrics(epoch + 1, loss, accuracy, validationLoss, validationAccuracy,
                optimizer.CurrentLearningRate, Stopwatch.GetElapsedTime(started), (int)samples);
            results.Add(metrics);
            // The epoch-end report, as the CPU trainer makes it (Batch == Batches unless cancelled mid-epoch).
            progress?.Report(new TrainingProgress(epoch + 1, epochs, stepsRun, batches, loss, accuracy,
                validationLoss, validationAccuracy));
            if (cancelled) break;
            if (earlyStopping is not null)
            {
                twin.DownloadParameters(hostParameters);
                if (earlyStopping.EndEpoch(metrics, hostParameters))
                {
                    results.StoppedEpoch = metrics.Epoch;
                    break;
                }
            }
        }
        results.Cancelled = cancelled;
        twin.DownloadParameters();
        if (earlyStopping is not null)
        {
            results.BestEpoch = earlyStopping.BestEpoch == 0 ? null : earlyStopping.BestEpoch;
            // A cancelled run keeps the weights it has; a finished or stopped one gets the best epoch's back.
            if (earlyStopping.RestoreBestWeights && !cancelled)
                results.RestoredBestWeights = earlyStopping.Restore(model.Parameters);
        }
        return results;
    }

    /// <summary>
    /// Scores <paramref name="model"/> on <paramref name="device"/>: the mean per-sample loss and the accuracy
    /// (<see cref="double.NaN"/> without classes), as the CPU <c>Evaluate</c> computes them.
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate(this IGpuModel model, GpuDevice device, Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Metrics.CheckData(model, data, nameof(data));
        using GpuTwin twin = model.CreateGpuTwin(device);
        return Evaluate(twin, data, batchSize);
    }

    internal static (double Loss, double Accuracy) Evaluate(GpuTwin twin, Dataset data, int batchSize)
    {
        Evaluation result = new Evaluator(twin.Model, batchSize, data.Count, twin.Forward).Run(twin.Model, data);
        return (result.Loss, result.Accuracy);
    }
}
