using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Compiled;

/// <summary>Where a run stands: the epoch (from 0), the batches of it already trained and their totals.</summary>
internal readonly record struct TrainingPosition(int Epoch, int Batch, EpochTotals Totals, int Shuffles);

/// <summary>
/// The training checkpoint behind <c>Fit(..., checkpoint: path)</c>: everything a run needs to continue bit for bit,
/// in one safetensors file written atomically (<see cref="AtomicFile"/>).
/// </summary>
/// <remarks>
/// <para>Tensors: the model's parameters under their own names (<c>layers.0.weight</c>, as <see cref="Checkpoint.Save"/>
/// writes them), and each optimizer state buffer over the whole arena as <c>optimizer.&lt;name&gt;</c>
/// (<c>optimizer.exp_avg</c>, <c>optimizer.exp_avg_sq</c>, <c>optimizer.momentum_buffer</c>,
/// <c>optimizer.square_avg</c>), each F32 [parameter count].</para>
/// <para><c>__metadata__</c> (strings, as safetensors requires): <c>format</c> "pt", <c>compiled</c>
/// "training-checkpoint/1", <c>model</c>, <c>optimizer</c> (type names), <c>optimizer_steps</c>, <c>epoch</c> (the next
/// epoch to train, from 0: the learning-rate schedule's position), <c>batch</c> (its batches already trained, 0 at an
/// epoch boundary) and <c>epoch_loss</c>, <c>epoch_correct</c>, <c>epoch_samples</c>, <c>epoch_batches</c> (their
/// totals, round-trip text), <c>model_random</c> (<see cref="IModel.Random"/>), <c>shuffle_random</c> and
/// <c>shuffles</c> (the shuffling generator's state and how many shuffles made the current order; the order is replayed
/// from <c>seed</c> and checked against the state), and the run's <c>seed</c>, <c>shuffle</c>, <c>batch_size</c> and
/// <c>samples</c>, which a resuming call must repeat. With early stopping: <c>early_stopping</c> (the metric watched),
/// <c>early_stopping_best</c>, <c>early_stopping_best_epoch</c>, <c>early_stopping_wait</c>,
/// <c>early_stopping_stopped</c>, and the tensor <c>early_stopping.best_weights</c> [parameter count] when it keeps
/// them.</para>
/// </remarks>
internal sealed class TrainingCheckpoint
{
    private const string Format = "training-checkpoint/1";
    private readonly string _path;
    private readonly int _batchSize, _seed, _samples;
    private readonly bool _shuffle;
    private readonly EarlyStopping? _earlyStopping;

    public TrainingCheckpoint(string path, int batchSize, bool shuffle, int seed, int samples, EarlyStopping? earlyStopping = null)
    {
        _earlyStopping = earlyStopping;
        _path = path;
        _batchSize = batchSize;
        _shuffle = shuffle;
        _seed = seed;
        _samples = samples;
    }

