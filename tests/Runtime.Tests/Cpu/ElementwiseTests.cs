using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>Activations, softmax and the fused losses against the double oracle, on every instruction set.</summary>
[Collection(nameof(CpuKernels))]
public class ElementwiseTests
{
    public static TheoryData<string> ActivationNames => new() { "Identity", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu" };

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void Activation_forward_matches_oracle(string activation) => Dispatch(activation, new ForwardCheck());

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void Activation_backward_matches_oracle(string activation) => Dispatch(activation, new BackwardCheck());

    internal interface IGenericCheck { void Run<TAct>() where TAct : struct, IActivation; }

    internal static void Dispatch(string activation, IGenericCheck check)
    {
        switch (activation)
        {
            case "Identity": check.Run<Identity>(); break;
            case "Relu": check.Run<Relu>(); break;
            case "LeakyRelu": check.Run<LeakyRelu>(); break;
            case "Sigmoid": check.Run<Sigmoid>(); break;
            case "Tanh": check.Run<Tanh>(); break;
            case "Gelu": check.Run<Gelu>(); break;
            default: throw new ArgumentException(activation);
        }
    }

    /// <summary>Inputs over the working range, tiny values (tanh's polynomial branch), and saturating extremes; 1003 = tail.</summary>
    private static float[] Inputs()
    {
        float[] z = Support.Random(1003, 20, -6f, 6f);
        for (int i = 0; i < 100; i++) z[i] *= 0.02f;
        z[100] = 0f; z[101] = -0f; z[102] = 40f; z[103] = -40f; z[104] = 100f; z[105] = -100f; z[106] = 1e-30f; z[107] = -0.125f;
        return z;
    }

    private sealed class ForwardCheck : IGenericCheck
    {
        public void Run<TAct>() where TAct : struct, IActivation
        {
            float[] z = Inputs();
            double[] expected = z.Select(v => Oracle.Act<TAct>(v)).ToArray();
            foreach (KernelIsa isa in Support.Isas())
            {
                var y = new float[z.Length];
                Support.With(isa, false, () => Activations.Forward<TAct>(y, z));
                // |f(z)| relative error 1e-6, plus 1e-7 absolute (the vector tanh is accurate to about 6e-8 absolute).
                Support.Close(y, expected, default, 1e-6, 1e-7, $"{typeof(TAct).Name} forward {isa}");
            }
        }
    }

    private sealed class BackwardCheck : IGenericCheck
    {
        public void Run<TAct>() where TAct : struct, IActivation
        {
            float[] z = Inputs();
            float[] g = Support.Random(z.Length, 21);
            var yf = new float[z.Length];
            for (int i = 0; i < z.Length; i++) yf[i] = TAct.Apply(z[i]);
            // The oracle derivative from the definition, at double precision: central difference of f at z.
            var expected = new double[z.Length];
            var scale = new double[z.Length];
            for (int i = 0; i < z.Length; i++)
            {
                double h = 1e-6 * Math.Max(1, Math.Abs(z[i]));
                double d = Math.Abs(z[i]) < 2 * h ? OneSided<TAct>(z[i], h) : (Oracle.Act<TAct>(z[i] + h) - Oracle.Act<TAct>(z[i] - h)) / (2 * h);
                expected[i] = g[i] * d;
                scale[i] = Math.Abs(g[i]) * Math.Max(Math.Abs(d), 1);
            }
            foreach (KernelIsa isa in Support.Isas())
            {
                float[] grad = (float[])g.Clone();
                Support.With(isa, false, () => Activations.Backward<TAct>(grad, yf, TAct.NeedsPreActivation ? z : default, grad.Length));
                Support.Close(grad, expected, scale, 2e-6, 0, $"{typeof(TAct).Name} backward {isa}");
            }
        }

        // Next to the ReLU kink, a second-order one-sided difference on z's own side (at z = 0 the kernels take
        // the left slope, since y > 0 is false there).
        private static double OneSided<TAct>(double z, double h) where TAct : struct, IActivation =>
            z > 0
                ? (-3 * Oracle.Act<TAct>(z) + 4 * Oracle.Act<TAct>(z + h) - Oracle.Act<TAct>(z + 2 * h)) / (2 * h)
                : (3 * Oracle.Act<TAct>(z) - 4 * Oracle.Act<TAct>(z - h) + Oracle.Act<TAct>(z - 2 * h)) / (2 * h);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 10)]
    [InlineData(64, 10)]
    [InlineData(5, 37)]
    [InlineData(2, 1000)]
    public void Softmax_matches_oracle(int batch, int n)
    {
        float[] z = Support.Random(batch * n, 22, -8f, 8f);
        z[0] = 80f; // large logits must not overflow
        double[] expected = Oracle.Softmax(z.Select(v => (double)v).ToArray(), batch, n);
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[batch * n];
            Support.With(isa, false, () => Activations.Softmax(y, z, batch, n));
            Support.Close(y, expected, default, 2e-6, 1e-9, $"softmax {batch}x{n} {isa}");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 10)]
    [InlineData(5, 37)]
    public void SoftmaxBackward_matches_oracle(int batch, int n)
    {
        float[] y = Support.Random(batch * n, 23, 0f, 1f);
        float[] g = Support.Random(batch * n, 24);
        var expected = new double[batch * n];
        var scale = new double[batch * n];
        for (int b = 0; b < batch; b++)
        {
            double dot = 0, mag = 0;
            for (int i = 0; i < n; i++) { dot += (double)g[b * n + i] * y[b * n + i]; mag += Math.Abs((double)g[b * n + i] * y[b * n + i]); }
            for (int i = 0; i < n; i++)
            {
                expected[b * n + i] = y[b * n + i] * (g[b * n + i] - dot);
                scale[b * n + i] = y[b * n + i] * (Math.Abs(g[b * n + i]) + mag);
            }
        }
        foreach (KernelIsa isa in Support.Isas())
        {
            float[] grad = (float[])g.Clone();
            Support.With(isa, false, () => Activations.SoftmaxBackward(grad, y, batch, n));
            Support.Close(grad, expected, scale, 2e-6, 0, $"softmax backward {batch}x{n} {isa}");
        }
    }

    /// <summary>A prediction's softmax is the training loss's: the same probabilities, bit for bit, on every instruction
    /// set (the same inlined exponential and the same reductions), so a model predicts what it trained on.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 10)]
    [InlineData(5, 37)]
    public void Softmax_equals_the_sparse_losss_probabilities(int batch, int n)
    {
        float[] z = Support.Random(batch * n, 23, -8f, 8f);
        z[0] = 80f;
        float[] labels = new float[batch];
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[batch * n];
            var p = new float[batch * n];
            var d = new float[batch * n];
            Support.With(isa, false, () => Activations.Softmax(y, z, batch, n));
            Support.With(isa, false, () => Losses.SoftmaxCrossEntropySparse(p, d, z, labels, batch, n));
            Assert.True(Support.BitEqual(y, p), $"softmax {batch}x{n} {isa}: differs from the sparse loss's probabilities");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 10)]
    [InlineData(7, 37)]
    [InlineData(2048, 65)] // the char LSTM's per-step loss: two halves of rows
    public void Losses_match_oracle(int batch, int n)
    {
        float[] z = Support.Random(batch * n, 25, -5f, 5f);
        double[] zd = z.Select(v => (double)v).ToArray();
        float[] labels = Support.Random(batch, 26, 0f, n - 0.01f).Select(MathF.Floor).ToArray();
        float[] soft = Support.Random(batch * n, 27, 0f, 1f);
        float[] binary = Support.Random(batch * n, 28, 0f, 1f).Select(v => MathF.Round(v)).ToArray();
        double[] probs = Oracle.Softmax(zd, batch, n);
        double[] sig = zd.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
        foreach (KernelIsa isa in Support.Isas())
        {
            var p = new float[batch * n];
            var d = new float[batch * n];
            float loss = 0;
            Support.With(isa, false, () => loss = Losses.SoftmaxCrossEntropySparse(p, d, z, labels, batch, n));
            Support.Close([loss], [Oracle.SparseCrossEntropy(zd, labels, batch, n)], default, 1e-6, 1e-7, $"sparse CE loss {isa}");
            Support.Close(p, probs, default, 2e-6, 1e-9, $"sparse CE probs {isa}");

            Support.With(isa, false, () => loss = Losses.SoftmaxCrossEntropy(p, d, z, soft, batch, n));
            Support.Close([loss], [Oracle.CrossEntropy(zd, soft, batch, n)], default, 1e-6, 1e-7, $"CE loss {isa}");

            Support.With(isa, false, () => loss = Losses.SigmoidBinaryCrossEntropy(p, d, z, binary, batch, n));
            Support.Close([loss], [Oracle.SigmoidBce(zd, binary)], default, 1e-6, 1e-7, $"BCE loss {isa}");
            Support.Close(p, sig, default, 1e-6, 1e-9, $"BCE probs {isa}");

            Support.With(isa, false, () => loss = Losses.MeanSquaredError(d, z, soft, batch, n));
            Support.Close([loss], [Oracle.Mse(zd, soft)], default, 1e-6, 0, $"MSE loss {isa}");
        }
    }

    [Fact]
    public void Bad_labels_are_rejected()
    {
        var p = new float[20];
        var d = new float[20];
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.SoftmaxCrossEntropySparse(p, d, new float[20], [1f, 10f], 2, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.SoftmaxCrossEntropySparse(p, d, new float[20], [1.5f, 0f], 2, 10));
    }
}
