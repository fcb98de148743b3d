namespace Compiled.Integration.Tests;

/// <summary>A character bigram model over windows of 32 characters (samples/CharRnn's model before its recurrent layer).</summary>
[Input(32)]
[Embedding(65, 16)]
[Dense(65, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CharBigramModel;

/// <summary>Trains on the real tinyshakespeare the CharRnn sample ships (90/10 split, as char-rnn).</summary>
public class CharTextTrainingTests
{
    [Fact]
    public void A_bigram_model_learns_tinyshakespeare_to_about_two_and_a_half_nats_per_character()
    {
        CharText text = CharText.Load(Path.Combine(RepoPaths.Root, "samples", "CharRnn", "data", "tinyshakespeare.txt.gz"));
        Dataset train = text.Windows(text.Train, 32), validation = text.Windows(text.Validation, 32);
        var model = new CharBigramModel(seed: 1);
        double before = model.Evaluate(validation).Loss;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        History history = model.Fit(train, epochs: 1, batchSize: 64, optimizer: new Adam(1e-2), validation: validation, seed: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        double after = history[0].ValidationLoss!.Value;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"bigram on tinyshakespeare: validation {before:F3} → {after:F3} nats/char after one epoch of {train.Count:N0} windows " +
            $"({clock.Elapsed.TotalSeconds:F1} s, machine shared), accuracy {history[0].ValidationAccuracy:P1}");
        Assert.True(before > 4, $"an untrained model should be near or above ln 65 = 4.17, was {before}");
        // A character bigram model cannot go much below ~2.45 nats/char on this text; one epoch gets close to it.
        Assert.InRange(after, 2.4, 2.65);
        Assert.Equal(after, model.Evaluate(validation).Loss, 1e-9);
        // The sampled text decodes through the vocabulary (every output row is a distribution over 65 characters).
        float[] outputs = model.Predict(validation.Take(1));
        Assert.Equal(32 * 65, outputs.Length);
        Assert.Equal(1.0, outputs.AsSpan(0, 65).ToArray().Sum(), 1e-5);
    }
}

/// <summary>A sequence model's training step and prediction allocate nothing once warm (as the MNIST model's).</summary>
[Collection(nameof(AllocationCounting))]
public class SequenceAllocationTests
{
    [Fact]
    public void SequenceTrainingStepAndPredictionAllocateNothingAfterWarmUp()
    {
        var model = new CharBigramModel(seed: 1);
        var optimizer = new Adam(1e-3);
        float[] x = Enumerable.Range(0, 64 * 32).Select(i => (float)(i * 7 % 65)).ToArray();
        float[] t = Enumerable.Range(0, 64 * 32).Select(i => (float)(i * 11 % 65)).ToArray();
        var output = new float[32 * 65];
        for (int i = 0; i < 5; i++)
        {
            model.ComputeGradients(x, t, default, 64);
            optimizer.Step(model.Parameters, model.Gradients);
            model.Forward(x.AsSpan(0, 32), output, 1);
        }
        long before = GC.GetAllocatedBytesForCurrentThread() + CompilerServices.Worker.WorkerAllocatedBytes;
        for (int i = 0; i < 50; i++)
        {
            model.ComputeGradients(x, t, default, 64);
            optimizer.Step(model.Parameters, model.Gradients);
            model.Forward(x.AsSpan(i % 64 * 32, 32), output, 1);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() + CompilerServices.Worker.WorkerAllocatedBytes - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"allocated: {allocated} bytes over 50 sequence training steps and predictions");
        Assert.Equal(0, allocated);
    }
}
