using Compiled.CompilerServices;

namespace Compiled.Integration.Tests;

/// <summary>
/// The MLP 784-128-10 at the batch sizes whose products take the small-shape GEMM paths (the narrow output layer's
/// dot tiles, the weight gradient read in place, the few-row dot path): Adam steps and predictions give the same bits
/// on one core and on two.
/// </summary>
[Collection(nameof(AllocationCounting))]
public class CoreCountTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static (float[] Losses, float[] Parameters, float[] Predictions) Train(bool twoCores, int batch)
    {
        bool saved = Worker.Disabled;
        Worker.Disabled = !twoCores;
        try
        {
            var model = new MnistMlp(seed: 3);
            var rng = new Rng(4);
            float[] x = new float[batch * MnistMlp.InputSize];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat();
            float[] t = Enumerable.Range(0, batch).Select(i => (float)(i % 10)).ToArray();
            var optimizer = new Adam(1e-3);
            var losses = new float[5];
            for (int step = 0; step < losses.Length; step++)
            {
                losses[step] = model.ComputeGradients(x, t, default, batch);
                optimizer.Step(model.Parameters, model.Gradients);
            }
            var predictions = new float[batch * MnistMlp.OutputSize];
            model.Forward(x, predictions, batch);
            return (losses, model.Parameters.ToArray(), predictions);
        }
        finally { Worker.Disabled = saved; }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(37)]
    [InlineData(3)]
    public void OneCoreAndTwoGiveTheSameBits(int batch)
    {
        var one = Train(twoCores: false, batch);
        var two = Train(twoCores: true, batch);
        Output?.WriteLine($"batch {batch}: losses {string.Join(", ", one.Losses.Select(l => l.ToString("F5")))}");
        Assert.True(one.Losses[^1] < one.Losses[0], "the five steps did not lower the loss");
        Assert.Equal(one.Losses, two.Losses);
        Assert.True(one.Parameters.AsSpan().SequenceEqual(two.Parameters), "parameters differ between one core and two");
        Assert.True(one.Predictions.AsSpan().SequenceEqual(two.Predictions), "predictions differ between one core and two");
    }
}
