using Compiled.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using G = Compiled.Gpu.CompilerServices;

namespace Compiled.Gpu.Tests;

/// <summary>
/// Every kernel against the CPU reference kernels (Compiled.CompilerServices.*) on small odd shapes that cross the 64×64 tile and
/// 16-deep slab edges: batch 70, 37 inputs (38 columns with the bias), 67 units.
/// </summary>
public class KernelTests(ITestOutputHelper output)
{
    private const int Batch = 70, In = 37, Units = 67;
    private const double Tolerance = 2e-5;

    // Thin kernels with literal sizes, as the generator writes them.
    private static void DenseForwardK<TAct>(ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y, ArrayView<float> z, int batch)
        where TAct : struct, G.IGpuActivation
        => G.Dense.Forward<TAct>(y, z, x, w, b, batch, In, Units, true);

    private static void DenseBackwardK<TAct>(ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz,
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> prevOut, ArrayView<float> prevPre, int batch) where TAct : struct, G.IGpuActivation
        => G.Dense.Backward<TAct>(dx, dw, db, dz, x, w, prevOut, prevPre, batch, In, Units);

    private static void DenseBackwardWeightsK(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x, int batch)
        => G.Dense.BackwardWeights(dw, db, dz, x, batch, In, Units);

    private static void ActivationBackwardK<TAct>(ArrayView<float> grad, ArrayView<float> y, ArrayView<float> z, int count)
        where TAct : struct, G.IGpuActivation
        => G.Activations.Backward<TAct>(grad, y, z, count);

    private static void SoftmaxK(ArrayView<float> z, ArrayView<float> y, int batch) => G.Activations.Softmax(y, z, batch, 7);

    private static void SoftmaxBackwardK(ArrayView<float> g, ArrayView<float> y, int batch) => G.Activations.SoftmaxBackward(g, y, batch, 7);

    private static void SparseCeK(ArrayView<float> z, ArrayView<float> t, ArrayView<float> p, ArrayView<float> d, ArrayView<float> loss, int batch)
        => G.Losses.SoftmaxCrossEntropySparse(p, d, loss, z, t, batch, 7);

    private static void CeK(ArrayView<float> z, ArrayView<float> t, ArrayView<float> p, ArrayView<float> d, ArrayView<float> loss, int batch)
        => G.Losses.SoftmaxCrossEntropy(p, d, loss, z, t, batch, 7);

    private static void BceK(ArrayView<float> z, ArrayView<float> t, ArrayView<float> p, ArrayView<float> d, ArrayView<float> loss, int batch)
        => G.Losses.SigmoidBinaryCrossEntropy(p, d, loss, z, t, batch, 7);

    private static void MseK(ArrayView<float> y, ArrayView<float> t, ArrayView<float> d, ArrayView<float> loss, int batch)
        => G.Losses.MeanSquaredError(d, loss, y, t, batch, 7);

    private static void L2K(ArrayView<float> w, ArrayView<float> dw, ArrayView<float> loss) => G.Losses.L2(dw, loss, w, 1001, 0.003f);

