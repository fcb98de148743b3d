namespace Compiled.Integration.Tests;

[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistMlp;

/// <summary>The model, compiled by the real generator, trained on the real MNIST bundled with the sample.</summary>
public class MnistTests
{
    internal static readonly Lazy<(Dataset Train, Dataset Test)> s_mnist = new(() => Mnist.Load(RepoPaths.MnistDirectory));

    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    [Fact]
    public void MlpReachesAtLeast97Point5PercentWithinFiveEpochs()
    {
        var (train, test) = s_mnist.Value;
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);

        var model = new MnistMlp(seed: 1);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // The sample's recipe: Adam, learning rate annealed by cosine over the 5 epochs.
        History history = model.Fit(train, epochs: 5, batchSize: 64, optimizer: new Adam(2e-3) { Schedule = new CosineDecay(5) }, seed: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        watch.Stop();
        var (loss, accuracy) = model.Evaluate(test);

        foreach (EpochMetrics epoch in history.Epochs)
            Output?.WriteLine($"epoch {epoch.Epoch}: loss {epoch.Loss:F4}, accuracy {epoch.Accuracy:P2}");
        Output?.WriteLine($"test: loss {loss:F4}, accuracy {accuracy:P2}; 5 epochs in {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(5, history.Epochs.Count);
        Assert.True(history.Epochs[^1].Loss < history.Epochs[0].Loss, "training loss decreases");
        Assert.True(accuracy >= 0.975, $"test accuracy {accuracy:P2} is below 97.5%");
    }

    [Fact]
    public void SameSeedGivesTheSameLossSequence()
    {
        Dataset train = s_mnist.Value.Train.Take(3000);
        float[] Losses(int seed)
        {
            var model = new MnistMlp(seed: seed);
            var optimizer = new Adam(1e-3);
            var x = new float[64 * 784];
            var t = new float[64];
            var losses = new float[40];
            for (int step = 0; step < losses.Length; step++)
            {
                train.Features.Slice(step * 64 * 784, x.Length).CopyTo(x);
                train.Targets.Slice(step * 64, 64).CopyTo(t);
                losses[step] = model.ComputeGradients(x, t, default, 64);
                optimizer.Step(model.Parameters, model.Gradients);
            }
            return losses;
        }

        float[] first = Losses(7), second = Losses(7), other = Losses(8);
        Assert.Equal(first, second); // bit for bit
        Assert.NotEqual(first, other);
        Assert.True(first[^1] < first[0], "loss falls");

        History a = new MnistMlp(seed: 3).Fit(train, epochs: 2, batchSize: 50, seed: 11,
            cancellationToken: TestContext.Current.CancellationToken);
        History b = new MnistMlp(seed: 3).Fit(train, epochs: 2, batchSize: 50, seed: 11,
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(a.Epochs.Select(e => e.Loss), b.Epochs.Select(e => e.Loss));
    }
}
