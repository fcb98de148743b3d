using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// The per-token input projection after an embedding against a double-precision oracle of the per-row products (the
/// embedding's rows, then x·Wᵀ + b; dW = dzᵀ·x, db = Σ dz, dE = scatter of dz·W), on every instruction set, on one core
/// and two (bit-identical), per token and per row (more tokens than rows).
/// </summary>
[Collection(nameof(CpuKernels))]
public sealed class EmbeddedProjectionTests
{
    // (batch, steps, vocabulary, inputs, units): per token (65 < 2048 rows; 7 < 18 with odd sizes; a split of the
    // copies and sums over the cores at 32·16·128 = 65,536), and per row (9 ≥ 2·3).
    public static TheoryData<int, int, int, int, int> Cases => new()
    {
        { 32, 64, 65, 64, 512 },
        { 3, 6, 7, 5, 20 },
        { 32, 16, 40, 24, 128 },
        { 2, 3, 9, 4, 12 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_and_backward_match_the_per_row_products(int batch, int steps, int vocabulary, int inputs, int units)
    {
        int rows = batch * steps;
        var random = new Random(5);
        float[] ids = Enumerable.Range(0, rows).Select(_ => (float)random.Next(vocabulary)).ToArray();
        float[] e = Support.Random(vocabulary * inputs, 1), w = Support.Random(units * inputs, 2, -0.3f, 0.3f);
        float[] b = Support.Random(units, 3), dz = Support.Random(rows * units, 4);
        float[] x = new float[rows * inputs];
        Embedding.Forward(x, ids, e, batch, steps, vocabulary, inputs);

        // The oracle, in double: y = x·wᵀ + b; dw = dzᵀ·x; db = Σ dz; de[v] = Σ_(r: ids[r] = v) (dz·w)[r].
        var y = new double[rows * units];
        var ys = new double[rows * units];
        for (int r = 0; r < rows; r++)
            for (int u = 0; u < units; u++)
            {
                double s = b[u], m = Math.Abs(b[u]);
                for (int k = 0; k < inputs; k++) { s += (double)x[r * inputs + k] * w[u * inputs + k]; m += Math.Abs((double)x[r * inputs + k] * w[u * inputs + k]); }
                y[r * units + u] = s;
                ys[r * units + u] = m;
            }
        var dw = new double[units * inputs];
        var dws = new double[units * inputs];
        var db = new double[units];
        var dbs = new double[units];
        var de = new double[vocabulary * inputs];
        var des = new double[vocabulary * inputs];
        for (int r = 0; r < rows; r++)
        {
            int v = (int)ids[r];
            for (int u = 0; u < units; u++)
            {
                double d = dz[r * units + u];
                db[u] += d;
                dbs[u] += Math.Abs(d);
                for (int k = 0; k < inputs; k++)
                {
                    dw[u * inputs + k] += d * x[r * inputs + k];
                    dws[u * inputs + k] += Math.Abs(d * x[r * inputs + k]);
                    de[v * inputs + k] += d * w[u * inputs + k];
                    des[v * inputs + k] += Math.Abs(d * w[u * inputs + k]);
                }
            }
        }
        Support.Log($"batch {batch}, steps {steps}, vocabulary {vocabulary}: {(EmbeddedProjection.PerToken(rows, vocabulary) ? "per token" : "per row")}");

        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? first = null;
            foreach (bool threads in new[] { false, true })
            {
                float[] gy = new float[rows * units], gdw = Enumerable.Repeat(7f, units * inputs).ToArray(), gdb = new float[units];
                float[] gde = Enumerable.Repeat(7f, vocabulary * inputs).ToArray(), gdx = new float[rows * inputs];
                Support.With(isa, threads, () =>
                {
                    EmbeddedProjection.Forward(gy, x, ids, e, w, b, batch, steps, vocabulary, inputs, units);
                    EmbeddedProjection.Backward(gde, gdw, gdb, gdx, dz, x, ids, e, w, batch, steps, vocabulary, inputs, units);
                });
                string what = $"{isa}, {(threads ? "2 cores" : "1 core")}";
                Support.Close(gy, y, ys, 1e-5, 1e-6, $"{what}: y");
                Support.Close(gdw, dw, dws, 1e-5, 1e-6, $"{what}: dW");
                Support.Close(gdb, db, dbs, 1e-5, 1e-6, $"{what}: db");
                Support.Close(gde, de, des, 1e-5, 1e-6, $"{what}: dE");
                float[] all = [.. gy, .. gdw, .. gdb, .. gde];
                if (first is null) first = all;
                else Assert.True(Support.BitEqual(first, all), $"{isa}: two cores change the bits");
            }
        }
    }

    [Fact]
    public void A_bad_id_throws_naming_the_ids()
    {
        float[] ids = [0, 1, 2, 0, 1, 2, 0, 1]; // 3 tokens < 8 rows: the per-token form checks the ids itself
        ids[5] = 2.5f;
        var y = new float[8 * 4];
        var error = Assert.Throws<ArgumentException>(() =>
            EmbeddedProjection.Forward(y, new float[8 * 3], ids, new float[3 * 3], new float[4 * 3], new float[4], 2, 4, 3, 3, 4));
        Assert.Equal("ids", error.ParamName);
        Assert.Contains("sample 1", error.Message);
    }
}
