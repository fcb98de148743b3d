using Compiled.Runtime.Tests.Checkpoints;
using Xunit;
using static Compiled.Runtime.Tests.Training.FitTests;

namespace Compiled.Runtime.Tests.Training;

/// <summary>Iris with dropout, so a resume must also restore the model's random stream.</summary>
[Input(4)] [Dense(16, Activation.Relu)] [Dropout(0.25)] [Dense(3, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class IrisDropout;

/// <summary>
/// Exact resume through <c>Fit(..., checkpoint: path)</c>: a 4-epoch run and a 2 + 2 run through the checkpoint file
/// (fresh model and optimizer objects, as after a restart) give bit-identical losses and weights, for every optimizer
/// with state, with a schedule, shuffling and dropout; also after a cancellation mid-epoch or at an epoch boundary.
/// </summary>
public sealed class ResumeTests(ITestOutputHelper output)
{
    public static TheoryData<string> Optimizers => ["adam", "adamw", "sgd-momentum", "sgd-nesterov", "sgd", "rmsprop-momentum"];

    private static Optimizer Make(string kind)
    {
        var schedule = new StepDecay(stepSize: 1, gamma: 0.7);
        return kind switch
        {
            "adam" => new Adam(1e-2) { Schedule = schedule },
            "adamw" => new AdamW(1e-2) { Schedule = schedule, ClipNorm = 1 },
            "sgd-momentum" => new Sgd(0.05, momentum: 0.9) { Schedule = schedule },
            "sgd-nesterov" => new Sgd(0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3),
            "sgd" => new Sgd(0.05) { Schedule = new CosineDecay(4) },
            "rmsprop-momentum" => new RmsProp(1e-3, momentum: 0.5) { Schedule = schedule },
            _ => throw new ArgumentException(kind),
        };
    }

    private static History Fit(IModel model, Optimizer optimizer, int epochs, string? checkpoint, IProgress<TrainingProgress>? progress = null,
        CancellationTokenSource? cancel = null) =>
        model.Fit(IrisData.Train, epochs, batchSize: 8, optimizer: optimizer, seed: 11, checkpoint: checkpoint, progress: progress,
            cancellationToken: cancel?.Token ?? TestContext.Current.CancellationToken);

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Four_epochs_equal_two_plus_two_through_a_checkpoint_file(string kind)
    {
        using var dir = new TempDirectory();
        var reference = new IrisDropout(seed: 5);
        History all = Fit(reference, Make(kind), 4, checkpoint: null);

        string path = dir.File("run.safetensors");
        History first = Fit(new IrisDropout(seed: 5), Make(kind), 2, path);
        // A restart: fresh model (another seed: the checkpoint overrides it) and a fresh optimizer.
        var resumed = new IrisDropout(seed: 99);
        History second = Fit(resumed, Make(kind), 4, path);

        double[] expected = all.Select(e => e.Loss).ToArray();
        double[] got = first.Concat(second).Select(e => e.Loss).ToArray();
        output.WriteLine($"{kind}: 4 epochs {string.Join(", ", expected.Select(l => l.ToString("R")))}; 2 + 2 {string.Join(", ", got.Select(l => l.ToString("R")))}");
        Assert.Equal(new[] { 1, 2 }, first.Select(e => e.Epoch));
        Assert.Equal(new[] { 3, 4 }, second.Select(e => e.Epoch));
        Assert.Equal(expected, got);
        Assert.Equal(all.Select(e => e.LearningRate), first.Concat(second).Select(e => e.LearningRate));
        Assert.Equal(SafetensorsFiles.Bits(reference.Parameters), SafetensorsFiles.Bits(resumed.Parameters));

        // The file is plain safetensors: the weights load with Checkpoint.ReadAll like any other, with the metadata.
        var tensors = Checkpoint.ReadAll(path, out Dictionary<string, string> meta);
        Assert.Equal("training-checkpoint/1", meta["compiled"]);
        Assert.Equal("4", meta["epoch"]);
        Assert.Equal(SafetensorsFiles.Bits(reference.Parameters.Slice(0, 64)), SafetensorsFiles.Bits(tensors["layers.0.weight"].Data));

        // Everything trained: a further call with the same epoch count trains nothing.
        Assert.Empty(Fit(resumed, Make(kind), 4, path));
    }

    [Theory]
    [InlineData(2, 6)] // mid-epoch: after batch 6 of epoch 2
    [InlineData(2, 15)] // at an epoch boundary: the end of epoch 2 (15 batches), cancelled before epoch 3 starts
    public void A_cancelled_run_resumes_exactly(int epoch, int batch)
    {
        using var dir = new TempDirectory();
        var reference = new IrisDropout(seed: 6);
        History all = Fit(reference, Make("adam"), 4, checkpoint: null);

        string path = dir.File("run.safetensors");
        using var cts = new CancellationTokenSource();
        History first = Fit(new IrisDropout(seed: 6), Make("adam"), 4, path,
            new SyncProgress(p => { if (p.Epoch == epoch && p.Batch == batch) cts.Cancel(); }), cts);
        Assert.True(first.Cancelled);
        var resumed = new IrisDropout(seed: 6);
        History second = Fit(resumed, Make("adam"), 4, path);
        Assert.False(second.Cancelled);

        // The cancelled epoch is reported partially by the first call (when it had batches) and whole by the second.
        var byEpoch = first.Where(e => e.Samples == 120).Concat(second).Select(e => (e.Epoch, e.Loss)).ToArray();
        output.WriteLine($"cancelled at epoch {epoch}, batch {batch}: {string.Join("; ", byEpoch)}");
        Assert.Equal(all.Select(e => (e.Epoch, e.Loss)), byEpoch);
        Assert.Equal(SafetensorsFiles.Bits(reference.Parameters), SafetensorsFiles.Bits(resumed.Parameters));
    }

    [Fact]
    public void Early_stopping_state_resumes_too()
    {
        // Adam on IrisDropout (seed 5): epoch losses 1.04, 0.59, 0.48, 0.42. With minDelta 0.15 and patience 1, epoch 3
        // is no improvement on epoch 2, so the run stops there and puts epoch 2's weights back.
        static EarlyStopping Stop() => new(Metric.Loss, patience: 1, minDelta: 0.15);
        using var dir = new TempDirectory();
        var reference = new IrisDropout(seed: 5);
        History all = reference.Fit(IrisData.Train, 4, batchSize: 8, optimizer: Make("adam"), seed: 11, earlyStopping: Stop(),
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, all.StoppedEpoch);
        Assert.Equal(2, all.BestEpoch);

        string path = dir.File("run.safetensors");
        History first = new IrisDropout(seed: 5).Fit(IrisData.Train, 2, batchSize: 8, optimizer: Make("adam"), seed: 11,
            earlyStopping: Stop(), checkpoint: path, cancellationToken: TestContext.Current.CancellationToken);
        var resumed = new IrisDropout(seed: 5);
        History second = resumed.Fit(IrisData.Train, 4, batchSize: 8, optimizer: Make("adam"), seed: 11, earlyStopping: Stop(),
            checkpoint: path, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(all.Select(e => e.Loss), first.Concat(second).Select(e => e.Loss));
        Assert.Equal(3, second.StoppedEpoch);
        Assert.Equal(2, second.BestEpoch);
        Assert.True(second.RestoredBestWeights);
        Assert.Equal(SafetensorsFiles.Bits(reference.Parameters), SafetensorsFiles.Bits(resumed.Parameters));

        // The stopped run has nothing left to train: resuming it again trains nothing and ends with the best weights.
        var again = new IrisDropout(seed: 1);
        History none = again.Fit(IrisData.Train, 4, batchSize: 8, optimizer: Make("adam"), seed: 11, earlyStopping: Stop(),
            checkpoint: path, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Empty(none);
        Assert.Equal(3, none.StoppedEpoch);
        Assert.Equal(SafetensorsFiles.Bits(reference.Parameters), SafetensorsFiles.Bits(again.Parameters));
    }

    [Fact]
    public void A_checkpoint_of_another_run_is_refused_by_name()
    {
        using var dir = new TempDirectory();
        string path = dir.File("run.safetensors");
        Fit(new IrisDropout(seed: 1), Make("adam"), 1, path);

        var model = new IrisDropout(seed: 1);
        int[] before = SafetensorsFiles.Bits(model.Parameters);
        var batch = Assert.Throws<ArgumentException>(() => model.Fit(IrisData.Train, 2, batchSize: 16, optimizer: Make("adam"), seed: 11,
            checkpoint: path, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("batchSize", batch.ParamName);
        output.WriteLine(batch.Message);
        Assert.Equal("seed", Assert.Throws<ArgumentException>(() => model.Fit(IrisData.Train, 2, batchSize: 8, optimizer: Make("adam"),
            seed: 12, checkpoint: path, cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        Assert.Equal("optimizer", Assert.Throws<ArgumentException>(() => Fit(model, Make("sgd"), 2, path)).ParamName);
        Assert.Equal("earlyStopping", Assert.Throws<ArgumentException>(() => model.Fit(IrisData.Train, 2, batchSize: 8,
            optimizer: Make("adam"), seed: 11, checkpoint: path, earlyStopping: new EarlyStopping(Metric.Loss),
            cancellationToken: TestContext.Current.CancellationToken)).ParamName);
        var other = Assert.Throws<InvalidDataException>(() => Fit(new IrisRelu(seed: 1), Make("adam"), 2, path));
        output.WriteLine(other.Message);
        Assert.Contains(path, other.Message);
        Assert.Equal(before, SafetensorsFiles.Bits(model.Parameters));

        // A weights-only file is not a training checkpoint.
        string weights = dir.File("weights.safetensors");
        model.Save(weights);
        Assert.Contains("not a training checkpoint", Assert.Throws<InvalidDataException>(() => Fit(model, Make("adam"), 2, weights)).Message);
    }

    /// <summary>
    /// Mutation fuzzing of the training-checkpoint reader (fixed seed; 500 cases, or <c>COMPILED_FUZZ_CASES</c>): byte
    /// edits, mostly in the header and
    /// its metadata, and truncations. Each resume either succeeds or throws <see cref="InvalidDataException"/> (or
    /// <see cref="ArgumentException"/> when an edited setting no longer matches the call) naming the file, and a refused
    /// file leaves the model untouched. Long run of 2026-11-30 (COMPILED_FUZZ_CASES=10000, 30 s on a loaded 2-core
    /// machine): 1,502 resumed, 8,498 refused, no other outcome.
    /// </summary>
    [Fact]
    public void Mutated_training_checkpoints_resume_or_are_refused_cleanly()
    {
        using var dir = new TempDirectory();
        string path = dir.File("run.safetensors");
        Fit(new IrisDropout(seed: 3), Make("adam"), 2, path);
        byte[] valid = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(valid, 0);
        var rng = new Rng(20261130);
        const string Alphabet = "0123456789\"{}[],:-.e";
        int cases = int.TryParse(Environment.GetEnvironmentVariable("COMPILED_FUZZ_CASES"), out int n) && n > 0 ? n : 500;
        int loaded = 0, refused = 0;
        for (int c = 0; c < cases; c++)
        {
            byte[] bytes = (byte[])valid.Clone();
            if (rng.NextInt(10) == 0) bytes = bytes.AsSpan(0, rng.NextInt(bytes.Length)).ToArray();
            else
                for (int m = 1 + rng.NextInt(3); m > 0; m--)
                {
                    int at = rng.NextInt(2) == 0 ? rng.NextInt(Math.Min(headerEnd, bytes.Length)) : rng.NextInt(bytes.Length);
                    bytes[at] = rng.NextInt(2) == 0 ? (byte)rng.NextInt(256) : (byte)Alphabet[rng.NextInt(Alphabet.Length)];
                }
            File.WriteAllBytes(path, bytes);
            var model = new IrisDropout(seed: 4);
            int[] before = SafetensorsFiles.Bits(model.Parameters);
            try
            {
                Fit(model, Make("adam"), 2, path);
                loaded++;
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
            {
                refused++;
                Assert.True(ex.Message.Contains(path, StringComparison.Ordinal) || ex is ArgumentException,
                    $"case {c}: the message does not name the file: {ex.Message}");
                Assert.Equal(before, SafetensorsFiles.Bits(model.Parameters));
            }
        }
        output.WriteLine($"{cases} mutated training checkpoints: {loaded} resumed, {refused} refused");
        Assert.Equal(cases, loaded + refused);
    }
}