    public static TheoryData<string> ActivationNames => new(["Identity", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu"]);

    private static GpuDevice Device => Simulator.Device;

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void DenseForward_matches_cpu(string activation)
    {
        float[] x = Check.Random(Batch * In, 1), w = Check.Random(Units * In, 2, -0.5f, 0.5f), b = Check.Random(Units, 3);
        var yRef = new float[Batch * Units];
        var zRef = new float[Batch * Units];
        var kernel = activation switch
        {
            "Identity" => Load<G.Identity>(() => Dense.Forward<Identity>(yRef, zRef, x, w, b, Batch, In, Units)),
            "Relu" => Load<G.Relu>(() => Dense.Forward<Relu>(yRef, zRef, x, w, b, Batch, In, Units)),
            "LeakyRelu" => Load<G.LeakyRelu>(() => Dense.Forward<LeakyRelu>(yRef, zRef, x, w, b, Batch, In, Units)),
            "Sigmoid" => Load<G.Sigmoid>(() => Dense.Forward<Sigmoid>(yRef, zRef, x, w, b, Batch, In, Units)),
            "Tanh" => Load<G.Tanh>(() => Dense.Forward<Tanh>(yRef, zRef, x, w, b, Batch, In, Units)),
            "Gelu" => Load<G.Gelu>(() => Dense.Forward<Gelu>(yRef, zRef, x, w, b, Batch, In, Units)),
            _ => throw new ArgumentOutOfRangeException(nameof(activation)),
        };
        using var dx = Check.Upload(Device, x);
        using var dw = Check.Upload(Device, w);
        using var dbias = Check.Upload(Device, b);
        using var dy = Device.Allocate(Batch * Units, "y");
        using var dz = Device.Allocate(Batch * Units, "z");
        kernel(G.Launch.DenseForward(Batch, Units), dx.View, dw.View, dbias.View, dy.View, dz.View, Batch);
        Device.Synchronize();
        Check.Close(output, $"Dense.Forward<{activation}> z", zRef, Check.Download(dz, Batch * Units), Tolerance);
        Check.Close(output, $"Dense.Forward<{activation}> y", yRef, Check.Download(dy, Batch * Units), Tolerance);

        static Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> Load<TAct>(Action cpu)
            where TAct : struct, G.IGpuActivation
        {
            cpu();
            return Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
                DenseForwardK<TAct>);
        }
    }

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void DenseBackward_with_fused_activation_backward_matches_cpu(string activation)
    {
        float[] prevPre = Check.Random(Batch * In, 11, -2f, 2f), w = Check.Random(Units * In, 12, -0.5f, 0.5f), dz = Check.Random(Batch * Units, 13);
        var prevOut = new float[Batch * In];
        float[] dwRef = new float[Units * In], dbRef = new float[Units], dxRef = new float[Batch * In];
        var kernel = activation switch
        {
            "Identity" => Load<G.Identity, Identity>(),
            "Relu" => Load<G.Relu, Relu>(),
            "LeakyRelu" => Load<G.LeakyRelu, LeakyRelu>(),
            "Sigmoid" => Load<G.Sigmoid, Sigmoid>(),
            "Tanh" => Load<G.Tanh, Tanh>(),
            "Gelu" => Load<G.Gelu, Gelu>(),
            _ => throw new ArgumentOutOfRangeException(nameof(activation)),
        };
        using var dPrevOut = Check.Upload(Device, prevOut);
        using var dPrevPre = Check.Upload(Device, prevPre);
        using var dW = Check.Upload(Device, w);
        using var dDz = Check.Upload(Device, dz);
        using var gW = Device.Allocate(Units * In, "dw");
        using var gB = Device.Allocate(Units, "db");
        using var gX = Device.Allocate(Batch * In, "dx");
        kernel(G.Launch.DenseBackward(Batch, In, Units), gX.View, gW.View, gB.View, dDz.View, dPrevOut.View, dW.View, dPrevOut.View, dPrevPre.View, Batch);
        Device.Synchronize();
        Check.Close(output, $"Dense.Backward dw", dwRef, Check.Download(gW, Units * In), Tolerance);
        Check.Close(output, $"Dense.Backward db", dbRef, Check.Download(gB, Units), Tolerance);
        Check.Close(output, $"Dense.Backward dx ⊙ {activation}'", dxRef, Check.Download(gX, Batch * In), Tolerance);

        Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> Load<TGpu, TCpu>()
            where TGpu : struct, G.IGpuActivation where TCpu : struct, IActivation
        {
            Activations.Forward<TCpu>(prevOut, prevPre); // x of this layer is the previous layer's output
            Dense.Backward(dxRef, dwRef, dbRef, dz, prevOut, w, Batch, In, Units);
            Activations.Backward<TCpu>(dxRef, prevOut, prevPre, dxRef.Length);
            return Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
                DenseBackwardK<TGpu>);
        }
    }

