using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>The dropout kernels on every instruction set: the hash's keep rate, the scale, and the same mask on each.</summary>
[Collection(nameof(CpuKernels))]
public class DropoutTests
{
    [Fact]
    public void KeepsAboutOneMinusRateWithTheSameMaskOnEveryInstructionSet()
    {
        const int Count = 100_003; // a tail past every vector width
        const uint Threshold = (uint)(0.3 * (1 << 24));
        float[] x = Support.Random(Count, 1);
        float[]? first = null;
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[Count];
            var mask = new float[Count];
            Support.With(isa, false, () => Dropout.Forward(y, mask, x, seed: 12345, Count, Threshold, 1f / 0.7f));
            int kept = mask.Count(m => m != 0);
            Support.Log($"{isa}: rate 0.3 kept {kept / (double)Count:P2} of {Count}");
            Assert.InRange(kept / (double)Count, 0.69, 0.71);
            for (int i = 0; i < Count; i++)
            {
                Assert.Equal(Dropout.Keep(12345, (uint)i, Threshold) ? 1f / 0.7f : 0f, mask[i]);
                Assert.Equal(x[i] * mask[i], y[i]);
            }
            first ??= y;
            Assert.True(Support.BitEqual(first, y), $"{isa} differs from the first instruction set");
        }
    }

    [Fact]
    public void AnotherSeedDrawsAnotherMaskAndBackwardMultipliesByIt()
    {
        const int Count = 1000;
        float[] x = Support.Random(Count, 2), dy = Support.Random(Count, 3);
        var y1 = new float[Count];
        var m1 = new float[Count];
        var y2 = new float[Count];
        var m2 = new float[Count];
        Dropout.Forward(y1, m1, x, seed: 1, Count, 1u << 23, 2f);
        Dropout.Forward(y2, m2, x, seed: 2, Count, 1u << 23, 2f);
        int differ = m1.Zip(m2).Count(p => p.First != p.Second);
        Support.Log($"seeds 1 and 2: {differ} of {Count} mask entries differ");
        Assert.InRange(differ, 400, 600); // independent masks at rate 0.5 differ about half the time
        var dx = new float[Count];
        Dropout.Backward(dx, dy, m1, Count);
        for (int i = 0; i < Count; i++) Assert.Equal(dy[i] * m1[i], dx[i]);
        var copy = new float[Count];
        Dropout.Inference(copy, x, Count);
        Assert.Equal(x, copy);
    }

    [Fact]
    public void ShortSpansAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Dropout.Forward(new float[3], new float[4], new float[4], 1, 4, 0, 1f));
        Assert.Throws<ArgumentException>(() => Dropout.Backward(new float[4], new float[3], new float[4], 4));
    }
}
