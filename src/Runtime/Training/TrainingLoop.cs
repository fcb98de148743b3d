using System.Diagnostics;

namespace Compiled;

/// <summary>The totals of one epoch, as a backend counts them.</summary>
internal struct EpochTotals
{
    /// <summary>Σ batch loss × batch size.</summary>
    public double Loss;
    /// <summary>Samples classified right.</summary>
    public double Correct;
    public int Samples;
    public int Batches;

    public readonly double MeanLoss => Samples == 0 ? double.NaN : Loss / Samples;

    public readonly double Accuracy(bool hasAccuracy) => !hasAccuracy || Samples == 0 ? double.NaN : Correct / Samples;
}

/// <summary>
/// The device half of <c>Fit</c>, behind the seam of the one epoch loop (<see cref="TrainingLoop"/>): it trains the
/// batches the loop hands it (as sample indices), counts them, scores validation data and shows its parameters.
/// <see cref="CpuTrainingBackend"/> runs the model itself; Compiled.Gpu's runs its GPU twin.
/// </summary>
internal abstract class TrainingBackend
{
    /// <summary>The fewest batches between two progress reports (the GPU's losses come back in groups).</summary>
    public virtual int MinReportInterval => 1;

    /// <summary>Starts an epoch; the optimizer's schedule has just set its learning rate for it.</summary>
    public virtual void BeginEpoch(Optimizer optimizer)
    {
    }

    /// <summary>Trains one batch: the samples <paramref name="rows"/> of the training data, in that order
    /// (<paramref name="contiguous"/> when they are consecutive samples in data order).</summary>
    public abstract void Step(ReadOnlySpan<int> rows, bool contiguous);

    /// <summary>The totals of the batches counted so far this epoch, when they are known without waiting.</summary>
    public abstract bool Peek(out EpochTotals totals);

    /// <summary>Waits for the epoch's batches, returns their totals and starts counting afresh.</summary>
    public abstract EpochTotals EndEpoch();

    /// <summary>Scores the current parameters on <paramref name="data"/>.</summary>
    public abstract Evaluation Evaluate(Dataset data);

    /// <summary>The current parameters, on the host (for early stopping's copy of the best ones).</summary>
    public abstract ReadOnlySpan<float> Parameters { get; }

    /// <summary>The model's current non-trainable buffers (running statistics), on the host; empty when it has none.</summary>
    public abstract ReadOnlySpan<float> Buffers { get; }

    /// <summary>Continues an epoch a checkpoint stopped in the middle of: its batches so far had these totals.</summary>
    public virtual void Resume(EpochTotals totals) =>
        throw new NotSupportedException("This trainer cannot resume from a training checkpoint.");

    /// <summary>Training ended without an exception: make the model hold the trained parameters.</summary>
    public virtual void Finish()
    {
    }
}

/// <summary>
/// The one epoch loop of <c>Fit</c>, for every backend: seeded shuffling, batching, progress, validation, history, early
/// stopping and cancellation.
/// </summary>
internal static class TrainingLoop
{
    public static History Run(IModel model, TrainingBackend backend, int count, int epochs, int batchSize, Optimizer optimizer,
        Dataset? validation, IProgress<TrainingProgress>? progress, EarlyStopping? earlyStopping, bool shuffle, int seed,
        CancellationToken cancellationToken, TrainingCheckpoint? checkpoint = null)
    {
        // One trainer per model: another thread's Fit or prediction throws instead of racing with this one.
        CompilerServices.ModelSync? sync = model.Sync;
        sync?.BeginTraining("Fit");
        try
        {
            return RunEpochs(model, backend, count, epochs, batchSize, optimizer, validation, progress, earlyStopping, shuffle,
                seed, cancellationToken, checkpoint);
        }
        finally
        {
            sync?.EndTraining();
        }
    }

