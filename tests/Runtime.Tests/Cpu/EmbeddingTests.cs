using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

public sealed class EmbeddingTests
{
    [Fact]
    public void Forward_and_backward_match_a_naive_lookup_and_scatter()
    {
        const int Batch = 5, Steps = 7, Vocabulary = 11, Width = 19;
        var random = new Random(4);
        float[] w = Enumerable.Range(0, Vocabulary * Width).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] ids = Enumerable.Range(0, Batch * Steps).Select(_ => (float)random.Next(Vocabulary)).ToArray();
        float[] dy = Enumerable.Range(0, Batch * Steps * Width).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var y = new float[Batch * Steps * Width];
        Embedding.Forward(y, ids, w, Batch, Steps, Vocabulary, Width);
        for (int r = 0; r < Batch * Steps; r++)
            for (int j = 0; j < Width; j++)
                Assert.Equal(w[(int)ids[r] * Width + j], y[r * Width + j]);

        var dw = Enumerable.Repeat(9f, Vocabulary * Width).ToArray(); // overwritten, not accumulated
        Embedding.Backward(dw, dy, ids, Batch, Steps, Vocabulary, Width);
        var expected = new double[Vocabulary * Width];
        for (int r = 0; r < Batch * Steps; r++)
            for (int j = 0; j < Width; j++)
                expected[(int)ids[r] * Width + j] += dy[r * Width + j];
        double maxError = expected.Zip(dw, (e, o) => Math.Abs(e - o)).Max();
        TestContext.Current.TestOutputHelper?.WriteLine($"embedding backward vs a double scatter: max |Δ| {maxError:E2}");
        Assert.True(maxError < 1e-5, $"max error {maxError}");
    }

    [Theory]
    [InlineData(11f)]
    [InlineData(-1f)]
    [InlineData(2.5f)]
    [InlineData(float.NaN)]
    public void A_bad_id_throws_before_anything_is_written(float bad)
    {
        float[] ids = [0, 1, 2, 3, 4, 5];
        ids[4] = bad; // sample 1 (steps 3), position 1
        var y = new float[6 * 2];
        var e = Assert.Throws<ArgumentException>(() => Embedding.Forward(y, ids, new float[11 * 2], 2, 3, 11, 2));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("position 1", e.Message);
        Assert.All(y, v => Assert.Equal(0f, v));
    }
}
