using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// The fused convolution + max pooling (<see cref="Conv2D.ForwardMaxPool{TAct}"/>, <see cref="Conv2D.BackwardWeightsMaxPool{TAct}"/>)
/// against the separate calls it replaces (convolution, pooling; pooling backward, activation derivative, weight gradient),
/// bit for bit, with the planar kernels forced (the fused pass) and forbidden (the separate calls inside), on every
/// instruction set and on one and two cores. The separate calls are checked against the oracle in <see cref="ConvTests"/>
/// and <see cref="PoolingTests"/>.
/// </summary>
[Collection(nameof(CpuKernels))]
public class ConvPoolTests
{
    // h, w, c, kh, kw, filters, same, pool h, pool w, pool stride y, pool stride x, batch, integer data (ties in the windows):
    // LeNet-5's conv1 + pool1, odd outputs (the last row and column not pooled), a non-square window, filters past one
    // 6-row tile, overlapping windows (never fused: the separate calls run).
    public static TheoryData<int, int, int, int, int, int, bool, int, int, int, int, int, bool> Shapes => new()
    {
        { 28, 28, 1, 5, 5, 6, true, 2, 2, 2, 2, 5, false },
        { 28, 28, 1, 5, 5, 6, true, 2, 2, 2, 2, 3, true },
        { 9, 7, 2, 3, 4, 5, true, 2, 2, 2, 2, 3, false },
        { 12, 12, 3, 3, 3, 7, false, 2, 3, 2, 3, 4, true },
        { 11, 10, 1, 3, 3, 13, true, 3, 3, 3, 3, 2, false },
        { 10, 10, 2, 3, 3, 4, true, 3, 3, 2, 2, 2, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fused_conv_and_max_pool_equal_the_separate_calls(int h, int w, int c, int kh, int kw, int f, bool same,
        int ph, int pw, int sy, int sx, int batch, bool integers)
    {
        var s = ConvTests.Shape(h, w, c, kh, kw, f, 1, 1, same);
        var p = new Pool2DShape(s.OutHeight, s.OutWidth, f, ph, pw, sy, sx, 0, 0,
            Conv2DShape.OutputSize(s.OutHeight, ph, sy, false), Conv2DShape.OutputSize(s.OutWidth, pw, sx, false));
        Check<Relu>(s, p, batch, integers);
        Check<Tanh>(s, p, batch, integers);
        Check<Identity>(s, p, batch, integers);
    }

    private static float[] Data(int n, int seed, bool integers)
    {
        float[] a = Support.Random(n, seed);
        if (integers)
            for (int i = 0; i < a.Length; i++) a[i] = MathF.Round(2 * a[i]); // -2..2: exact sums, many equal maxima
        return a;
    }

    private static void Check<TAct>(Conv2DShape s, Pool2DShape p, int batch, bool integers) where TAct : struct, IActivation
    {
        float[] x = Data(batch * s.InSize, 31, integers), wt = Data(s.WeightSize, 32, integers), b = Data(s.Filters, 33, integers);
        float[] dPooled = Support.Random(batch * p.OutSize, 34);
        int saved = Conv2D.PlanarMode;
        try
        {
            foreach (int mode in new[] { 1, -1 })
            {
                Conv2D.PlanarMode = mode;
                foreach (KernelIsa isa in Support.Isas())
                    foreach (bool threads in new[] { false, true })
                    {
                        string what = $"{typeof(TAct).Name} {s} pool {p} batch {batch} {(mode > 0 ? "planar" : "channel")} {isa}{(threads ? " 2 cores" : "")}";
                        // The separate calls.
                        float[] y = new float[batch * s.OutSize], pooled = new float[batch * p.OutSize], dy = new float[y.Length];
                        int[] argmax = new int[pooled.Length];
                        float[] dw = new float[s.WeightSize], db = new float[s.Filters];
                        // The fused calls, into buffers that start as garbage (the fused pass must not read them).
                        float[] y2 = Support.Random(y.Length, 35), pooled2 = Support.Random(pooled.Length, 36), dy2 = Support.Random(y.Length, 37);
                        int[] argmax2 = new int[pooled.Length];
                        Array.Fill(argmax2, 12345);
                        const int guard = 16;
                        float[] dw2 = Support.Random(s.WeightSize + guard, 38), db2 = Support.Random(s.Filters + guard, 39);
                        float[] dwTail = dw2[s.WeightSize..], dbTail = db2[s.Filters..];
                        Support.With(isa, threads, () =>
                        {
                            Conv2D.Forward<TAct>(y, default, x, wt, b, batch, s);
                            Pooling.MaxForward(pooled, argmax, y, batch, p);
                            Pooling.MaxBackward(dy, dPooled, argmax, batch, p);
                            Activations.Backward<TAct>(dy, y, default, y.Length);
                            Conv2D.BackwardWeights(dw, db, dy, x, batch, s);

                            Conv2D.ForwardMaxPool<TAct>(pooled2, argmax2, y2, x, wt, b, batch, s, p);
                            Conv2D.BackwardWeightsMaxPool<TAct>(dw2, db2, dy2, dPooled, argmax2, pooled2, y2, x, batch, s, p);
                        });
                        Assert.True(Support.BitEqual(pooled, pooled2), what + ": pooled output differs");
                        Assert.Equal(argmax, argmax2);
                        Assert.True(Support.BitEqual(dw, dw2.AsSpan(0, s.WeightSize)), what + ": dw differs");
                        Assert.True(Support.BitEqual(db, db2.AsSpan(0, s.Filters)), what + ": db differs");
                        Assert.True(Support.BitEqual(dwTail, dw2.AsSpan(s.WeightSize)) && Support.BitEqual(dbTail, db2.AsSpan(s.Filters)),
                            what + ": wrote past dw or db");
                        float maxDw = dw.Max(Math.Abs);
                        Support.Log($"{what}: fused = separate bit for bit ({pooled.Length} pooled values, max |dw| {maxDw:E2})");
                    }
            }
        }
        finally { Conv2D.PlanarMode = saved; }
    }
}
