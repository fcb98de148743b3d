using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>Dense forward and backward against the double-precision oracle, on every instruction set, one and two cores.</summary>
[Collection(nameof(CpuKernels))]
public class DenseTests
{
    // batch, inputs, units: unit and odd sizes, the MNIST shapes, every GEMM edge (rows < 8, columns < 32, K not a
    // multiple of 16, several KC blocks, several NC blocks, many rows with a short last tile), the few-row dot path (batch ≤ 4) with and without two
    // cores, and empty dimensions.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 3, 17, 5 }, { 64, 784, 128 }, { 64, 128, 10 }, { 65, 129, 33 }, { 1, 784, 128 }, { 1, 128, 10 },
        { 4, 33, 7 }, { 2, 1000, 3 }, { 4, 2000, 130 }, { 5, 31, 35 }, { 9, 300, 70 }, { 8, 16, 32 }, { 7, 15, 31 },
        { 17, 257, 513 }, { 130, 600, 700 }, { 0, 5, 3 }, { 3, 0, 4 }, { 6, 4, 0 },
        // Many rows with a short last tile, K below 16 and not a multiple of 16, several KC blocks, columns < 32,
        // two NC blocks (sized for a packed-A path that was tried, and kept as coverage).
        { 300, 37, 45 }, { 259, 530, 97 }, { 270, 20, 600 },
        // The narrow dot-tile path (more than 4 rows, fewer than 32 units: rows and units not multiples of 4, K with a
        // masked tail) and the in-place-B path (K = batch ≤ 256 for dw; K = units ≤ 256 for dx), at and past KC.
        { 5, 100, 31 }, { 1030, 1024, 10 }, { 97, 50, 3 }, { 256, 300, 40 }, { 257, 70, 257 }, { 64, 784, 10 }, { 64, 1024, 40 },
    };

    public static TheoryData<string, int, int, int> ActivationShapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (string act in new[] { "Identity", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu" })
            foreach ((int b, int i, int u) in new[] { (1, 1, 1), (3, 17, 5), (64, 784, 128), (65, 129, 33), (1, 784, 128), (4, 33, 7), (9, 300, 70), (4, 2000, 130), (300, 37, 45) })
                data.Add(act, b, i, u);
        return data;
    }

    [Theory]
    [MemberData(nameof(ActivationShapes))]
    public void Forward_matches_oracle(string activation, int batch, int inputs, int units)
    {
        switch (activation)
        {
            case "Identity": Forward<Identity>(batch, inputs, units); break;
            case "Relu": Forward<Relu>(batch, inputs, units); break;
            case "LeakyRelu": Forward<LeakyRelu>(batch, inputs, units); break;
            case "Sigmoid": Forward<Sigmoid>(batch, inputs, units); break;
            case "Tanh": Forward<Tanh>(batch, inputs, units); break;
            case "Gelu": Forward<Gelu>(batch, inputs, units); break;
            default: throw new ArgumentException(activation);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_relu_matches_oracle_on_every_shape(int batch, int inputs, int units) => Forward<Relu>(batch, inputs, units);

    private static void Forward<TAct>(int batch, int inputs, int units) where TAct : struct, IActivation
    {
        float[] x = Support.Random(batch * inputs, 1, -2f, 2f);
        float[] w = Support.Random(units * inputs, 2);
        float[] b = Support.Random(units, 3);
        var (z, y, scale) = Oracle.DenseForward<TAct>(x, w, b, batch, inputs, units);
        float[]? first = null;
        foreach (KernelIsa isa in Support.Isas())
            foreach (bool threads in new[] { false, true })
            {
                var gy = new float[batch * units];
                var gz = new float[batch * units];
                Support.With(isa, threads, () => Dense.Forward<TAct>(gy, gz, x, w, b, batch, inputs, units));
                string what = $"{typeof(TAct).Name} {batch}x{inputs}x{units} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(gz, z, scale, 2e-5, 1e-6, what + " z");
                Support.Close(gy, y, scale, 2e-5, 1e-6, what + " y");

                // Without a pre-activation buffer the output is the same.
                var gy2 = new float[batch * units];
                Support.With(isa, threads, () => Dense.Forward<TAct>(gy2, default, x, w, b, batch, inputs, units));
                Assert.True(Support.BitEqual(gy, gy2), what + ": output differs when z is not kept");

                // Splitting the work across cores never changes a bit.
                if (isa == Gemm.DetectIsa())
                {
                    if (first is null) first = gy;
                    else Assert.True(Support.BitEqual(first, gy), what + ": two cores differ from one");
                }
            }
    }

    [Fact]
    public void B_is_read_in_place_only_where_its_strip_stays_in_L1()
    {
        Assert.True(Gemm.StripFitsL1(784, 64));   // MNIST's dW = dzᵀ·x at batch 64: rows spread over all 64 sets
        Assert.True(Gemm.StripFitsL1(784, 256));
        Assert.True(Gemm.StripFitsL1(128, 64));   // 512-byte stride: 16 sets, 8 lines each
        Assert.False(Gemm.StripFitsL1(128, 65));
        Assert.False(Gemm.StripFitsL1(1024, 64)); // 4 KiB stride: every row in the same two sets
        Assert.True(Gemm.StripFitsL1(1024, 8));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_matches_oracle(int batch, int inputs, int units)
    {
        float[] dz = Support.Random(batch * units, 4);
        float[] x = Support.Random(batch * inputs, 5, -2f, 2f);
        float[] w = Support.Random(units * inputs, 6);
        var r = Oracle.DenseBackward(dz, x, w, batch, inputs, units);
        float[]? firstDw = null, firstDx = null;
        foreach (KernelIsa isa in Support.Isas())
            foreach (bool threads in new[] { false, true })
            {
                // Outputs start as garbage: the kernel must overwrite, not accumulate.
                float[] dx = Support.Random(batch * inputs, 7, 5f, 9f);
                float[] dw = Support.Random(units * inputs, 8, 5f, 9f);
                float[] db = Support.Random(units, 9, 5f, 9f);
                Support.With(isa, threads, () => Dense.Backward(dx, dw, db, dz, x, w, batch, inputs, units));
                string what = $"{batch}x{inputs}x{units} {isa}{(threads ? " 2 cores" : "")}";
                Support.Close(dw, r.Dw, r.DwScale, 2e-5, 1e-6, what + " dw");
                Support.Close(db, r.Db, r.DbScale, 2e-5, 1e-6, what + " db");
                Support.Close(dx, r.Dx, r.DxScale, 2e-5, 1e-6, what + " dx");

                // The first layer passes no dx; dw and db are the same.
                float[] dw2 = new float[units * inputs], db2 = new float[units];
                Support.With(isa, threads, () => Dense.Backward(default, dw2, db2, dz, x, w, batch, inputs, units));
                Assert.True(Support.BitEqual(dw, dw2) && Support.BitEqual(db, db2), what + ": dw/db differ without dx");

                // Splitting the work across cores never changes a bit.
                if (isa == Gemm.DetectIsa())
                {
                    if (firstDw is null) { firstDw = dw; firstDx = dx; }
                    else Assert.True(Support.BitEqual(firstDw, dw) && Support.BitEqual(firstDx, dx), what + ": two cores differ from one");
                }
            }
    }

    // Products with at least Gemm.SharedMinRows rows run on two cores as row blocks over one shared, lazily packed B:
    // several row blocks with a short last one, odd K (A packed with a k tail), columns < 32 and several panels,
    // several K blocks, in all three products of a dense layer (forward x·wᵀ, dw = dzᵀ·x with column-major A, dx = dz·w).
    public static TheoryData<string, int, int, int> SharedShapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (string act in new[] { "Identity", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu" })
            data.Add(act, 300, 37, 45);
        data.Add("Relu", 257, 530, 97);
        data.Add("Relu", 1030, 70, 300);
        data.Add("Identity", 520, 1031, 33);
        data.Add("Tanh", 256, 16, 1);
        data.Add("Identity", 1030, 300, 10); // a 10-class output at a large batch: the dot-tile path on one core and two
        return data;
    }

    [Theory]
    [MemberData(nameof(SharedShapes))]
    public void Shared_row_split_matches_oracle_and_one_core_bit_for_bit(string activation, int batch, int inputs, int units)
    {
        Assert.True(batch >= Gemm.SharedMinRows, "the shape must take the shared row split");
        switch (activation)
        {
            case "Identity": Forward<Identity>(batch, inputs, units); break;
            case "Relu": Forward<Relu>(batch, inputs, units); break;
            case "LeakyRelu": Forward<LeakyRelu>(batch, inputs, units); break;
            case "Sigmoid": Forward<Sigmoid>(batch, inputs, units); break;
            case "Tanh": Forward<Tanh>(batch, inputs, units); break;
            case "Gelu": Forward<Gelu>(batch, inputs, units); break;
            default: throw new ArgumentException(activation);
        }
        // Backward with units as the rows of dw too (swap the roles so dw = dzᵀ·x has many rows).
        foreach ((int b, int i, int u) in new[] { (batch, inputs, units), (units, inputs, batch) })
        {
            float[] dz = Support.Random(b * u, 4);
            float[] x = Support.Random(b * i, 5, -2f, 2f);
            float[] w = Support.Random(u * i, 6);
            var r = Oracle.DenseBackward(dz, x, w, b, i, u);
            float[]? firstDx = null, firstDw = null;
            foreach (KernelIsa isa in Support.Isas())
                foreach (bool threads in new[] { false, true })
                {
                    float[] dx = Support.Random(b * i, 7, 5f, 9f), dw = Support.Random(u * i, 8, 5f, 9f), db = new float[u];
                    Support.With(isa, threads, () => Dense.Backward(dx, dw, db, dz, x, w, b, i, u));
                    string what = $"{b}x{i}x{u} {isa}{(threads ? " 2 cores" : "")}";
                    Support.Close(dw, r.Dw, r.DwScale, 2e-5, 1e-6, what + " dw");
                    Support.Close(dx, r.Dx, r.DxScale, 2e-5, 1e-6, what + " dx");
                    if (isa != Gemm.DetectIsa()) continue;
                    if (firstDx is null) { firstDx = dx; firstDw = dw; }
                    else Assert.True(Support.BitEqual(firstDx, dx) && Support.BitEqual(firstDw!, dw), what + ": two cores differ from one");
                }
        }
    }

    [Theory]
    [InlineData(5, 13, 40)]
    [InlineData(17, 196, 128)]
    [InlineData(64, 784, 128)]
    [InlineData(128, 300, 70)]
    [InlineData(100, 1000, 33)]
    public void Reading_A_in_place_gives_the_packed_bits(int batch, int inputs, int units)
    {
        // Up to 128 rows, x (and dz in dx = dz·w) is read where it lies instead of packed: the same FMAs in the same
        // order, on every vector instruction set, per call and over prepacked weights, one core and two.
        float[] x = Support.Random(batch * inputs, 21), w = Support.Random(units * inputs, 22), b = Support.Random(units, 23);
        float[] dz = Support.Random(batch * units, 24);
        foreach (KernelIsa isa in Support.Isas().Where(i => i != KernelIsa.Scalar))
            foreach (bool threads in new[] { false, true })
            {
                float[] Run(bool inPlace, bool prepacked)
                {
                    var y = new float[batch * units];
                    var z = new float[batch * units];
                    var dx = new float[batch * inputs];
                    var dw = new float[units * inputs];
                    bool saved = Gemm.InPlaceA;
                    Gemm.InPlaceA = inPlace;
                    try
                    {
                        Support.With(isa, threads, () =>
                        {
                            if (prepacked) Dense.Forward<Relu>(y, default, x, w, b, batch, inputs, units, new PackedWeights(1), 0);
                            else Dense.Forward<Relu>(y, z, x, w, b, batch, inputs, units);
                            Dense.Backward(dx, dw, default, dz, x, w, batch, inputs, units);
                        });
                    }
                    finally { Gemm.InPlaceA = saved; }
                    return [.. y, .. z, .. dx];
                }
                foreach (bool prepacked in new[] { false, true })
                {
                    float[] packed = Run(inPlace: false, prepacked), inPlace = Run(inPlace: true, prepacked);
                    int differ = packed.Zip(inPlace).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
                    Assert.True(differ == 0, $"{isa}, {(threads ? 2 : 1)} core(s), {(prepacked ? "prepacked" : "per call")}: {differ} values differ");
                }
            }
    }

    [Fact]
    public void Forward_writes_only_its_outputs()
    {
        // 13 × 45 × 37: edges in every direction; a guard band after y and z must stay untouched.
        const int batch = 13, inputs = 45, units = 37;
        float[] x = Support.Random(batch * inputs, 10), w = Support.Random(units * inputs, 11), b = Support.Random(units, 12);
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[batch * units + 40];
            var z = new float[batch * units + 40];
            Array.Fill(y, 1234f); Array.Fill(z, 1234f);
            Support.With(isa, true, () => Dense.Forward<Relu>(y, z, x, w, b, batch, inputs, units));
            for (int i = batch * units; i < y.Length; i++)
            {
                Assert.Equal(1234f, y[i]);
                Assert.Equal(1234f, z[i]);
            }
        }
    }

    [Fact]
    public void Short_spans_are_rejected()
    {
        float[] x = new float[6], w = new float[6], b = new float[3], y = new float[6];
        Assert.Throws<ArgumentException>(() => Dense.Forward<Relu>(new float[5], default, x, w, b, 2, 3, 3));
        Assert.Throws<ArgumentException>(() => Dense.Forward<Relu>(y, default, x, new float[8], b, 2, 3, 3));
        Assert.Throws<ArgumentException>(() => Dense.Forward<Relu>(y, new float[2], x, w, b, 2, 3, 3));
        Assert.Throws<ArgumentException>(() => Dense.Backward(new float[5], new float[9], b, y, x, w, 2, 3, 3));
        Assert.Throws<ArgumentException>(() => Dense.Backward(default, new float[8], b, y, x, w, 2, 3, 3));
    }

    [Fact]
    public void L2_adds_gradient_and_returns_penalty()
    {
        float[] w = Support.Random(1001, 13), dw = Support.Random(1001, 14);
        double[] expectedDw = new double[w.Length], scale = new double[w.Length];
        double penalty = 0;
        for (int i = 0; i < w.Length; i++)
        {
            expectedDw[i] = dw[i] + 2 * 0.01 * w[i];
            scale[i] = Math.Abs(dw[i]) + Math.Abs(0.02 * w[i]);
            penalty += (double)w[i] * w[i];
        }
        float got = Dense.L2(dw, w, 0.01f);
        Support.Close(dw, expectedDw, scale, 1e-6, 1e-7, "L2 dw");
        Support.Close([got], [0.01 * penalty], [0.01 * penalty], 1e-5, 0, "L2 penalty");
    }
}
