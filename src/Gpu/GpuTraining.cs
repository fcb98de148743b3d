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
    /// <exception cref="TrainingDivergedException">An epoch's loss was NaN or infinite (checked when the epoch's losses
    /// come back); the model keeps the parameters it had before the call.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training the model.</exception>
    public static History Fit(this IGpuModel model, GpuDevice device, Dataset train, int epochs, int batchSize = 32,
        Optimizer? optimizer = null, Dataset? validation = null, IProgress<TrainingProgress>? progress = null,
        EarlyStopping? earlyStopping = null, bool shuffle = true, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        train = Metrics.TargetsFor(model, train);
        validation = Metrics.TargetsFor(model, validation);
        Metrics.CheckData(model, train, nameof(train));
        if (validation is not null) Metrics.CheckData(model, validation, nameof(validation));
        earlyStopping?.CheckUsable(model, validation);
        optimizer ??= new Adam(1e-3);

        using var gpuOptimizer = GpuOptimizer.From(optimizer);
        using GpuTwin twin = model.CreateGpuTwin(device);
        var backend = new GpuTrainingBackend(twin, train, gpuOptimizer, batchSize, validation, earlyStopping is not null);
        return TrainingLoop.Run(model, backend, train.Count, epochs, batchSize, optimizer, validation, progress, earlyStopping,
            shuffle, seed, cancellationToken);
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
        data = Metrics.TargetsFor(model, data);
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

/// <summary>
/// Training on a GPU twin behind the one epoch loop: each batch is gathered straight into pinned staging while the device
/// still runs the previous step; the losses stay on the device in a ring and are counted when it drains. Early stopping
/// compares epochs on the host: the arena is downloaded into a host buffer once per epoch, never into the model itself,
/// so a device failure leaves the model as it was before the call.
/// </summary>
internal sealed class GpuTrainingBackend : TrainingBackend
{
    private readonly GpuTwin _twin;
    private readonly Dataset _data;
    private readonly GpuOptimizer _optimizer;
    private readonly int _batchSize;
    private readonly float[]? _hostParameters, _hostBuffers;
    private int _epoch;

    public GpuTrainingBackend(GpuTwin twin, Dataset data, GpuOptimizer optimizer, int batchSize, Dataset? validation, bool keepsBest)
    {
        _twin = twin;
        _data = data;
        _optimizer = optimizer;
        _batchSize = batchSize;
        _hostParameters = keepsBest ? new float[twin.Model.Parameters.Length] : null;
        _hostBuffers = keepsBest ? new float[twin.Model.Buffers.Length] : null;
    }

    public override int MinReportInterval => GpuTwin.LossRingSize;

    public override void BeginEpoch(Optimizer optimizer)
    {
        _optimizer.LearningRate = optimizer.CurrentLearningRate;
        _epoch = optimizer.Epoch + 1;
    }

    public override void Step(ReadOnlySpan<int> rows, bool contiguous)
    {
        int batch = rows.Length, inSize = _data.FeatureSize, tSize = _data.TargetSize;
        _twin.Stage(batch, out Span<float> x, out Span<float> t);
        for (int r = 0; r < batch; r++)
        {
            _data.FeaturesOf(rows[r]).CopyTo(x.Slice(r * inSize, inSize));
            _data.TargetsOf(rows[r]).CopyTo(t.Slice(r * tSize, tSize));
        }
        _twin.TrainStaged(batch, _optimizer);
    }

    public override bool Peek(out EpochTotals totals)
    {
        bool any = _twin.PeekLosses(out int steps, out double sum, out long samples, out double correct);
        totals = new EpochTotals { Loss = sum, Correct = correct, Samples = (int)samples, Batches = steps };
        return any;
    }

    public override EpochTotals EndEpoch()
    {
        int steps = _twin.ReadLosses(default, out double sum, out long samples, out double correct);
        // Divergence: the losses come back once per epoch here (and in groups during it), so a non-finite one is seen
        // at the epoch's end; the device's parameters are then not copied back, and the model keeps those it had
        // before this Fit.
        if (!double.IsFinite(sum))
            throw new TrainingDivergedException(
                $"Training on the GPU diverged in epoch {_epoch}: a loss of its first {steps} steps is {(double.IsNaN(sum) ? "NaN" : "infinite")}. " +
                "The GPU trainer checks the losses it reads back, not every gradient, so it cannot name the step or the tensor: " +
                "train the same data on the CPU (same seed, same batches) to find them. The model keeps the parameters it had " +
                "before this Fit. Lower the learning rate, clip gradients (ClipNorm), or check the scale of the data.",
                _epoch, steps, 0, (float)sum, tensor: null, parametersRestored: false);
        return new EpochTotals { Loss = sum, Correct = correct, Samples = (int)samples, Batches = steps };
    }

    public override Evaluation Evaluate(Dataset data)
    {
        (double loss, double accuracy) = GpuTraining.Evaluate(_twin, data, _batchSize);
        return new Evaluation(loss, accuracy);
    }

    public override ReadOnlySpan<float> Parameters
    {
        get
        {
            _twin.DownloadParameters(_hostParameters);
            return _hostParameters;
        }
    }

    public override ReadOnlySpan<float> Buffers
    {
        get
        {
            if (_hostBuffers is null || _hostBuffers.Length == 0) return default;
            _twin.DownloadBuffers(_hostBuffers);
            return _hostBuffers;
        }
    }

    public override void Finish() => _twin.DownloadParameters();
}
