using ILGPU;
using ILGPU.Runtime;

// One simulator device is shared by the tests, and a GpuDevice is not thread-safe: run the tests one at a time.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]

namespace Compiled.Gpu.Tests;

/// <summary>The shared CPU-simulator device (ILGPU's CPU accelerator), opened once for the test run.</summary>
internal static class Simulator
{
    private static readonly Lazy<GpuDevice> s_device = new(GpuDevice.OpenCpuSimulator);

    public static GpuDevice Device => s_device.Value;
}

/// <summary>Random data, comparisons that print their maximum error, and device round trips.</summary>
internal static class Check
{
    public static float[] Random(int count, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Rng(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = lo + (hi - lo) * rng.NextFloat();
        return a;
    }

    public static float[] Labels(int count, int classes, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = rng.NextInt(classes);
        return a;
    }

    /// <summary>
    /// Asserts |expected − actual| ≤ tolerance·(1 + |expected|) element-wise, and writes the maximum absolute error.
    /// </summary>
    public static void Close(ITestOutputHelper output, string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxError = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs((double)expected[i] - actual[i]);
            Assert.False(float.IsNaN(actual[i]), $"{name}[{i}] is NaN (expected {expected[i]})");
            if (e > maxError) { maxError = e; worst = i; }
            if (e > tolerance * (1 + Math.Abs(expected[i])))
                Assert.Fail($"{name}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|Δ| = {e:E2} > {tolerance:E1}·(1 + |expected|))");
        }
        output.WriteLine($"{name}: {expected.Length} values, max |Δ| = {maxError:E2}" + (worst >= 0 ? $" at [{worst}]" : ""));
    }

    public static void Close(ITestOutputHelper output, string name, double expected, double actual, double tolerance)
        => Close(output, name, [(float)expected], [(float)actual], tolerance);

    public static MemoryBuffer1D<float, Stride1D.Dense> Upload(GpuDevice device, float[] data)
    {
        var buffer = device.Allocate(data.Length, "test data");
        buffer.View.CopyFromCPU(data);
        return buffer;
    }

    public static float[] Download(MemoryBuffer1D<float, Stride1D.Dense> buffer, int count)
    {
        var host = new float[count];
        ((ArrayView<float>)buffer.View).SubView(0, count).CopyToCPU(host);
        return host;
    }
}

/// <summary>Small data sets shared by the twin and trainer tests.</summary>
internal static class TestData
{
    public static (Dataset Train, Dataset Validation) Blobs()
    {
        // Three Gaussian-ish blobs in 4-D, one-hot targets (MSE on softmax probabilities).
        var rng = new Rng(123);
        Dataset Make(int count)
        {
            var x = new float[count * 4];
            var t = new float[count * 3];
            for (int i = 0; i < count; i++)
            {
                int c = i % 3;
                for (int f = 0; f < 4; f++) x[i * 4 + f] = (f == c ? 2f : 0f) + (rng.NextFloat() - 0.5f);
                t[i * 3 + c] = 1f;
            }
            return new Dataset(x, t, 4, 3);
        }
        return (Make(90), Make(30));
    }

    /// <summary><paramref name="count"/> samples of 6 features in [−1, 1), labelled 1 when a fixed weighted sum is positive.</summary>
    public static Dataset SeparableBinary(int count, int seed)
    {
        var rng = new Rng(seed);
        var features = new float[count * 6];
        var labels = new float[count];
        for (int i = 0; i < count; i++)
        {
            float s = 0;
            for (int f = 0; f < 6; f++) s += (features[i * 6 + f] = 2f * rng.NextFloat() - 1f) * (f % 2 == 0 ? 1f : -0.5f);
            labels[i] = s > 0 ? 1f : 0f;
        }
        return new Dataset(features, labels, 6, 1);
    }
}

/// <summary>Collects progress reports synchronously (System.Progress would post them to the thread pool).</summary>
internal sealed class ListProgress(List<TrainingProgress> reports) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => reports.Add(value);
}
