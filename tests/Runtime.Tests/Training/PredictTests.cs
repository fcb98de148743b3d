using Xunit;



namespace Compiled.Runtime.Tests.Training;

public class PredictTests
{
    [Fact]
    public void PredictMatchesForwardAndPredictClassIsTheArgMax()
    {
        var model = new IrisNet(seed: 1);
        model.Fit(IrisData.Train, epochs: 20, batchSize: 16, optimizer: new Adam(0.01), cancellationToken: TestContext.Current.CancellationToken);
        Dataset test = IrisData.Test;
        float[] all = model.Predict(test, batchSize: 7);
        Assert.Equal(test.Count * 3, all.Length);

        var batch = new float[test.Count * 3];
        model.Predict(test.Features, batch);
        // The GEMM takes different (equally exact) paths for different row counts, so results agree to rounding,
        // not bit for bit, across batch sizes; PyTorch and BLAS make the same trade.
        AssertClose(all, batch);

        var one = new float[3];
        int right = 0;
        for (int i = 0; i < test.Count; i++)
        {
            model.Predict(test.FeaturesOf(i), one);
            AssertClose(all.AsSpan(i * 3, 3).ToArray(), one);
            Assert.Equal(1f, one.Sum(), 1e-5);
            int expected = Array.IndexOf(one, one.Max());
            int predicted = model.PredictClass(test.FeaturesOf(i));
            Assert.Equal(expected, predicted);
            if (predicted == (int)test.Targets[i]) right++;
        }
        Assert.Equal(model.Evaluate(test).Accuracy, (double)right / test.Count);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++) max = MathF.Max(max, MathF.Abs(expected[i] - actual[i]));
        Assert.True(max <= 1e-6f, $"predictions differ by up to {max}");
    }

    [Fact]
    public void PredictClassThresholdsASingleSigmoid()
    {
        var model = new SetosaNet(seed: 1);
        Dataset train = IrisData.Setosa(IrisData.Train), test = IrisData.Setosa(IrisData.Test);
        model.Fit(train, epochs: 30, batchSize: 8, optimizer: new Adam(0.01), cancellationToken: TestContext.Current.CancellationToken);
        var output = new float[1];
        int right = 0;
        for (int i = 0; i < test.Count; i++)
        {
            model.Predict(test.FeaturesOf(i), output);
            int predicted = model.PredictClass(test.FeaturesOf(i));
            Assert.Equal(output[0] > 0.5f ? 1 : 0, predicted);
            if (predicted == (int)test.Targets[i]) right++;
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"setosa accuracy {right}/{test.Count}");
        Assert.Equal(model.Evaluate(test).Accuracy, (double)right / test.Count);
        Assert.True(right >= test.Count - 1, $"setosa is linearly separable, but only {right}/{test.Count} right");
    }

    [Fact]
    public void SingleSamplePredictionAllocatesNothing()
    {
        var model = new IrisNet(seed: 1);
        ReadOnlySpan<float> sample = IrisData.Test.FeaturesOf(0);
        var output = new float[3];
        model.Predict(sample, output);
        int cls = model.PredictClass(sample); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            model.Predict(sample, output);
            cls += model.PredictClass(sample);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.InRange(cls, 0, 202);
    }
}
