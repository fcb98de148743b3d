using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// <see cref="BatchNorm"/> against a double-precision reference written from PyTorch's formulas (biased variance to
/// normalise, unbiased for the running variance, momentum 0.1, eps 1e-5), finite differences of that reference for the
/// backward pass, and bit-equality across instruction sets.
/// </summary>
[Collection(nameof(CpuKernels))]
public class BatchNormTests
{
    private const float Momentum = BatchNorm.DefaultMomentum, Eps = BatchNorm.DefaultEpsilon;

    /// <summary>The reference: per channel mean, biased var, invStd and z = x̂·γ + β, all in double.</summary>
    private static (double[] Z, double[] Mean, double[] Var, double[] Unbiased) Reference(double[] x, double[] gamma, double[] beta, int rows, int channels)
    {
        var z = new double[rows * channels];
        double[] mean = new double[channels], var = new double[channels], unbiased = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += x[r * channels + c];
            double mu = s / rows, q = 0;
            for (int r = 0; r < rows; r++) q += (x[r * channels + c] - mu) * (x[r * channels + c] - mu);
            mean[c] = mu; var[c] = q / rows; unbiased[c] = q / (rows - 1);
            double inv = 1 / Math.Sqrt(var[c] + Eps);
            for (int r = 0; r < rows; r++) z[r * channels + c] = (x[r * channels + c] - mu) * inv * gamma[c] + beta[c];
        }
        return (z, mean, var, unbiased);
    }

    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    [Fact]
    public void Hand_computed_example_matches_pytorch_formulas()
    {
        // One channel, x = 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased var 5/3; γ = 2, β = 0.5; running stats start at 0 and 1.
        float[] x = [1, 2, 3, 4], y = new float[4], mean = new float[1], invStd = new float[1];
        float[] runningMean = [0f], runningVar = [1f];
        BatchNorm.ForwardTraining<Identity>(y, default, mean, invStd, runningMean, runningVar, x, [2f], [0.5f], 4, 1, Momentum, Eps);
        double inv = 1 / Math.Sqrt(1.25 + 1e-5);
        Assert.Equal(2.5f, mean[0]);
        Assert.Equal(inv, invStd[0], 1e-6);
        Assert.Equal(0.25, runningMean[0], 1e-7);                 // 0.9·0 + 0.1·2.5
        Assert.Equal(0.9 + 0.1 * 5.0 / 3.0, runningVar[0], 1e-6); // 0.9·1 + 0.1·(5/3)
        for (int i = 0; i < 4; i++) Assert.Equal((x[i] - 2.5) * inv * 2 + 0.5, y[i], 1e-5);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(5, 3)]
    [InlineData(17, 40)]
    [InlineData(64, 35)]
    [InlineData(33, 8)]
    public void Training_forward_and_three_running_updates_match_reference(int rows, int channels)
    {
        float[] gamma = Support.Random(channels, 2, 0.5f, 1.5f), beta = Support.Random(channels, 3);
        float[]? first = null;
        foreach (KernelIsa isa in Support.Isas())
        {
            double[] rm = new double[channels], rv = Enumerable.Repeat(1.0, channels).ToArray();
            float[] runningMean = new float[channels], runningVar = Enumerable.Repeat(1f, channels).ToArray();
            float[] y = new float[rows * channels], z = new float[rows * channels], mean = new float[channels], invStd = new float[channels];
            for (int step = 0; step < 3; step++)
            {
                float[] x = Support.Random(rows * channels, 10 + step, -2f, 3f);
                Support.With(isa, true, () => BatchNorm.ForwardTraining<Relu>(y, z, mean, invStd, runningMean, runningVar, x, gamma, beta, rows, channels, Momentum, Eps));
                var r = Reference(D(x), D(gamma), D(beta), rows, channels);
                for (int c = 0; c < channels; c++)
                {
                    rm[c] = (1 - Momentum) * rm[c] + Momentum * r.Mean[c];
                    rv[c] = (1 - Momentum) * rv[c] + Momentum * r.Unbiased[c];
                }
                string at = $"{rows}x{channels} {isa} step {step}";
                Support.Close(z, r.Z, default, 1e-5, 1e-5, $"z {at}");
                Support.Close(y, r.Z.Select(v => Math.Max(v, 0)).ToArray(), default, 1e-5, 1e-5, $"y {at}");
                Support.Close(mean, r.Mean, default, 1e-5, 1e-6, $"mean {at}");
                Support.Close(invStd, r.Var.Select(v => 1 / Math.Sqrt(v + Eps)).ToArray(), default, 1e-5, 1e-6, $"invStd {at}");
                Support.Close(runningMean, rm, default, 1e-5, 1e-6, $"running mean {at}");
                Support.Close(runningVar, rv, default, 1e-5, 1e-6, $"running var {at}");
            }
            float[] all = [.. y, .. z, .. mean, .. invStd, .. runningMean, .. runningVar];
            if (first is null) first = all;
            else Assert.True(Support.BitEqual(first, all), $"{isa} differs in bits from the scalar kernel");
        }
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(9, 40)]
    [InlineData(4, 16)]
    public void Inference_uses_running_statistics(int rows, int channels)
    {
        float[] x = Support.Random(rows * channels, 20, -2f, 2f), gamma = Support.Random(channels, 21, 0.5f, 1.5f), beta = Support.Random(channels, 22);
        float[] runningMean = Support.Random(channels, 23), runningVar = Support.Random(channels, 24, 0.1f, 2f);
        var expected = new double[rows * channels];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
            {
                double v = (x[r * channels + c] - (double)runningMean[c]) / Math.Sqrt(runningVar[c] + (double)Eps) * gamma[c] + beta[c];
                expected[r * channels + c] = Math.Tanh(v);
            }
        // (No bit comparison across instruction sets here: tanh's vector and scalar forms differ in the last bits.)
        foreach (KernelIsa isa in Support.Isas())
        {
            var y = new float[rows * channels];
            Support.With(isa, false, () => BatchNorm.ForwardInference<Tanh>(y, x, gamma, beta, runningMean, runningVar, rows, channels, Eps));
            Support.Close(y, expected, default, 1e-5, 2e-6, $"inference {rows}x{channels} {isa}");
            var inPlace = (float[])x.Clone();
            Support.With(isa, false, () => BatchNorm.ForwardInference<Tanh>(inPlace, inPlace, gamma, beta, runningMean, runningVar, rows, channels, Eps));
            Assert.True(Support.BitEqual(y, inPlace), "in place differs");
        }
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(6, 5)]
    [InlineData(11, 19)]
    [InlineData(7, 34)]
    public void Backward_matches_finite_differences(int rows, int channels)
    {
        float[] x = Support.Random(rows * channels, 40, -2f, 2f), gamma = Support.Random(channels, 41, 0.5f, 1.5f), beta = Support.Random(channels, 42);
        float[] r = Support.Random(rows * channels, 43); // L = Σ r ⊙ z, so dL/dz = r
        double L(double[] xd, double[] gd, double[] bd)
        {
            double[] z = Reference(xd, gd, bd, rows, channels).Z;
            double total = 0;
            for (int i = 0; i < z.Length; i++) total += r[i] * z[i];
            return total;
        }
        double[] xd = D(x), gd = D(gamma), bd = D(beta);
        double[] ndx = Numeric(xd, t => L(t, gd, bd), 1e-4);
        double[] ndg = Numeric(gd, t => L(xd, t, bd), 1e-4);
        double[] ndb = Numeric(bd, t => L(xd, gd, t), 1e-4);
        float[]? first = null;
        foreach (KernelIsa isa in Support.Isas())
        {
            float[] y = new float[rows * channels], mean = new float[channels], invStd = new float[channels];
            float[] rm = new float[channels], rv = new float[channels];
            float[] dx = new float[rows * channels], dg = new float[channels], db = new float[channels];
            Support.With(isa, true, () =>
            {
                BatchNorm.ForwardTraining<Identity>(y, default, mean, invStd, rm, rv, x, gamma, beta, rows, channels, Momentum, Eps);
                BatchNorm.Backward(dx, dg, db, r, x, mean, invStd, gamma, rows, channels);
            });
            string at = $"{rows}x{channels} {isa}";
            Support.Close(dx, ndx, default, 1e-4, 2e-5, $"dx {at}");
            Support.Close(dg, ndg, default, 1e-4, 2e-5, $"dgamma {at}");
            Support.Close(db, ndb, default, 1e-4, 2e-5, $"dbeta {at}");

            float[] dgOnly = new float[channels], dbOnly = new float[channels];
            Support.With(isa, true, () => BatchNorm.Backward(default, dgOnly, dbOnly, r, x, mean, invStd, gamma, rows, channels));
            Assert.True(Support.BitEqual(dg, dgOnly) && Support.BitEqual(db, dbOnly), "dγ, dβ change when dx is not wanted");

            float[] all = [.. dx, .. dg, .. db];
            if (first is null) first = all;
            else Assert.True(Support.BitEqual(first, all), $"{isa} backward differs in bits from the scalar kernel");
        }
    }

    [Fact]
    public void Training_rejects_a_single_row_and_short_buffers()
    {
        float[] one = [1f];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            BatchNorm.ForwardTraining<Identity>(new float[1], default, new float[1], new float[1], new float[1], new float[1], one, one, one, 1, 1, Momentum, Eps));
        Assert.Throws<ArgumentException>(() =>
            BatchNorm.ForwardTraining<Identity>(new float[3], default, new float[1], new float[1], new float[1], new float[1], new float[4], one, one, 4, 1, Momentum, Eps));
    }

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
}
