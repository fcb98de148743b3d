using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>Softmax + sparse cross-entropy's gradient against a double oracle, and its split over two cores (large
/// batches run two fixed halves of rows) against one core, bit for bit.</summary>
[Collection(nameof(CpuKernels))]
public sealed class SparseLossTests
{
    [Theory]
    [InlineData(2048, 65)]
    [InlineData(9, 65)]
    [InlineData(3000, 17)]
    public void Gradient_matches_the_oracle_and_two_cores_change_no_bit(int batch, int n)
    {
        float[] z = Support.Random(batch * n, 31, -6f, 6f);
        double[] zd = z.Select(v => (double)v).ToArray();
        float[] labels = Support.Random(batch, 32, 0f, n - 0.01f).Select(MathF.Floor).ToArray();
        double[] probs = Oracle.Softmax(zd, batch, n);
        double[] expected = new double[batch * n], scale = new double[batch * n]; // scale: |p| + |onehot| over the batch
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            {
                int hot = i == (int)labels[b] ? 1 : 0;
                expected[b * n + i] = (probs[b * n + i] - hot) / batch;
                scale[b * n + i] = (probs[b * n + i] + hot) / batch;
            }
        double expectedLoss = Oracle.SparseCrossEntropy(zd, labels, batch, n);
        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? first = null;
            foreach (bool threads in new[] { false, true })
            {
                var p = new float[batch * n];
                var d = new float[batch * n];
                float loss = 0;
                Support.With(isa, threads, () => loss = Losses.SoftmaxCrossEntropySparse(p, d, z, labels, batch, n));
                string what = $"sparse CE {batch}x{n} {isa} {(threads ? "2 cores" : "1 core")}";
                Support.Close([loss], [expectedLoss], default, 1e-6, 1e-7, $"{what}: loss");
                Support.Close(d, expected, scale, 2e-6, 1e-9 / batch, $"{what}: dlogits");
                float[] all = [loss, .. p, .. d];
                if (first is null) first = all;
                else Assert.True(Support.BitEqual(first, all), $"{what}: differs from one core");
            }
        }
    }
}
