using System.Reflection;
using Compiled.CompilerServices;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using G = Compiled.Gpu.CompilerServices;

namespace Compiled.Gpu.Tests;

/// <summary>
/// The convolution, pooling, flatten and batch-norm device functions against naive double-precision loops written here
/// from the definitions (NHWC activations, OIHW weights, output pixel (oy, ox) reading input (oy·sy − pt + i, ox·sx − pl + j),
/// zeros outside; the backward references scatter where the kernels gather), on tiny shapes: the CPU accelerator is slow.
/// </summary>
public class CnnKernelTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    private static GpuDevice Device => Simulator.Device;

    // Two geometries: "valid", stride 1; and Keras "same", stride 2, a non-square kernel (pad 1 above, 0 left).
    public static TheoryData<int> ConvCases => new([0, 1]);

    private static Conv2DShape ConvShape(int which) => which == 0
        ? new Conv2DShape(5, 6, 2, 3, 3, 3, 1, 1, 0, 0, 3, 4)
        : new Conv2DShape(7, 5, 3, 3, 2, 4, 2, 2, Conv2DShape.PadBefore(7, 3, 2, true), Conv2DShape.PadBefore(5, 2, 2, true),
            Conv2DShape.OutputSize(7, 3, 2, true), Conv2DShape.OutputSize(5, 2, 2, true));

    // 2×2 / 2 "valid"; and 3×3 / 2 "same" on 5×5 (overlapping windows, one padded row and column each side).
    public static TheoryData<int> PoolCases => new([0, 1]);

    private static Pool2DShape PoolShape(int which) => which == 0
        ? new Pool2DShape(4, 6, 3, 2, 2, 2, 2, 0, 0, 2, 3)
        : new Pool2DShape(5, 5, 2, 3, 3, 2, 2, 1, 1, 3, 3);

    private const int Batch = 2;

    // ---- thin kernels, as the generator writes them, except that the geometry is a kernel argument: a Conv2DShape or
    // Pool2DShape cannot be built inside a kernel, since its constructor validates and throws, and ILGPU rejects `throw`
    // ("Not supported IL instruction of type 'Throw'"). The generator can pass it as SpecializedValue<Conv2DShape>, which
    // ILGPU folds in as constants per distinct value (ConvForwardSpecializedK), or the shapes need a constructor that
    // does not check. ----

    private static void ConvForwardK<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b,
        int batch, Conv2DShape s) where TAct : struct, G.IGpuActivation
        => G.Conv2D.Forward<TAct>(y, z, x, w, b, batch, s, true);

    // The geometry as an ILGPU specialisation constant: ILGPU compiles the kernel once per distinct value, with every size
    // folded in, as if the generator had written literals (Conv2DShape is unmanaged and IEquatable, as SpecializedValue needs).
    private static void ConvForwardSpecializedK(ArrayView<float> y, ArrayView<float> z, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b,
        int batch, SpecializedValue<Conv2DShape> s)
        => G.Conv2D.Forward<G.Relu>(y, z, x, w, b, batch, s.Value, false);

    private static void ConvBackwardDataK(ArrayView<float> dx, ArrayView<float> dz, ArrayView<float> w, int batch, Conv2DShape s)
        => G.Conv2D.BackwardData(dx, dz, w, batch, s);

    private static void ConvBackwardWeightsK(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x, int batch, Conv2DShape s)
        => G.Conv2D.BackwardWeights(dw, db, dz, x, batch, s);

    private static void MaxForwardK(ArrayView<float> y, ArrayView<int> argmax, ArrayView<float> x, int batch, Pool2DShape s)
        => G.Pooling.MaxForward(y, argmax, x, batch, s);

    private static void MaxBackwardK(ArrayView<float> dx, ArrayView<float> dy, ArrayView<int> argmax, int batch, Pool2DShape s)
        => G.Pooling.MaxBackward(dx, dy, argmax, batch, s);

    private static void AvgForwardK(ArrayView<float> y, ArrayView<float> x, int batch, Pool2DShape s) => G.Pooling.AvgForward(y, x, batch, s);

    private static void AvgBackwardK(ArrayView<float> dx, ArrayView<float> dy, int batch, Pool2DShape s) => G.Pooling.AvgBackward(dx, dy, batch, s);

    private static void GapForwardK(ArrayView<float> y, ArrayView<float> x, int batch) => G.Pooling.GlobalAverageForward(y, x, batch, 3, 4, 5);

    private static void GapBackwardK(ArrayView<float> dx, ArrayView<float> dy, int batch) => G.Pooling.GlobalAverageBackward(dx, dy, batch, 3, 4, 5);

    private static void FlattenK(ArrayView<float> y, ArrayView<float> x, int batch) => G.Flatten.Forward(y, x, batch, 3, 4, 5);

    private static void FlattenBackK(ArrayView<float> dx, ArrayView<float> dy, int batch) => G.Flatten.Backward(dx, dy, batch, 3, 4, 5);

    private const int BnRows = 18, BnChannels = 5; // e.g. batch 2 × 3×3 pixels after a convolution

    private static void BnTrainK<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> rm,
        ArrayView<float> rv, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta) where TAct : struct, G.IGpuActivation
        => G.BatchNorm.ForwardTraining<TAct>(y, z, mean, invStd, rm, rv, x, gamma, beta, BnRows, BnChannels, 0.1f, 1e-5f, true);

    private static void BnInferK(ArrayView<float> y, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> rm, ArrayView<float> rv)
        => G.BatchNorm.ForwardInference<G.Tanh>(y, x, gamma, beta, rm, rv, BnRows, BnChannels, 1e-5f);

    private static void BnBackwardK(ArrayView<float> dx, ArrayView<float> dg, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> gamma)
        => G.BatchNorm.Backward(dx, dg, db, dz, x, mean, invStd, gamma, BnRows, BnChannels, true);

    // ---- convolution ----

    public static TheoryData<int, string> ConvActivationCases =>
        new() { { 0, "Relu" }, { 1, "Relu" }, { 0, "Identity" }, { 1, "Sigmoid" }, { 1, "Gelu" } };

    [Theory]
    [MemberData(nameof(ConvActivationCases))]
    public void Conv2D_forward_with_bias_and_activation_matches_reference(int which, string activation)
    {
        Conv2DShape s = ConvShape(which);
        float[] x = Check.Random(Batch * s.InSize, 1), w = Check.Random(s.WeightSize, 2, -0.5f, 0.5f), b = Check.Random(s.Filters, 3);
        double[] z = ConvRef(x, w, b, Batch, s);
        var kernel = activation switch
        {
            "Identity" => Load<G.Identity>(),
            "Relu" => Load<G.Relu>(),
            "Sigmoid" => Load<G.Sigmoid>(),
            "Gelu" => Load<G.Gelu>(),
            _ => throw new ArgumentOutOfRangeException(nameof(activation)),
        };
        Func<double, double> f = activation switch
        {
            "Identity" => v => v,
            "Relu" => v => Math.Max(v, 0),
            "Sigmoid" => v => 1 / (1 + Math.Exp(-v)),
            _ => v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
        };
        using var dX = Check.Upload(Device, x);
        using var dW = Check.Upload(Device, w);
        using var dB = Check.Upload(Device, b);
        using var dY = Device.Allocate(Batch * s.OutSize, "y");
        using var dZ = Device.Allocate(Batch * s.OutSize, "z");
        kernel(G.Conv2D.ForwardLaunch(Batch, s), dY.View, dZ.View, dX.View, dW.View, dB.View, Batch, s);
        Device.Synchronize();
        Check.Close(output, $"Conv2D.Forward z {s}", F(z), Check.Download(dZ, Batch * s.OutSize), Tolerance);
        Check.Close(output, $"Conv2D.Forward<{activation}> y {s}", F(z.Select(f).ToArray()), Check.Download(dY, Batch * s.OutSize), Tolerance);

        static Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, Conv2DShape> Load<TAct>()
            where TAct : struct, G.IGpuActivation
            => Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, Conv2DShape>(
                ConvForwardK<TAct>);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D_forward_takes_its_geometry_as_a_specialized_constant(int which)
    {
        Conv2DShape s = ConvShape(which);
        float[] x = Check.Random(Batch * s.InSize, 4), w = Check.Random(s.WeightSize, 5, -0.5f, 0.5f), b = Check.Random(s.Filters, 6);
        double[] z = ConvRef(x, w, b, Batch, s);
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
            SpecializedValue<Conv2DShape>>(ConvForwardSpecializedK);
        using var dX = Check.Upload(Device, x);
        using var dW = Check.Upload(Device, w);
        using var dB = Check.Upload(Device, b);
        using var dY = Device.Allocate(Batch * s.OutSize, "y");
        kernel(G.Conv2D.ForwardLaunch(Batch, s), dY.View, dY.View, dX.View, dW.View, dB.View, Batch, SpecializedValue.New(s));
        Device.Synchronize();
        Check.Close(output, $"Conv2D.Forward<Relu> (specialized geometry) y {s}", F(z.Select(v => Math.Max(v, 0)).ToArray()),
            Check.Download(dY, Batch * s.OutSize), Tolerance);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D_backward_data_matches_reference(int which)
    {
        Conv2DShape s = ConvShape(which);
        float[] dz = Check.Random(Batch * s.OutSize, 7), w = Check.Random(s.WeightSize, 8, -0.5f, 0.5f);
        var dxRef = new double[Batch * s.InSize];
        ForEachTap(Batch, s, (xi, zi, wi) => dxRef[xi] += (double)dz[zi] * w[wi]);
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, Conv2DShape>(ConvBackwardDataK);
        using var dDz = Check.Upload(Device, dz);
        using var dW = Check.Upload(Device, w);
        using var dDx = Check.Upload(Device, Check.Random(Batch * s.InSize, 9)); // garbage: must be overwritten
        kernel(G.Conv2D.BackwardDataLaunch(Batch, s), dDx.View, dDz.View, dW.View, Batch, s);
        Device.Synchronize();
        Check.Close(output, $"Conv2D.BackwardData dx {s}", F(dxRef), Check.Download(dDx, Batch * s.InSize), Tolerance);
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D_backward_weights_and_bias_match_reference(int which)
    {
        Conv2DShape s = ConvShape(which);
        float[] dz = Check.Random(Batch * s.OutSize, 10), x = Check.Random(Batch * s.InSize, 11);
        var dwRef = new double[s.WeightSize];
        var dbRef = new double[s.Filters];
        ForEachTap(Batch, s, (xi, zi, wi) => dwRef[wi] += (double)dz[zi] * x[xi]);
        for (int i = 0; i < dz.Length; i++) dbRef[i % s.Filters] += dz[i];
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, Conv2DShape>(ConvBackwardWeightsK);
        using var dDz = Check.Upload(Device, dz);
        using var dX = Check.Upload(Device, x);
        using var dW = Check.Upload(Device, Check.Random(s.WeightSize, 12));
        using var dB = Check.Upload(Device, Check.Random(s.Filters, 13));
        kernel(G.Conv2D.BackwardWeightsLaunch(s), dW.View, dB.View, dDz.View, dX.View, Batch, s);
        Device.Synchronize();
        Check.Close(output, $"Conv2D.BackwardWeights dw {s}", F(dwRef), Check.Download(dW, s.WeightSize), Tolerance);
        Check.Close(output, $"Conv2D.BackwardWeights db {s}", F(dbRef), Check.Download(dB, s.Filters), Tolerance);
    }

    // ---- pooling ----

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void MaxPool_forward_and_backward_match_reference(int which)
    {
        Pool2DShape s = PoolShape(which);
        float[] x = Check.Random(Batch * s.InSize, 20), dy = Check.Random(Batch * s.OutSize, 21);
        var yRef = new float[Batch * s.OutSize];
        var argRef = new int[Batch * s.OutSize];
        var dxRef = new double[Batch * s.InSize];
        for (int n = 0; n < Batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int c = 0; c < s.Channels; c++)
                    {
                        int o = ((n * s.OutHeight + oy) * s.OutWidth + ox) * s.Channels + c;
                        float best = float.NegativeInfinity;
                        int at = -1;
                        foreach (var (iy, ix) in Window(s, oy, ox))
                        {
                            float v = x[((n * s.InHeight + iy) * s.InWidth + ix) * s.Channels + c];
                            if (v > best) { best = v; at = iy * s.InWidth + ix; }
                        }
                        yRef[o] = best;
                        argRef[o] = at;
                        dxRef[(n * s.InHeight * s.InWidth + at) * s.Channels + c] += dy[o];
                    }
        var forward = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, Pool2DShape>(MaxForwardK);
        var backward = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int, Pool2DShape>(MaxBackwardK);
        using var dX = Check.Upload(Device, x);
        using var dDy = Check.Upload(Device, dy);
        using var dY = Device.Allocate(Batch * s.OutSize, "y");
        using var dArg = Device.Accelerator.Allocate1D<int>(Batch * s.OutSize);
        using var dDx = Check.Upload(Device, Check.Random(Batch * s.InSize, 22));
        forward(G.Pooling.ForwardLaunch(Batch, s), dY.View, dArg.View, dX.View, Batch, s);
        backward(G.Pooling.BackwardLaunch(Batch, s), dDx.View, dDy.View, dArg.View, Batch, s);
        Device.Synchronize();
        Check.Close(output, $"Pooling.MaxForward y {s}", yRef, Check.Download(dY, Batch * s.OutSize), 0);
        Assert.Equal(argRef, dArg.GetAsArray1D());
        Check.Close(output, $"Pooling.MaxBackward dx {s}", F(dxRef), Check.Download(dDx, Batch * s.InSize), Tolerance);
    }

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void AvgPool_forward_and_backward_do_not_count_padding(int which)
    {
        Pool2DShape s = PoolShape(which);
        float[] x = Check.Random(Batch * s.InSize, 30), dy = Check.Random(Batch * s.OutSize, 31);
        var yRef = new double[Batch * s.OutSize];
        var dxRef = new double[Batch * s.InSize];
        for (int n = 0; n < Batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int c = 0; c < s.Channels; c++)
                    {
                        int o = ((n * s.OutHeight + oy) * s.OutWidth + ox) * s.Channels + c;
                        var taps = Window(s, oy, ox).ToList();
                        foreach (var (iy, ix) in taps)
                        {
                            int i = ((n * s.InHeight + iy) * s.InWidth + ix) * s.Channels + c;
                            yRef[o] += (double)x[i] / taps.Count;
                            dxRef[i] += (double)dy[o] / taps.Count;
                        }
                    }
        var forward = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, Pool2DShape>(AvgForwardK);
        var backward = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, Pool2DShape>(AvgBackwardK);
        using var dX = Check.Upload(Device, x);
        using var dDy = Check.Upload(Device, dy);
        using var dY = Device.Allocate(Batch * s.OutSize, "y");
        using var dDx = Check.Upload(Device, Check.Random(Batch * s.InSize, 32));
        forward(G.Pooling.ForwardLaunch(Batch, s), dY.View, dX.View, Batch, s);
        backward(G.Pooling.BackwardLaunch(Batch, s), dDx.View, dDy.View, Batch, s);
        Device.Synchronize();
        Check.Close(output, $"Pooling.AvgForward y {s}", F(yRef), Check.Download(dY, Batch * s.OutSize), Tolerance);
        Check.Close(output, $"Pooling.AvgBackward dx {s}", F(dxRef), Check.Download(dDx, Batch * s.InSize), Tolerance);
    }

    [Fact]
    public void GlobalAveragePool_and_Flatten_match_reference()
    {
        const int h = 3, w = 4, c = 5, size = h * w * c;
        float[] x = Check.Random(Batch * size, 40), dyPool = Check.Random(Batch * c, 41), dyFlat = Check.Random(Batch * size, 42);
        var gapRef = new double[Batch * c];
        var gapBackRef = new float[Batch * size];
        var flatRef = new float[Batch * size];
        var flatBackRef = new float[Batch * size];
        for (int n = 0; n < Batch; n++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++)
                    for (int k = 0; k < c; k++)
                    {
                        int nhwc = n * size + (iy * w + ix) * c + k, nchw = n * size + (k * h + iy) * w + ix;
                        gapRef[n * c + k] += (double)x[nhwc] / (h * w);
                        gapBackRef[nhwc] = (float)((double)dyPool[n * c + k] / (h * w));
                        flatRef[nchw] = x[nhwc];
                        flatBackRef[nhwc] = dyFlat[nchw];
                    }
        var gap = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(GapForwardK);
        var gapBack = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(GapBackwardK);
        var flat = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(FlattenK);
        var flatBack = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(FlattenBackK);
        using var dX = Check.Upload(Device, x);
        using var dDyPool = Check.Upload(Device, dyPool);
        using var dDyFlat = Check.Upload(Device, dyFlat);
        using var dGap = Device.Allocate(Batch * c, "gap");
        using var dGapBack = Device.Allocate(Batch * size, "gap dx");
        using var dFlat = Device.Allocate(Batch * size, "flat");
        using var dFlatBack = Device.Allocate(Batch * size, "flat dx");
        gap(G.Pooling.GlobalAverageForwardLaunch(Batch, c), dGap.View, dX.View, Batch);
        gapBack(G.Pooling.GlobalAverageBackwardLaunch(Batch, h, w, c), dGapBack.View, dDyPool.View, Batch);
        flat(G.Flatten.ForwardLaunch(Batch, h, w, c), dFlat.View, dX.View, Batch);
        flatBack(G.Flatten.ForwardLaunch(Batch, h, w, c), dFlatBack.View, dDyFlat.View, Batch);
        Device.Synchronize();
        Check.Close(output, "Pooling.GlobalAverageForward y", F(gapRef), Check.Download(dGap, Batch * c), Tolerance);
        Check.Close(output, "Pooling.GlobalAverageBackward dx", gapBackRef, Check.Download(dGapBack, Batch * size), Tolerance);
        Check.Close(output, "Flatten.Forward (HWC → CHW)", flatRef, Check.Download(dFlat, Batch * size), 0);
        Check.Close(output, "Flatten.Backward (CHW → HWC)", flatBackRef, Check.Download(dFlatBack, Batch * size), 0);
    }

    // ---- batch normalisation ----

    [Fact]
    public void BatchNorm_training_forward_and_backward_match_the_cpu_kernels()
    {
        float[] x = Check.Random(BnRows * BnChannels, 50, -2f, 3f), gamma = Check.Random(BnChannels, 51, 0.5f, 1.5f), beta = Check.Random(BnChannels, 52);
        float[] dz = Check.Random(BnRows * BnChannels, 53);
        float[] rmRef = Check.Random(BnChannels, 54), rvRef = Check.Random(BnChannels, 55, 0.5f, 2f);
        float[] rm0 = (float[])rmRef.Clone(), rv0 = (float[])rvRef.Clone();
        float[] yRef = new float[x.Length], zRef = new float[x.Length], meanRef = new float[BnChannels], invRef = new float[BnChannels];
        BatchNorm.ForwardTraining<Relu>(yRef, zRef, meanRef, invRef, rmRef, rvRef, x, gamma, beta, BnRows, BnChannels, 0.1f, 1e-5f);
        float[] dxRef = new float[x.Length], dgRef = new float[BnChannels], dbRef = new float[BnChannels];
        BatchNorm.Backward(dxRef, dgRef, dbRef, dz, x, meanRef, invRef, gamma, BnRows, BnChannels);

        var train = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BnTrainK<G.Relu>);
        var backward = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(BnBackwardK);
        using var dX = Check.Upload(Device, x);
        using var dGamma = Check.Upload(Device, gamma);
        using var dBeta = Check.Upload(Device, beta);
        using var dDz = Check.Upload(Device, dz);
        using var dRm = Check.Upload(Device, rm0);
        using var dRv = Check.Upload(Device, rv0);
        using var dY = Device.Allocate(x.Length, "y");
        using var dZ = Device.Allocate(x.Length, "z");
        using var dMean = Device.Allocate(BnChannels, "mean");
        using var dInv = Device.Allocate(BnChannels, "invStd");
        using var dDx = Device.Allocate(x.Length, "dx");
        using var dDg = Device.Allocate(BnChannels, "dgamma");
        using var dDb = Device.Allocate(BnChannels, "dbeta");
        train(G.BatchNorm.ChannelsLaunch(BnChannels), dY.View, dZ.View, dMean.View, dInv.View, dRm.View, dRv.View, dX.View, dGamma.View, dBeta.View);
        backward(G.BatchNorm.ChannelsLaunch(BnChannels), dDx.View, dDg.View, dDb.View, dDz.View, dX.View, dMean.View, dInv.View, dGamma.View);
        Device.Synchronize();
        Check.Close(output, "BatchNorm.ForwardTraining z", zRef, Check.Download(dZ, x.Length), Tolerance);
        Check.Close(output, "BatchNorm.ForwardTraining<Relu> y", yRef, Check.Download(dY, x.Length), Tolerance);
        Check.Close(output, "BatchNorm.ForwardTraining mean", meanRef, Check.Download(dMean, BnChannels), Tolerance);
        Check.Close(output, "BatchNorm.ForwardTraining invStd", invRef, Check.Download(dInv, BnChannels), Tolerance);
        Check.Close(output, "BatchNorm.ForwardTraining running mean", rmRef, Check.Download(dRm, BnChannels), Tolerance);
        Check.Close(output, "BatchNorm.ForwardTraining running var", rvRef, Check.Download(dRv, BnChannels), Tolerance);
        Check.Close(output, "BatchNorm.Backward dx", dxRef, Check.Download(dDx, x.Length), Tolerance);
        Check.Close(output, "BatchNorm.Backward dgamma", dgRef, Check.Download(dDg, BnChannels), Tolerance);
        Check.Close(output, "BatchNorm.Backward dbeta", dbRef, Check.Download(dDb, BnChannels), Tolerance);
    }

    [Fact]
    public void BatchNorm_inference_matches_the_cpu_kernel()
    {
        float[] x = Check.Random(BnRows * BnChannels, 60, -2f, 2f), gamma = Check.Random(BnChannels, 61, 0.5f, 1.5f), beta = Check.Random(BnChannels, 62);
        float[] rm = Check.Random(BnChannels, 63), rv = Check.Random(BnChannels, 64, 0.1f, 2f);
        var yRef = new float[x.Length];
        BatchNorm.ForwardInference<Tanh>(yRef, x, gamma, beta, rm, rv, BnRows, BnChannels, 1e-5f);
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BnInferK);
        using var dX = Check.Upload(Device, x);
        using var dGamma = Check.Upload(Device, gamma);
        using var dBeta = Check.Upload(Device, beta);
        using var dRm = Check.Upload(Device, rm);
        using var dRv = Check.Upload(Device, rv);
        kernel(G.BatchNorm.InferenceLaunch(BnRows, BnChannels), dX.View, dX.View, dGamma.View, dBeta.View, dRm.View, dRv.View); // in place
        Device.Synchronize();
        Check.Close(output, "BatchNorm.ForwardInference<Tanh> y", yRef, Check.Download(dX, x.Length), Tolerance);
    }

    // ---- every thin kernel above compiles for CUDA ----

    [Fact]
    public void Every_cnn_kernel_compiles_to_PTX_for_sm_90_without_libdevice()
    {
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_80, null);
        var kernels = typeof(CnnKernelTests).GetMethods(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(m => m.Name.EndsWith('K') && !m.Name.Contains("Specialized"))
            .Select(m => m.IsGenericMethodDefinition ? m.MakeGenericMethod(typeof(G.Gelu)) : m)
            .ToList();
        Assert.True(kernels.Count >= 14, $"found {kernels.Count} kernels");
        foreach (MethodInfo kernel in kernels)
        {
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), default);
            Assert.Contains(".entry", compiled.PTXAssembly);
            Assert.DoesNotContain(".extern", compiled.PTXAssembly);
            output.WriteLine($"{kernel.Name}: {compiled.PTXAssembly.Length:N0} chars of PTX");
        }
    }

    // ---- references ----

    private static float[] F(double[] a) => a.Select(v => (float)v).ToArray();

    /// <summary>Calls <paramref name="tap"/>(x index, y index, w index) for every in-image multiply of the convolution.</summary>
    private static void ForEachTap(int batch, Conv2DShape s, Action<int, int, int> tap)
    {
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                    for (int f = 0; f < s.Filters; f++)
                        for (int c = 0; c < s.InChannels; c++)
                            for (int i = 0; i < s.KernelHeight; i++)
                                for (int j = 0; j < s.KernelWidth; j++)
                                {
                                    int iy = oy * s.StrideY - s.PadTop + i, ix = ox * s.StrideX - s.PadLeft + j;
                                    if (iy < 0 || iy >= s.InHeight || ix < 0 || ix >= s.InWidth) continue;
                                    tap(((n * s.InHeight + iy) * s.InWidth + ix) * s.InChannels + c,
                                        ((n * s.OutHeight + oy) * s.OutWidth + ox) * s.Filters + f,
                                        ((f * s.InChannels + c) * s.KernelHeight + i) * s.KernelWidth + j);
                                }
    }

    private static double[] ConvRef(float[] x, float[] w, float[] b, int batch, Conv2DShape s)
    {
        var z = new double[batch * s.OutSize];
        for (int i = 0; i < z.Length; i++) z[i] = b[i % s.Filters];
        ForEachTap(batch, s, (xi, zi, wi) => z[zi] += (double)x[xi] * w[wi]);
        return z;
    }

    private static IEnumerable<(int Y, int X)> Window(Pool2DShape s, int oy, int ox)
    {
        for (int i = 0; i < s.PoolHeight; i++)
            for (int j = 0; j < s.PoolWidth; j++)
            {
                int iy = oy * s.StrideY - s.PadTop + i, ix = ox * s.StrideX - s.PadLeft + j;
                if (iy >= 0 && iy < s.InHeight && ix >= 0 && ix < s.InWidth) yield return (iy, ix);
            }
    }
}
