using Compiled.CompilerServices;

namespace Compiled.Integration.Tests;

/// <summary>Runs alone: no other test's kernels share the worker thread while this one counts its allocations.</summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting;

/// <summary>
/// A training step and a single prediction allocate nothing once warm. Allocations are counted on the two threads
/// that run the model (the caller and the CPU worker), not process-wide: the test host's own threads allocate while
/// the test runs.
/// </summary>
[Collection(nameof(AllocationCounting))]
public class AllocationTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static long AllocatedOnModelThreads() => GC.GetAllocatedBytesForCurrentThread() + Worker.WorkerAllocatedBytes;

    [Fact]
    public void TrainingStepAndPredictionAllocateNothingAfterWarmUp()
    {
        Dataset train = MnistTests.s_mnist.Value.Train.Take(640);
        var model = new MnistMlp(seed: 1);
        var optimizer = new Adam(1e-3);
        float[] x = train.Features.Slice(0, 64 * 784).ToArray();
        float[] t = train.Targets.Slice(0, 64).ToArray();
        var output = new float[10];

        for (int i = 0; i < 5; i++) // warm-up: workspace, optimizer state, JIT tiers, the worker thread
        {
            model.ComputeGradients(x, t, default, 64);
            optimizer.Step(model.Parameters, model.Gradients);
            model.Forward(x.AsSpan(0, 784), output, 1);
        }

        long before = AllocatedOnModelThreads();
        for (int i = 0; i < 200; i++)
        {
            model.ComputeGradients(x, t, default, 64);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        long training = AllocatedOnModelThreads() - before;

        before = AllocatedOnModelThreads();
        for (int i = 0; i < 1000; i++)
            model.Forward(x.AsSpan(i % 64 * 784, 784), output, 1);
        long prediction = AllocatedOnModelThreads() - before;

        Output?.WriteLine($"allocated: {training} bytes over 200 training steps, {prediction} over 1000 predictions");
        Assert.Equal(0, training);
        Assert.Equal(0, prediction);
    }

    [Fact]
    public void BatchNormTrainingStepAndPredictionAllocateNothingAfterWarmUp()
    {
        var model = new BnCnnReference(seed: 1);
        var optimizer = new Adam(1e-3);
        var rng = new Rng(1);
        float[] x = Enumerable.Range(0, 32 * BnCnnReference.InputSize).Select(_ => rng.NextFloat()).ToArray();
        float[] t = Enumerable.Range(0, 32).Select(i => (float)(i % 3)).ToArray();
        var output = new float[BnCnnReference.OutputSize];
        for (int i = 0; i < 5; i++)
        {
            model.ComputeGradients(x, t, default, 32);
            optimizer.Step(model.Parameters, model.Gradients);
            model.Forward(x.AsSpan(0, BnCnnReference.InputSize), output, 1);
        }

        long before = AllocatedOnModelThreads();
        for (int i = 0; i < 100; i++)
        {
            model.ComputeGradients(x, t, default, 32);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        long training = AllocatedOnModelThreads() - before;
        before = AllocatedOnModelThreads();
        for (int i = 0; i < 500; i++)
            model.Forward(x.AsSpan(i % 32 * BnCnnReference.InputSize, BnCnnReference.InputSize), output, 1);
        long prediction = AllocatedOnModelThreads() - before;

        Output?.WriteLine($"BatchNorm model: allocated {training} bytes over 100 training steps, {prediction} over 500 predictions");
        Assert.Equal(0, training);
        Assert.Equal(0, prediction);
    }

    [Fact]
    public void TheCountSeesAllocationsOnBothThreads()
    {
        // The measure itself must be able to fail: an allocation on this thread shows up in it.
        long before = AllocatedOnModelThreads();
        object[] boxes = new object[100];
        for (int i = 0; i < boxes.Length; i++) boxes[i] = i;
        long allocated = AllocatedOnModelThreads() - before;
        GC.KeepAlive(boxes);
        Output?.WriteLine($"100 boxes: {allocated} bytes");
        Assert.True(allocated >= 100 * 24, $"counted {allocated} bytes for 100 boxed ints");
    }
}
