using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// Gradients written by the kernels against central finite differences of the double-precision oracle:
/// dL/dθ ≈ (L(θ + h) − L(θ − h)) / 2h, each loss function evaluated in double.
/// </summary>
[Collection(nameof(CpuKernels))]
public class GradientTests
{
    private static double[] Numeric(double[] theta, Func<double[], double> loss, double h)
    {
        var grad = new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double keep = theta[i];
            theta[i] = keep + h; double up = loss(theta);
            theta[i] = keep - h; double down = loss(theta);
            theta[i] = keep;
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 5)]
    [InlineData(9, 40, 35)]
    [InlineData(2, 33, 70)]
    public void Dense_backward_matches_finite_differences(int batch, int inputs, int units)
    {
        float[] x = Support.Random(batch * inputs, 30), w = Support.Random(units * inputs, 31), b = Support.Random(units, 32);
        float[] r = Support.Random(batch * units, 33); // L = Σ r ⊙ z, so dL/dz = r
        double L(double[] xd, double[] wd, double[] bd)
        {
            double total = 0;
            for (int n = 0; n < batch; n++)
                for (int o = 0; o < units; o++)
                {
                    double z = bd[o];
                    for (int i = 0; i < inputs; i++) z += xd[n * inputs + i] * wd[o * inputs + i];
                    total += r[n * units + o] * z;
                }
            return total;
        }
        double[] xd = D(x), wd = D(w), bd = D(b);
        double[] ndx = Numeric(xd, t => L(t, wd, bd), 1e-3);
        double[] ndw = Numeric(wd, t => L(xd, t, bd), 1e-3);
        double[] ndb = Numeric(bd, t => L(xd, wd, t), 1e-3);
        foreach (KernelIsa isa in Support.Isas())
        {
            float[] dx = new float[batch * inputs], dw = new float[units * inputs], db = new float[units];
            Support.With(isa, true, () => Dense.Backward(dx, dw, db, r, x, w, batch, inputs, units));
            Support.Close(dx, ndx, default, 1e-5, 1e-6, $"dx {batch}x{inputs}x{units} {isa}");
            Support.Close(dw, ndw, default, 1e-5, 1e-6, $"dw {batch}x{inputs}x{units} {isa}");
            Support.Close(db, ndb, default, 1e-5, 1e-6, $"db {batch}x{inputs}x{units} {isa}");
        }
    }

    [Fact]
    public void Softmax_backward_matches_finite_differences()
    {
        const int batch = 3, n = 19;
        float[] z = Support.Random(batch * n, 34, -3f, 3f), r = Support.Random(batch * n, 35);
        double[] numeric = Numeric(D(z), t => Oracle.Softmax(t, batch, n).Select((v, i) => v * r[i]).Sum(), 1e-5);
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[batch * n];
            float[] grad = (float[])r.Clone();
            Support.With(isa, false, () =>
            {
                Activations.Softmax(y, z, batch, n);
                Activations.SoftmaxBackward(grad, y, batch, n);
            });
            Support.Close(grad, numeric, default, 1e-4, 1e-6, $"softmax backward {isa}");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 10)]
    [InlineData(3, 37)]
    public void Loss_gradients_match_finite_differences(int batch, int n)
    {
        float[] z = Support.Random(batch * n, 36, -4f, 4f);
        float[] labels = Support.Random(batch, 37, 0f, n - 0.01f).Select(MathF.Floor).ToArray();
        float[] soft = Support.Random(batch * n, 38, 0f, 1f);
        float[] binary = Support.Random(batch * n, 39, 0f, 1f).Select(v => MathF.Round(v)).ToArray();
        double[] zd = D(z);
        double[] nSparse = Numeric(zd, t => Oracle.SparseCrossEntropy(t, labels, batch, n), 1e-5);
        double[] nDense = Numeric(zd, t => Oracle.CrossEntropy(t, soft, batch, n), 1e-5);
        double[] nBce = Numeric(zd, t => Oracle.SigmoidBce(t, binary), 1e-5);
        double[] nMse = Numeric(zd, t => Oracle.Mse(t, soft), 1e-5);
        foreach (KernelIsa isa in Support.Isas())
        {
            var p = new float[batch * n];
            var d = new float[batch * n];
            Support.With(isa, false, () => Losses.SoftmaxCrossEntropySparse(p, d, z, labels, batch, n));
            Support.Close(d, nSparse, default, 1e-4, 1e-6, $"sparse CE dz {isa}");
            Support.With(isa, false, () => Losses.SoftmaxCrossEntropy(p, d, z, soft, batch, n));
            Support.Close(d, nDense, default, 1e-4, 1e-6, $"CE dz {isa}");
            Support.With(isa, false, () => Losses.SigmoidBinaryCrossEntropy(p, d, z, binary, batch, n));
            Support.Close(d, nBce, default, 1e-4, 1e-6, $"BCE dz {isa}");
            Support.With(isa, false, () => Losses.MeanSquaredError(d, z, soft, batch, n));
            Support.Close(d, nMse, default, 1e-4, 1e-6, $"MSE dz {isa}");
        }
    }
}