    [Fact]
    public void DenseBackwardWeights_matches_cpu()
    {
        float[] x = Check.Random(Batch * In, 21), w = Check.Random(Units * In, 22), dz = Check.Random(Batch * Units, 23);
        float[] dwRef = new float[Units * In], dbRef = new float[Units];
        Dense.Backward(default, dwRef, dbRef, dz, x, w, Batch, In, Units);
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DenseBackwardWeightsK);
        using var dX = Check.Upload(Device, x);
        using var dDz = Check.Upload(Device, dz);
        using var gW = Device.Allocate(Units * In, "dw");
        using var gB = Device.Allocate(Units, "db");
        kernel(G.Launch.DenseBackwardWeights(In, Units), gW.View, gB.View, dDz.View, dX.View, Batch);
        Device.Synchronize();
        Check.Close(output, "Dense.BackwardWeights dw", dwRef, Check.Download(gW, Units * In), Tolerance);
        Check.Close(output, "Dense.BackwardWeights db", dbRef, Check.Download(gB, Units), Tolerance);
    }

    [Fact]
    public void ActivationBackward_elementwise_matches_cpu()
    {
        const int count = 1001;
        float[] z = Check.Random(count, 31, -3f, 3f), grad = Check.Random(count, 32);
        foreach (var (name, cpu, kernel) in new (string, Action<float[], float[]>, Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>)[]
        {
            ("Relu", (g, y) => { Activations.Forward<Relu>(y, z); Activations.Backward<Relu>(g, y, z, g.Length); },
                Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ActivationBackwardK<G.Relu>)),
            ("Gelu", (g, y) => { Activations.Forward<Gelu>(y, z); Activations.Backward<Gelu>(g, y, z, g.Length); },
                Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ActivationBackwardK<G.Gelu>)),
            ("Sigmoid", (g, y) => { Activations.Forward<Sigmoid>(y, z); Activations.Backward<Sigmoid>(g, y, z, g.Length); },
                Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ActivationBackwardK<G.Sigmoid>)),
        })
        {
            float[] expected = (float[])grad.Clone(), y = new float[count];
            cpu(expected, y);
            using var dG = Check.Upload(Device, grad);
            using var dY = Check.Upload(Device, y);
            using var dZ = Check.Upload(Device, z);
            kernel(G.Launch.Elementwise(count), dG.View, dY.View, dZ.View, count);
            Device.Synchronize();
            Check.Close(output, $"Activations.Backward<{name}>", expected, Check.Download(dG, count), Tolerance);
        }
    }

    [Fact]
    public void Softmax_and_its_backward_match_cpu()
    {
        const int batch = 300, n = 7;
        float[] z = Check.Random(batch * n, 41, -20f, 20f), grad = Check.Random(batch * n, 42);
        var yRef = new float[batch * n];
        Activations.Softmax(yRef, z, batch, n);
        float[] gRef = (float[])grad.Clone();
        Activations.SoftmaxBackward(gRef, yRef, batch, n);

        using var dZ = Check.Upload(Device, z);
        using var dY = Device.Allocate(batch * n, "y");
        using var dG = Check.Upload(Device, grad);
        Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(SoftmaxK)(G.Launch.Rows(batch), dZ.View, dY.View, batch);
        Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(SoftmaxBackwardK)(G.Launch.Rows(batch), dG.View, dY.View, batch);
        Device.Synchronize();
        Check.Close(output, "Softmax", yRef, Check.Download(dY, batch * n), Tolerance);
        Check.Close(output, "SoftmaxBackward", gRef, Check.Download(dG, batch * n), Tolerance);
    }

    [Theory]
    [InlineData("SparseCE")]
    [InlineData("CE")]
    [InlineData("BCE")]
    public void Fused_losses_match_cpu(string loss)
    {
        const int batch = 300, n = 7; // more rows than the group's 256 threads
        float[] z = Check.Random(batch * n, 51, -8f, 8f);
        float[] t = loss switch
        {
            "SparseCE" => Check.Labels(batch, n, 52),
            "CE" => Normalised(Check.Random(batch * n, 53, 0f, 1f), batch, n),
            _ => Check.Random(batch * n, 54, 0f, 1f),
        };
        float[] pRef = new float[batch * n], dRef = new float[batch * n];
        float lossRef = loss switch
        {
            "SparseCE" => Losses.SoftmaxCrossEntropySparse(pRef, dRef, z, t, batch, n),
            "CE" => Losses.SoftmaxCrossEntropy(pRef, dRef, z, t, batch, n),
            _ => Losses.SigmoidBinaryCrossEntropy(pRef, dRef, z, t, batch, n),
        };
        var kernel = Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
            loss switch { "SparseCE" => SparseCeK, "CE" => CeK, _ => BceK });
        using var dZ = Check.Upload(Device, z);
        using var dT = Check.Upload(Device, t);
        using var dP = Device.Allocate(batch * n, "p");
        using var dD = Device.Allocate(batch * n, "d");
        using var dL = Device.Allocate(GpuTwin.LossSlotSize, "loss");
        kernel(G.Launch.Loss, dZ.View, dT.View, dP.View, dD.View, dL.View, batch);
        Device.Synchronize();
        Check.Close(output, $"{loss} probabilities", pRef, Check.Download(dP, batch * n), Tolerance);
        Check.Close(output, $"{loss} gradient", dRef, Check.Download(dD, batch * n), Tolerance);
        float[] stats = Check.Download(dL, 2);
        Check.Close(output, $"{loss} loss", lossRef, stats[0], 1e-5);
        double correctRef = Correct(loss, pRef, t, batch, n);
        output.WriteLine($"{loss} samples right: expected {correctRef}, got {stats[1]}");
        Assert.True(correctRef > 0);
        Assert.Equal(correctRef, stats[1], 3);

        static float[] Normalised(float[] a, int rows, int cols)
        {
            for (int r = 0; r < rows; r++)
            {
                float s = 0;
                for (int i = 0; i < cols; i++) s += a[r * cols + i];
                for (int i = 0; i < cols; i++) a[r * cols + i] /= s;
            }
            return a;
        }
    }

    /// <summary>The CPU trainer's count of samples classified right (Metrics.Correct, written out: it is internal).</summary>
    private static double Correct(string loss, float[] probs, float[] targets, int batch, int n)
    {
        double correct = 0;
        for (int r = 0; r < batch; r++)
        {
            var p = probs.AsSpan(r * n, n);
            if (loss == "SparseCE") correct += ArgMax(p) == (int)targets[r] ? 1 : 0;
            else if (loss == "CE") correct += ArgMax(p) == ArgMax(targets.AsSpan(r * n, n)) ? 1 : 0;
            else for (int i = 0; i < n; i++) correct += (p[i] > 0.5f == targets[r * n + i] > 0.5f) ? 1.0 / n : 0;
        }
        return correct;

        static int ArgMax(ReadOnlySpan<float> v)
        {
            int best = 0;
            for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
            return best;
        }
    }

    [Fact]
    public void MeanSquaredError_and_L2_match_cpu()
    {
        const int batch = 300, n = 7, w = 1001;
        float[] y = Check.Random(batch * n, 61), t = Check.Random(batch * n, 62);
        var dRef = new float[batch * n];
        float lossRef = Losses.MeanSquaredError(dRef, y, t, batch, n);
        float[] weights = Check.Random(w, 63), dwRef = Check.Random(w, 64);
        float[] dwStart = (float[])dwRef.Clone();
        lossRef += Dense.L2(dwRef, weights, 0.003f);

        using var dY = Check.Upload(Device, y);
        using var dT = Check.Upload(Device, t);
        using var dD = Device.Allocate(batch * n, "d");
        using var dL = Device.Allocate(GpuTwin.LossSlotSize, "loss");
        using var dW = Check.Upload(Device, weights);
        using var dDw = Check.Upload(Device, dwStart);
        Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(MseK)(
            G.Launch.Loss, dY.View, dT.View, dD.View, dL.View, batch);
        Device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>>(L2K)(G.Launch.Loss, dW.View, dDw.View, dL.View);
        Device.Synchronize();
        Check.Close(output, "MSE gradient", dRef, Check.Download(dD, batch * n), Tolerance);
        Check.Close(output, "L2 gradient", dwRef, Check.Download(dDw, w), Tolerance);
        Check.Close(output, "MSE + L2 loss", lossRef, Check.Download(dL, 1)[0], 1e-5);
    }

    [Fact]
    public void GpuMath_matches_MathF_over_a_wide_range()
    {
        // The CPU accelerator runs these as .NET code; the point is the formulas (range reduction, tails, small |x|).
        double worstExp = 0, worstTanh = 0, worstLog = 0;
        for (float x = -40f; x <= 40f; x += 0.0137f)
        {
            worstExp = Math.Max(worstExp, Math.Abs(G.GpuMath.Exp(x) - MathF.Exp(x)) / MathF.Exp(x));
            worstTanh = Math.Max(worstTanh, Math.Abs(G.GpuMath.Tanh(x) - MathF.Tanh(x)));
            float p = MathF.Abs(x) + 1e-3f;
            worstLog = Math.Max(worstLog, Math.Abs(G.GpuMath.Log(p) - MathF.Log(p)));
        }
        output.WriteLine($"exp max rel error {worstExp:E2}, tanh max abs error {worstTanh:E2}, log max abs error {worstLog:E2}");
        Assert.True(worstExp < 5e-6, $"exp {worstExp}");
        Assert.True(worstTanh < 2e-7, $"tanh {worstTanh}");
        Assert.True(worstLog < 1e-6, $"log {worstLog}");
        Assert.Equal(0f, G.GpuMath.Sigmoid(-200f));
        Assert.Equal(1f, G.GpuMath.Sigmoid(200f));
    }
}
