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
        CancellationToken cancellationToken)
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

        for (int epoch = 0; epoch < epochs; epoch++)
        {
            long started = Stopwatch.GetTimestamp();
            optimizer.BeginEpoch(epoch);
            backend.BeginEpoch(optimizer);
            if (shuffle) rng.Shuffle(order);

            bool cancelled = false;
            int done = 0, reported = 0;
            for (int start = 0; start < count; start += batch)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    cancelled = true;
                    break;
                }
                backend.Step(order.AsSpan(start, Math.Min(batch, count - start)), contiguous: !shuffle);
                done++;
                if (progress is not null && done - reported >= every && done < batches && backend.Peek(out EpochTotals so) && so.Batches > reported)
                {
                    reported = so.Batches;
                    progress.Report(new TrainingProgress(epoch + 1, epochs, so.Batches, batches, so.MeanLoss, so.Accuracy(hasAccuracy)));
                }
            }

            EpochTotals totals = backend.EndEpoch();
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
            if (earlyStopping is not null && earlyStopping.EndEpoch(metrics, backend.Parameters, backend.Buffers))
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
        float loss = _model.ComputeGradients(x, y, outputs, n);
        _optimizer.Step(_model.Parameters, _model.Gradients);

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
