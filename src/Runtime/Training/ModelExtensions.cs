using System.Buffers;
using System.Runtime.CompilerServices;

namespace Compiled;

/// <summary>
/// Keras-style training and inference for every compiled model: <see cref="Fit"/>, <see cref="Evaluate"/>,
/// <see cref="Predict(IModel, Dataset, int)"/> and <see cref="PredictClass"/>.
/// </summary>
public static class ModelExtensions
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/> for <paramref name="epochs"/> epochs of mini-batches and
    /// returns the metrics of every epoch.
    /// </summary>
    /// <param name="model">The model; its parameters are trained in place.</param>
    /// <param name="train">The training data; its feature and target sizes must fit the model (an autoencoder,
    /// <see cref="LossTarget.Input"/>, uses each sample's features as its targets and ignores the data's own).</param>
    /// <param name="epochs">Passes over the data, ≥ 1.</param>
    /// <param name="batchSize">Samples per step, ≥ 1; the last batch of an epoch holds the rest.</param>
    /// <param name="optimizer">The optimizer; <see langword="null"/> makes a fresh <c>new Adam(1e-3)</c>. Its epoch is set
    /// from 0 at the start of each epoch, so a schedule restarts with every call.</param>
    /// <param name="validation">Data to score after every epoch (validation loss and accuracy), or <see langword="null"/>.</param>
    /// <param name="progress">Receives at most about 50 reports per epoch and one at each epoch's end.</param>
    /// <param name="earlyStopping">Stops when a metric stops improving, and by default restores the best weights.</param>
    /// <param name="shuffle">Whether to visit the samples in a new random order every epoch.</param>
    /// <param name="seed">The shuffling seed: the same seed, model and data give the same run.</param>
    /// <param name="checkpoint">A training checkpoint file (safetensors) for an exact resume, as Keras's
    /// <c>BackupAndRestore</c> keeps one: when the file exists, <c>Fit</c> first restores from it the parameters, the
    /// optimizer's state (moments, momentum, step count), the schedule's epoch, the model's <see cref="IModel.Random"/>
    /// and the shuffling position, then trains on up to <paramref name="epochs"/> epochs in all (so
    /// <c>Fit(epochs: 2, checkpoint: p)</c> then <c>Fit(epochs: 4, checkpoint: p)</c> trains exactly as
    /// <c>Fit(epochs: 4)</c> does, bit for bit). It saves the file atomically after every epoch and when cancelled (from
    /// the last finished batch, so a run cancelled mid-epoch resumes mid-epoch). The resuming call must pass the same
    /// data, <paramref name="batchSize"/>, <paramref name="shuffle"/>, <paramref name="seed"/> and kind of optimizer;
    /// delete the file to start afresh. Early stopping's state (best value and epoch, patience count, best weights) is
    /// saved too, so the resuming call must pass an <see cref="EarlyStopping"/> watching the same metric (or none, as
    /// the first did); a run that early stopping ended trains nothing more and ends with the best weights again.</param>
    /// <param name="cancellationToken">Checked before every batch: once cancelled, <c>Fit</c> stops and returns the epochs
    /// so far (the last one partial and without validation, see <see cref="History.Cancelled"/>); the model keeps the
    /// weights trained so far.</param>
    /// <returns>The per-epoch metrics of the epochs this call trained.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="train"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> or <paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The data does not fit the model, early stopping watches a metric the run
    /// does not have, the optimizer holds state for another model, or the checkpoint was written by a run with other
    /// settings.</exception>
    /// <exception cref="TrainingDivergedException">A step's loss or gradients, or an update, went NaN or infinite; the
    /// message names the epoch, the step and the tensor.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training this model.</exception>
    /// <exception cref="InvalidDataException">The checkpoint file is malformed or does not fit the model.</exception>
    /// <exception cref="IOException">The checkpoint cannot be read or written.</exception>
    public static History Fit(this IModel model, Dataset train, int epochs, int batchSize = 32, Optimizer? optimizer = null,
        Dataset? validation = null, IProgress<TrainingProgress>? progress = null, EarlyStopping? earlyStopping = null,
        bool shuffle = true, int seed = 0, string? checkpoint = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        train = Metrics.TargetsFor(model, train);
        validation = Metrics.TargetsFor(model, validation);
        Metrics.CheckData(model, train, nameof(train));
        if (validation is not null) Metrics.CheckData(model, validation, nameof(validation));
        earlyStopping?.CheckUsable(model, validation);

        optimizer ??= new Adam(1e-3);
        if (optimizer.StateLength >= 0 && optimizer.StateLength != model.Parameters.Length)
            throw new ArgumentException(
                $"This optimizer holds state for {optimizer.StateLength} parameters, but the model has " +
                $"{model.Parameters.Length}: use a new optimizer per model, or call optimizer.Reset() first.", nameof(optimizer));
        if (checkpoint is not null) ArgumentException.ThrowIfNullOrEmpty(checkpoint);
        var backend = new CpuTrainingBackend(model, train, optimizer, batchSize, shuffle, validation);
        var resume = checkpoint is null ? null : new TrainingCheckpoint(checkpoint, batchSize, shuffle, seed, train.Count, earlyStopping);
        return TrainingLoop.Run(model, backend, train.Count, epochs, batchSize, optimizer, validation, progress, earlyStopping,
            shuffle, seed, cancellationToken, resume);
    }

    /// <summary>
    /// Scores <paramref name="model"/> on <paramref name="data"/>: the mean per-sample loss and the accuracy
    /// (<c>var (loss, accuracy) = model.Evaluate(test);</c>).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="data">The data; its feature and target sizes must fit the model.</param>
    /// <param name="batchSize">Samples per forward pass, ≥ 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The data does not fit the model or is empty.</exception>
    public static Evaluation Evaluate(this IModel model, Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        data = Metrics.TargetsFor(model, data);
        Metrics.CheckData(model, data, nameof(data));
        return new Evaluator(model, batchSize, data.Count).Run(model, data);
    }

    /// <summary>The model's outputs for every sample of <paramref name="data"/>, [Count, OutputSize] row-major.</summary>
    /// <param name="model">The model.</param>
    /// <param name="data">The samples (their targets are not used).</param>
    /// <param name="batchSize">Samples per forward pass, ≥ 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The data's feature size is not the model's input size, a feature is NaN or
    /// infinite, or (a model that starts with an Embedding) a feature is not a token id; the message names the sample.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training the model (prediction itself is thread-safe).</exception>
    public static float[] Predict(this IModel model, Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Metrics.CheckInputs(model, data, nameof(data));
        CheckFinite(data.Features, data.FeatureSize, nameof(data));
        int f = data.FeatureSize, o = model.OutputSize;
        var outputs = new float[checked(data.Count * o)];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, data.Count - start);
            model.Forward(data.Features.Slice(start * f, n * f), outputs.AsSpan(start * o, n * o), n);
        }
        return outputs;
    }

    /// <summary>
    /// Runs the model on the samples in <paramref name="input"/> (its length a whole multiple of the input size) and
    /// writes their outputs to <paramref name="output"/>. One sample allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training the model (prediction itself is thread-safe).</exception>
    /// <exception cref="ArgumentException"><paramref name="input"/> holds a NaN or infinity (named by sample and feature),
    /// is not a whole number of samples, or
    /// <paramref name="output"/> is too short for their outputs.</exception>
    public static void Predict(this IModel model, ReadOnlySpan<float> input, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(model);
        int batch = Samples(model, input);
        CheckFinite(input, model.InputSize, nameof(input));
        if (output.Length < (long)batch * model.OutputSize)
            throw new ArgumentException(
                $"output holds {output.Length} floats, but {batch} sample(s) need {(long)batch * model.OutputSize} " +
                $"({model.OutputSize} per sample).", nameof(output));
        model.Forward(input, output, batch);
    }

    /// <summary>
    /// The class the model predicts for one sample: the index of the largest output, or for a single sigmoid output
    /// 1 when it is above 0.5 and 0 otherwise. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="input"/> is not exactly one sample, or holds a NaN or infinity.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training the model (prediction itself is thread-safe).</exception>
    public static int PredictClass(this IModel model, ReadOnlySpan<float> input)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (input.Length != model.InputSize)
            throw new ArgumentException(
                $"input holds {input.Length} floats, but one sample has {model.InputSize}.", nameof(input));
        CheckFinite(input, model.InputSize, nameof(input));
        int size = model.OutputSize;
        const int StackLimit = 256;
        float[]? rented = size > StackLimit ? ArrayPool<float>.Shared.Rent(size) : null;
        try
        {
            Span<float> output = rented is null ? stackalloc float[size] : rented.AsSpan(0, size);
            model.Forward(input, output, 1);
            return size == 1 ? (output[0] > 0.5f ? 1 : 0) : Metrics.ArgMax(output);
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Predicting refuses NaN and infinite inputs: through ReLU and softmax they give finite, plausible-looking
    /// outputs (a NaN pixel can come out as a uniform distribution), so they are an error, not a prediction.</summary>
    private static void CheckFinite(ReadOnlySpan<float> input, int size, string name)
    {
        int bad = FloatChecks.IndexOfNonFinite(input);
        if (bad >= 0) ThrowNonFinite(input[bad], bad / size, bad % size, name);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNonFinite(float value, int sample, int feature, string name) =>
        throw new ArgumentException(
            $"{name} holds {FloatChecks.Describe(value)} at sample {sample}, feature {feature}; a model cannot predict from a " +
            "NaN or infinite input (its outputs would be meaningless).", name);

    private static int Samples(IModel model, ReadOnlySpan<float> input)
    {
        int size = model.InputSize;
        if (input.IsEmpty || input.Length % size != 0) ThrowNotWholeSamples(input.Length, size);
        return input.Length / size;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotWholeSamples(int length, int size) =>
        throw new ArgumentException(
            $"input holds {length} floats, which is not a whole number (≥ 1) of samples of {size}.", "input");
}
