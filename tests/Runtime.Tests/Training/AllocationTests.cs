using System.Runtime.CompilerServices;
using Xunit;



namespace Compiled.Runtime.Tests.Training;

public class AllocationTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainingEpochAllocatesNothingAfterWarmUp(bool shuffle)
    {
        var model = new IrisNet(seed: 1);
        var trainer = new Trainer(model, IrisData.Train, new Adam(0.01) { ClipNorm = 1, Schedule = new CosineDecay(10) },
            batchSize: 8, shuffle, seed: 1);
        trainer.RunEpoch(0, 10, progress: null, CancellationToken.None); // warm-up: optimizer state, model workspace
        using var cts = new CancellationTokenSource(); // a live token, never cancelled
        long before = GC.GetAllocatedBytesForCurrentThread();
        double loss = 0;
        for (int epoch = 1; epoch < 4; epoch++) loss += trainer.RunEpoch(epoch, 10, null, cts.Token).Loss;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"3 epochs × {trainer.Batches} steps: {allocated} bytes");
        Assert.Equal(0, allocated);
        Assert.True(double.IsFinite(loss));
    }

    [Fact]
    public void FitAllocatesPerRunNotPerStep()
    {
        // 120 samples in batches of 4: 30 steps per epoch. Four more epochs may cost only their History rows.
        long Measure(int epochs)
        {
            var model = new IrisNet(seed: 1);
            model.Fit(IrisData.Train, epochs: 1, batchSize: 4); // warm-up (JIT, the model's workspace)
            long before = GC.GetAllocatedBytesForCurrentThread();
            model.Fit(IrisData.Train, epochs, batchSize: 4, optimizer: new Adam());
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Measure(1);
        long one = Measure(1), five = Measure(5);
        TestContext.Current.TestOutputHelper?.WriteLine($"Fit: 1 epoch {one} bytes, 5 epochs {five} bytes");
        Assert.InRange(five - one, 0, 4 * Unsafe.SizeOf<EpochMetrics>() + 32);
    }
}
