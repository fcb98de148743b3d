namespace Compiled;

/// <summary>
/// One training run's state: the batch buffers, the shuffled order and the running totals. Everything is allocated
/// in the constructor; <see cref="RunEpoch"/> allocates nothing when no progress is reported.
/// </summary>
internal sealed class Trainer
{
    private readonly IModel _model;
    private readonly Dataset _data;
    private readonly Optimizer _optimizer;
    private readonly int _batchSize;
    private readonly bool _shuffle;
    private readonly int[] _order;
    private readonly float[] _inputs, _targets, _outputs;
    private readonly bool _accuracy;
    private Rng _rng;

    public Trainer(IModel model, Dataset data, Optimizer optimizer, int batchSize, bool shuffle, int seed)
    {
        _model = model;
        _data = data;
        _optimizer = optimizer;
        _batchSize = Math.Min(batchSize, data.Count);
        _shuffle = shuffle;
        _rng = new Rng(seed);
        _order = new int[data.Count];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        // Without shuffling the batches are slices of the data set, so only the outputs need a buffer.
        _inputs = shuffle ? new float[_batchSize * data.FeatureSize] : [];
        _targets = shuffle ? new float[_batchSize * data.TargetSize] : [];
        _outputs = new float[_batchSize * model.OutputSize];
        _accuracy = Metrics.HasAccuracy(model.Loss);
        Batches = (data.Count + _batchSize - 1) / _batchSize;
    }

    /// <summary>Batches per epoch (the last one may be partial).</summary>
    public int Batches { get; }

    /// <summary>The totals of one epoch.</summary>
    public struct EpochTotals
    {
        /// <summary>Σ batch loss × batch size.</summary>
        public double Loss;
        /// <summary>Samples classified right.</summary>
        public double Correct;
        public int Samples;
        public int Batches;
        public bool Cancelled;

        public readonly double MeanLoss => Samples == 0 ? double.NaN : Loss / Samples;

        public double Accuracy(bool hasAccuracy) => !hasAccuracy || Samples == 0 ? double.NaN : Correct / Samples;
    }

    /// <summary>Whether the model's loss has an accuracy.</summary>
    public bool HasAccuracy => _accuracy;

    /// <summary>
    /// Trains one epoch (<paramref name="epoch"/> from 0): sets the optimizer's epoch, reshuffles, then runs every batch
    /// until done or until <paramref name="cancellationToken"/> is cancelled (checked before each batch).
    /// </summary>
    public EpochTotals RunEpoch(int epoch, int epochs, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        _optimizer.BeginEpoch(epoch);
        if (_shuffle) _rng.Shuffle(_order);

        IModel model = _model;
        int f = _data.FeatureSize, t = _data.TargetSize, o = model.OutputSize, count = _data.Count;
        ReadOnlySpan<float> features = _data.Features, targets = _data.Targets;
        int every = Math.Max(1, (Batches + 49) / 50); // at most ~50 reports per epoch, plus the epoch-end one
        var totals = new EpochTotals();

        for (int start = 0; start < count; start += _batchSize)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                totals.Cancelled = true;
                break;
            }
            int n = Math.Min(_batchSize, count - start);
            ReadOnlySpan<float> x, y;
            if (_shuffle)
            {
                // Gather the batch's rows in shuffled order.
                Span<float> xs = _inputs.AsSpan(0, n * f), ys = _targets.AsSpan(0, n * t);
                for (int i = 0; i < n; i++)
                {
                    int row = _order[start + i];
                    features.Slice(row * f, f).CopyTo(xs.Slice(i * f, f));
                    targets.Slice(row * t, t).CopyTo(ys.Slice(i * t, t));
                }
                x = xs;
                y = ys;
            }
            else
            {
                x = features.Slice(start * f, n * f);
                y = targets.Slice(start * t, n * t);
            }

            Span<float> outputs = _outputs.AsSpan(0, n * o);
            float loss = model.ComputeGradients(x, y, outputs, n);
            _optimizer.Step(model.Parameters, model.Gradients);

            totals.Loss += (double)loss * n;
            if (_accuracy) totals.Correct += Metrics.Correct(model.Loss, outputs, y, n, o);
            totals.Samples += n;
            totals.Batches++;

            if (progress is not null && totals.Batches % every == 0 && totals.Batches < Batches)
                progress.Report(new TrainingProgress(epoch + 1, epochs, totals.Batches, Batches,
                    totals.MeanLoss, totals.Accuracy(_accuracy)));
        }
        return totals;
    }
}

/// <summary>Runs a model forward: outputs[batch, OutputSize] from inputs[batch, InputSize] (the GPU trainer passes its twin's).</summary>
internal delegate void ForwardPass(ReadOnlySpan<float> inputs, Span<float> outputs, int batch);

/// <summary>Scores a model on a data set batch by batch, with one output buffer reused across calls.</summary>
internal sealed class Evaluator
{
    private readonly float[] _outputs;
    private readonly int _batchSize;
    private readonly ForwardPass? _forward;

    /// <param name="model">The model scored (its sizes and loss).</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <param name="maxCount">The most samples a data set passed to <see cref="Run"/> holds (caps the buffer).</param>
    /// <param name="forward">Runs the forward pass instead of <see cref="IModel.Forward"/>, or null.</param>
    public Evaluator(IModel model, int batchSize, int maxCount, ForwardPass? forward = null)
    {
        _batchSize = Math.Max(1, Math.Min(batchSize, maxCount));
        _outputs = new float[_batchSize * model.OutputSize];
        _forward = forward;
    }

    public Evaluation Run(IModel model, Dataset data)
    {
        int f = data.FeatureSize, t = data.TargetSize, o = model.OutputSize;
        bool accuracy = Metrics.HasAccuracy(model.Loss);
        double loss = 0, correct = 0;
        for (int start = 0; start < data.Count; start += _batchSize)
        {
            int n = Math.Min(_batchSize, data.Count - start);
            ReadOnlySpan<float> x = data.Features.Slice(start * f, n * f), y = data.Targets.Slice(start * t, n * t);
            Span<float> outputs = _outputs.AsSpan(0, n * o);
            if (_forward is null) model.Forward(x, outputs, n);
            else _forward(x, outputs, n);
            loss += CompilerServices.Losses.Total(model.Loss, outputs, y, n, o);
            if (accuracy) correct += Metrics.Correct(model.Loss, outputs, y, n, o);
        }
        return new Evaluation(loss / data.Count, accuracy ? correct / data.Count : double.NaN);
    }
}
