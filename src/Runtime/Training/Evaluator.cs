namespace Compiled;

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
            loss += Metrics.TotalLoss(model, outputs, y, n);
            if (accuracy) correct += Metrics.Correct(model.Loss, outputs, y, n, o, model.OutputSteps);
        }
        return new Evaluation(loss / data.Count, accuracy ? correct / data.Count : double.NaN);
    }
}
