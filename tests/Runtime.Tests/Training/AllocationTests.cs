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
        Optimizer optimizer = new Adam(0.01) { ClipNorm = 1, Schedule = new CosineDecay(10) };
        var backend = new CpuTrainingBackend(model, IrisData.Train, optimizer, batchSize: 8, shuffle, validation: null);
        var rows = new int[8];
        void Epoch(int epoch)
        {
            optimizer.BeginEpoch(epoch);
            for (int start = 0; start < IrisData.Train.Count; start += 8)
            {
                int n = Math.Min(8, IrisData.Train.Count - start);
                for (int i = 0; i < n; i++) rows[i] = shuffle ? (start + i * 37) % IrisData.Train.Count : start + i;
                backend.Step(rows.AsSpan(0, n), contiguous: !shuffle);
            }
        }
        Epoch(0); // warm-up: optimizer state, model workspace
        backend.EndEpoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        double loss = 0;
        for (int epoch = 1; epoch < 4; epoch++)
        {
            Epoch(epoch);
            loss += backend.EndEpoch().Loss;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"3 epochs × 15 steps: {allocated} bytes");
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