    private static History RunEpochs(IModel model, TrainingBackend backend, int count, int epochs, int batchSize,
        Optimizer optimizer, Dataset? validation, IProgress<TrainingProgress>? progress, EarlyStopping? earlyStopping,
        bool shuffle, int seed, CancellationToken cancellationToken, TrainingCheckpoint? checkpoint)
    {
        int batch = Math.Min(batchSize, count);
        int batches = (count + batch - 1) / batch;
        // At most about 50 reports an epoch, plus the epoch-end one.
        int every = Math.Max(backend.MinReportInterval, (batches + 49) / 50);
        bool hasAccuracy = Metrics.HasAccuracy(model.Loss);
        var history = new History(Math.Min(epochs, 1024));
        var rng = new Rng(seed);
        var order = new int[count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        earlyStopping?.Begin(model.Parameters.Length, model.Buffers.Length);

        // Resuming: the checkpoint restores the model and the optimizer; the order is replayed from the seed.
        TrainingPosition start = checkpoint?.Restore(model, optimizer) ?? default;
        for (int i = 0; i < start.Shuffles; i++) rng.Shuffle(order);
        int shuffles = start.Shuffles;

        // A run that early stopping ended has nothing left to train (its best weights are put back below).
        bool stoppedBefore = earlyStopping is not null && earlyStopping.StoppedEpoch > 0;
        if (stoppedBefore) history.StoppedEpoch = earlyStopping!.StoppedEpoch;
        int last = stoppedBefore ? start.Epoch : epochs;
        for (int epoch = start.Epoch; epoch < last; epoch++)
        {
            long started = Stopwatch.GetTimestamp();
            optimizer.BeginEpoch(epoch);
            backend.BeginEpoch(optimizer);
            bool resumed = epoch == start.Epoch && start.Batch > 0;
            Rng beforeShuffle = rng;
            int shufflesBefore = shuffles;
            if (resumed) backend.Resume(start.Totals); // mid-epoch: this epoch's order is already replayed
            else if (shuffle)
            {
                rng.Shuffle(order);
                shuffles++;
            }

            bool cancelled = false;
            int done = resumed ? start.Batch : 0, reported = done;
            for (int first = done * batch; first < count; first += batch)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    cancelled = true;
                    break;
                }
                backend.Step(order.AsSpan(first, Math.Min(batch, count - first)), contiguous: !shuffle);
                done++;
                if (progress is not null && done - reported >= every && done < batches && backend.Peek(out EpochTotals so) && so.Batches > reported)
                {
                    reported = so.Batches;
                    progress.Report(new TrainingProgress(epoch + 1, epochs, so.Batches, batches, so.MeanLoss, so.Accuracy(hasAccuracy)));
                }
            }

            EpochTotals totals = backend.EndEpoch();
            if (cancelled && checkpoint is not null)
            {
                // Resumable from the last finished batch (or from this epoch's start when none ran).
                checkpoint.Save(model, optimizer, totals.Batches > 0
                    ? new TrainingPosition(epoch, totals.Batches, totals, shuffles)
                    : new TrainingPosition(epoch, 0, default, shufflesBefore), totals.Batches > 0 ? rng : beforeShuffle);
            }
            if (totals.Samples == 0)
            {
                history.Cancelled = true; // cancelled before this epoch's first batch
                break;
            }
            double loss = totals.MeanLoss, accuracy = totals.Accuracy(hasAccuracy);
            double? validationLoss = null, validationAccuracy = null;
            if (validation is not null && !cancelled)
            {
                (double vl, double va) = backend.Evaluate(validation);
                validationLoss = vl;
                validationAccuracy = va;
            }
            var metrics = new EpochMetrics(epoch + 1, loss, accuracy, validationLoss, validationAccuracy,
                optimizer.CurrentLearningRate, Stopwatch.GetElapsedTime(started), totals.Samples);
            history.Add(metrics);
            progress?.Report(new TrainingProgress(epoch + 1, epochs, totals.Batches, batches, loss, accuracy,
                validationLoss, validationAccuracy));

            if (cancelled)
            {
                history.Cancelled = true;
                break;
            }
            bool stop = earlyStopping is not null && earlyStopping.EndEpoch(metrics, backend.Parameters, backend.Buffers);
            checkpoint?.Save(model, optimizer, new TrainingPosition(epoch + 1, 0, default, shuffles), rng);
            if (stop)
            {
                history.StoppedEpoch = metrics.Epoch;
                break;
            }
        }

        backend.Finish();
        if (earlyStopping is not null)
        {
            history.BestEpoch = earlyStopping.BestEpoch == 0 ? null : earlyStopping.BestEpoch;
            // A cancelled run keeps the weights it has; a finished or stopped one gets the best epoch's back.
            if (earlyStopping.RestoreBestWeights && !history.Cancelled)
                history.RestoredBestWeights = earlyStopping.Restore(model.Parameters, model.Buffers);
        }
        return history;
    }
}

/// <summary>
/// Training on the CPU: the model's own <see cref="IModel.ComputeGradients"/> and the optimizer's step, with every batch
/// buffer allocated up front (a step allocates nothing when no progress is reported).
/// </summary>
internal sealed class CpuTrainingBackend : TrainingBackend
{
    private readonly IModel _model;
    private readonly Dataset _data;
    private readonly Optimizer _optimizer;
    private readonly float[] _inputs, _targets, _outputs;
    private readonly bool _accuracy;
    private readonly Evaluator? _evaluator;
    private EpochTotals _totals;

    public CpuTrainingBackend(IModel model, Dataset data, Optimizer optimizer, int batchSize, bool shuffle, Dataset? validation)
    {
        _model = model;
        _data = data;
        _optimizer = optimizer;
        int batch = Math.Min(batchSize, data.Count);
        // Without shuffling the batches are slices of the data set, so only the outputs need a buffer.
        _inputs = shuffle ? new float[batch * data.FeatureSize] : [];
        _targets = shuffle ? new float[batch * data.TargetSize] : [];
        _outputs = new float[batch * model.OutputSize];
        _accuracy = Metrics.HasAccuracy(model.Loss);
        _evaluator = validation is null ? null : new Evaluator(model, batchSize, validation.Count);
    }