    /// <summary>
    /// Loads the checkpoint into the model and the optimizer when the file exists, and returns where the run stands
    /// (<see langword="default"/>: from the start, when it does not).
    /// </summary>
    /// <exception cref="ArgumentException">The checkpoint was written by a run with another batch size, seed, shuffle
    /// setting, sample count or optimizer type (named).</exception>
    /// <exception cref="InvalidDataException">The file is malformed, does not fit the model, or holds a non-finite value.</exception>
    public TrainingPosition Restore(IModel model, Optimizer optimizer)
    {
        if (!File.Exists(_path) && !Directory.Exists(_path)) return default;
        Dictionary<string, (int[] Shape, float[] Data)> tensors = Checkpoint.ReadAll(_path, out Dictionary<string, string> meta);
        string Meta(string key) => meta.TryGetValue(key, out string? v) ? v
            : throw new InvalidDataException($"{_path} is not a training checkpoint: its metadata has no \"{key}\".");
        long Long(string key) => long.TryParse(Meta(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v >= 0 ? v
            : throw new InvalidDataException($"{_path}: metadata \"{key}\" is \"{Meta(key)}\", not a whole number ≥ 0.");
        double Double(string key) => double.TryParse(Meta(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new InvalidDataException($"{_path}: metadata \"{key}\" is \"{Meta(key)}\", not a number.");

        if (Meta("compiled") != Format)
            throw new InvalidDataException($"{_path} is a \"{Meta("compiled")}\" file, not a {Format}.");
        string modelName = model.GetType().FullName ?? model.GetType().Name;
        if (Meta("model") != modelName)
            throw new InvalidDataException($"{_path} was written for the model {Meta("model")}, not {modelName}.");
        Same("batch_size", _batchSize, "batchSize");
        Same("seed", _seed, "seed");
        Same("samples", _samples, "train");
        if (Meta("shuffle") != (_shuffle ? "true" : "false"))
            throw new ArgumentException($"{_path} was written by a run with shuffle: {Meta("shuffle")}; this call passes " +
                $"{(_shuffle ? "true" : "false")}. Resume with the run's settings, or delete the file to start afresh.", "shuffle");
        string optimizerName = optimizer.GetType().FullName ?? optimizer.GetType().Name;
        if (Meta("optimizer") != optimizerName)
            throw new ArgumentException($"{_path} holds the state of a {Meta("optimizer")}, but this call trains with a " +
                $"{optimizerName}. Resume with the same kind of optimizer, or delete the file to start afresh.", "optimizer");

        // Stage and check everything before touching the model or the optimizer.
        int arena = model.Parameters.Length;
        float[] parameters = model.Parameters.ToArray();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (TensorInfo t in model.Tensors)
        {
            expected.Add(t.Name);
            if (!tensors.TryGetValue(t.Name, out var saved))
                throw new InvalidDataException($"{_path} has no tensor {t.Name}.");
            if (!saved.Shape.AsSpan().SequenceEqual(t.Shape.AsSpan()))
                throw new InvalidDataException(
                    $"{t.Name} in {_path} has shape [{string.Join(", ", saved.Shape)}], but the model expects [{string.Join(", ", t.Shape)}].");
            Finite(saved.Data, t.Name);
            saved.Data.CopyTo(parameters.AsSpan(t.Offset, t.Length));
        }
        // The non-trainable buffers (BatchNorm's running statistics and its int64 counter, kept as raw float bits).
        float[]? buffers = null;
        if (model.Buffers.Length > 0)
        {
            expected.Add(BuffersName);
            if (!tensors.TryGetValue(BuffersName, out var savedBuffers) || savedBuffers.Shape.Length != 1 || savedBuffers.Shape[0] != model.Buffers.Length)
                throw new InvalidDataException($"{_path} has no tensor {BuffersName} of shape [{model.Buffers.Length}] (the model's buffers).");
            buffers = savedBuffers.Data;
        }
        bool hasState = Meta("optimizer_state") == "true";
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (string name in hasState ? optimizer.StateNames() : [])
        {
            string key = "optimizer." + name;
            expected.Add(key);
            if (!tensors.TryGetValue(key, out var saved) || saved.Shape.Length != 1 || saved.Shape[0] != arena)
                throw new InvalidDataException($"{_path} has no tensor {key} of shape [{arena}] (the optimizer's state).");
            Finite(saved.Data, key);
            state.Add(name, saved.Data);
        }
        // Early stopping: the call and the file must agree on whether it runs and what it watches.
        bool fileStops = meta.TryGetValue("early_stopping", out string? watched);
        if (fileStops != _earlyStopping is not null || (fileStops && watched != _earlyStopping!.Monitor.ToString()))
            throw new ArgumentException($"{_path} was written by a run with " +
                (fileStops ? $"early stopping on {watched}" : "no early stopping") + ", but this call passes " +
                (_earlyStopping is null ? "none" : $"early stopping on {_earlyStopping.Monitor}") +
                ". Resume with the run's settings, or delete the file to start afresh.", "earlyStopping");
        float[]? bestWeights = null;
        if (fileStops && tensors.TryGetValue("early_stopping.best_weights", out var best))
        {
            if (best.Shape.Length != 1 || best.Shape[0] != arena)
                throw new InvalidDataException($"{_path}: early_stopping.best_weights has shape [{string.Join(", ", best.Shape)}], not [{arena}].");
            Finite(best.Data, "early_stopping.best_weights");
            expected.Add("early_stopping.best_weights");
            bestWeights = best.Data;
        }
        foreach (string name in tensors.Keys)
            if (!expected.Contains(name))
                throw new InvalidDataException($"{_path} holds an unexpected tensor {name}.");

        if (!Rng.TryParseState(Meta("model_random"), out Rng modelRandom))
            throw new InvalidDataException($"{_path}: metadata \"model_random\" is not a generator state.");
        if (!Rng.TryParseState(Meta("shuffle_random"), out Rng shuffleRandom))
            throw new InvalidDataException($"{_path}: metadata \"shuffle_random\" is not a generator state.");
        long epoch = Long("epoch"), batch = Long("batch"), shuffles = Long("shuffles"), steps = Long("optimizer_steps");
        long batches = (_samples + (long)_batchSize - 1) / _batchSize;
        if (epoch > int.MaxValue || batch >= batches || shuffles > (_shuffle ? epoch + 1 : 0))
            throw new InvalidDataException($"{_path}: the position (epoch {epoch}, batch {batch}, {shuffles} shuffles) is " +
                $"impossible for {_samples} samples in batches of {_batchSize}.");
        var totals = new EpochTotals
        {
            Loss = Double("epoch_loss"),
            Correct = Double("epoch_correct"),
            Samples = (int)Math.Min(Long("epoch_samples"), int.MaxValue),
            Batches = (int)Math.Min(Long("epoch_batches"), int.MaxValue),
        };
        if (totals.Batches != batch)
            throw new InvalidDataException($"{_path}: {batch} batches trained in epoch {epoch + 1}, but totals for {totals.Batches}.");

        // Replay the shuffles from the seed and check them against the saved generator.
        var replay = new Rng(_seed);
        var order = new int[_samples];
        for (long i = 0; i < shuffles; i++) replay.Shuffle(order);
        if (replay.ToStateString() != shuffleRandom.ToStateString())
            throw new InvalidDataException($"{_path}: the shuffling generator after {shuffles} shuffles from seed {_seed} does " +
                "not match the saved state; the file was not written by this run.");

        parameters.CopyTo(model.Parameters);
        buffers?.CopyTo(model.Buffers);
        model.Random = modelRandom;
        optimizer.RestoreState(steps, (int)epoch, hasState ? arena : -1, name => state[name]);
        if (_earlyStopping is not null)
        {
            long bestEpoch = Long("early_stopping_best_epoch"), wait = Long("early_stopping_wait"), stopped = Long("early_stopping_stopped");
            if (bestEpoch > int.MaxValue || wait > int.MaxValue || stopped > int.MaxValue)
                throw new InvalidDataException($"{_path}: the early-stopping epochs are out of range.");
            _earlyStopping.RestoreState(Double("early_stopping_best"), (int)bestEpoch, (int)wait, (int)stopped, bestWeights);
        }
        return new TrainingPosition((int)epoch, (int)batch, totals, (int)shuffles);

        void Same(string key, int value, string argument)
        {
            if (Long(key) != value)
                throw new ArgumentException($"{_path} was written by a run with {key} {Meta(key)}, but this call has {value}. " +
                    "Resume with the run's settings, or delete the file to start afresh.", argument);
        }
    }

    /// <summary>The tensor holding the model's whole buffer arena (raw: the int64 counters' bits are not floats).</summary>
    private const string BuffersName = "model.buffers";

    /// <summary>Saves where the run stands, atomically.</summary>
    public void Save(IModel model, Optimizer optimizer, TrainingPosition position, Rng shuffleRandom)
    {
        var entries = new List<(string Name, int[] Shape, float[] Data)>();
        ReadOnlySpan<float> arena = model.Parameters;
        foreach (TensorInfo t in model.Tensors)
            entries.Add((t.Name, t.Shape.ToArray(), arena.Slice(t.Offset, t.Length).ToArray()));
        if (model.Buffers.Length > 0) entries.Add((BuffersName, [model.Buffers.Length], model.Buffers.ToArray()));
        bool hasState = false;
        foreach ((string name, float[] values) in optimizer.SaveState())
        {
            entries.Add(("optimizer." + name, [values.Length], values));
            hasState = true;
        }
        if (optimizer.StateLength >= 0 && optimizer.StateNames().Length == 0) hasState = true;
        var stopping = _earlyStopping?.SaveState();
        if (stopping?.Weights is float[] bestWeights) entries.Add(("early_stopping.best_weights", [bestWeights.Length], bestWeights.ToArray()));

        EpochTotals totals = position.Totals;
        var meta = new List<(string, string)>
        {
            ("format", "pt"),
            ("compiled", Format),
            ("model", model.GetType().FullName ?? model.GetType().Name),
            ("optimizer", optimizer.GetType().FullName ?? optimizer.GetType().Name),
            ("optimizer_state", hasState ? "true" : "false"),
            ("optimizer_steps", Text(optimizer.Steps)),
            ("epoch", Text(position.Epoch)),
            ("batch", Text(position.Batch)),
            ("epoch_loss", totals.Loss.ToString("R", CultureInfo.InvariantCulture)),
            ("epoch_correct", totals.Correct.ToString("R", CultureInfo.InvariantCulture)),
            ("epoch_samples", Text(totals.Samples)),
            ("epoch_batches", Text(totals.Batches)),
            ("model_random", model.Random.ToStateString()),
            ("shuffle_random", shuffleRandom.ToStateString()),
            ("shuffles", Text(position.Shuffles)),
            ("seed", Text(_seed)),
            ("shuffle", _shuffle ? "true" : "false"),
            ("batch_size", Text(_batchSize)),
            ("samples", Text(_samples)),
        };
        if (stopping is { } st)
        {
            meta.Add(("early_stopping", _earlyStopping!.Monitor.ToString()));
            meta.Add(("early_stopping_best", st.Best.ToString("R", CultureInfo.InvariantCulture)));
            meta.Add(("early_stopping_best_epoch", Text(st.BestEpoch)));
            meta.Add(("early_stopping_wait", Text(st.Wait)));
            meta.Add(("early_stopping_stopped", Text(st.Stopped)));
        }
        byte[] header = Header(entries, meta);
        AtomicFile.Write(_path, stream =>
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)header.Length);
            stream.Write(size);
            stream.Write(header);
            foreach (var e in entries)
            {
                if (!BitConverter.IsLittleEndian)
                {
                    Span<int> bits = MemoryMarshal.Cast<float, int>(e.Data.AsSpan());
                    BinaryPrimitives.ReverseEndianness(bits, bits);
                }
                stream.Write(MemoryMarshal.AsBytes(e.Data.AsSpan()));
            }
        });
    }

    private void Finite(float[] data, string name)
    {
        if (FloatChecks.IndexOfNonFinite(data) is int bad and >= 0)
            throw new InvalidDataException($"{name} in {_path} holds {FloatChecks.Describe(data[bad])} at index {bad}.");
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static byte[] Header(List<(string Name, int[] Shape, float[] Data)> entries, List<(string, string)> meta) =>
        SafetensorsHeader.Write(meta, entries.Select(e => (e.Name, "F32", (IReadOnlyList<int>)e.Shape, (long)e.Data.Length * sizeof(float))));
}