    public override void Step(ReadOnlySpan<int> rows, bool contiguous)
    {
        int f = _data.FeatureSize, t = _data.TargetSize, o = _model.OutputSize, n = rows.Length;
        ReadOnlySpan<float> x, y;
        if (contiguous)
        {
            x = _data.Features.Slice(rows[0] * f, n * f);
            y = _data.Targets.Slice(rows[0] * t, n * t);
        }
        else
        {
            // Gather the batch's rows in shuffled order.
            Span<float> xs = _inputs.AsSpan(0, n * f), ys = _targets.AsSpan(0, n * t);
            for (int i = 0; i < n; i++)
            {
                _data.FeaturesOf(rows[i]).CopyTo(xs.Slice(i * f, f));
                _data.TargetsOf(rows[i]).CopyTo(ys.Slice(i * t, t));
            }
            x = xs;
            y = ys;
        }

        Span<float> outputs = _outputs.AsSpan(0, n * o);
        Rng random = _model.Random;
        float loss = _model.ComputeGradients(x, y, outputs, n);
        Span<float> gradients = _model.Gradients;
        // Divergence: a non-finite loss or gradient stops training before the optimizer applies it, so the model and the
        // optimizer keep the last finite step's state (one vectorised scan of the gradient arena per step).
        if (!float.IsFinite(loss) || FloatChecks.IndexOfNonFinite(gradients) >= 0)
        {
            _model.Random = random;
            throw Diverged(loss, restored: true);
        }
        _optimizer.Step(_model.Parameters, gradients);
        // An update with finite gradients that overflowed (a learning rate far too large): one scan of the parameters.
        if (FloatChecks.IndexOfNonFinite(_model.Parameters) >= 0) throw Diverged(loss, restored: false);

        _totals.Loss += (double)loss * n;
        if (_accuracy) _totals.Correct += Metrics.Correct(_model.Loss, outputs, y, n, o, _model.OutputSteps);
        _totals.Samples += n;
        _totals.Batches++;
    }

    public override bool Peek(out EpochTotals totals)
    {
        totals = _totals;
        return true;
    }

    public override void Resume(EpochTotals totals) => _totals = totals;

    /// <summary>The exception for a step whose loss, gradients or update went non-finite, naming the first tensor (in
    /// backward order: the one nearest the loss) whose gradient (or, after an overflowing update, parameter) did.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private TrainingDivergedException Diverged(float loss, bool restored)
    {
        int epoch = _optimizer.Epoch + 1, step = _totals.Batches + 1;
        long global = restored ? _optimizer.Steps + 1 : _optimizer.Steps;
        ReadOnlySpan<float> arena = restored ? _model.Gradients : _model.Parameters;
        ReadOnlySpan<TensorInfo> tensors = _model.Tensors;
        string? first = null;
        var others = new List<string>();
        for (int i = tensors.Length - 1; i >= 0; i--)
        {
            ReadOnlySpan<float> values = arena.Slice(tensors[i].Offset, tensors[i].Length);
            int bad = FloatChecks.IndexOfNonFinite(values);
            if (bad < 0) continue;
            if (first is null) first = $"{tensors[i].Name} ({FloatChecks.Describe(values[bad])} at index {bad})";
            else others.Add(tensors[i].Name);
        }
        string name = first is null ? "" : first[..first.IndexOf(' ')];
        string where = $"Training diverged in epoch {epoch}, step {step} (optimizer step {global}): ";
        string what = !restored
            ? $"the update made parameters non-finite, first {first} in backward order" +
              (others.Count > 0 ? $", also {string.Join(", ", others)}" : "") +
              $", although the loss ({FloatChecks.Describe(loss)}) and the gradients were finite. The parameters were not " +
              "restored (that would need a copy of them before every step); restore them from a checkpoint. "
            : (float.IsFinite(loss) ? $"the loss is {FloatChecks.Describe(loss)} but " : $"the loss is {FloatChecks.Describe(loss)}") +
              (first is null ? " (every gradient finite)" : (float.IsFinite(loss) ? "" : " and ") +
                  $"the gradient of {first} is the first non-finite one in backward order" +
                  (others.Count > 0 ? $" (also {string.Join(", ", others)})" : "")) +
              ". Nothing of this step was applied: the model and the optimizer hold the state after the last finite step. ";
        string advice = $"Lower the learning rate (now {_optimizer.CurrentLearningRate:G4}), clip gradients (ClipNorm), or " +
            "check the scale of the data.";
        return new TrainingDivergedException(where + what + advice, epoch, step, global, loss,
            first is null ? null : name, restored);
    }

    public override EpochTotals EndEpoch()
    {
        EpochTotals totals = _totals;
        _totals = default;
        return totals;
    }

    public override Evaluation Evaluate(Dataset data) => _evaluator!.Run(_model, data);

    public override ReadOnlySpan<float> Parameters => _model.Parameters;

    public override ReadOnlySpan<float> Buffers => _model.Buffers;
}
