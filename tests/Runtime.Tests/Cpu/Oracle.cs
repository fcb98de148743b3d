using Compiled.CompilerServices;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// The naive reference kernels (the runtime's original loops), in double precision: the oracle every optimised
/// kernel is checked against. Each also reports the magnitude Σ|terms| of every output, for relative tolerances.
/// </summary>
internal static class Oracle
{
    public static double Act<TAct>(double z) where TAct : struct, IActivation
    {
        if (typeof(TAct) == typeof(Identity)) return z;
        if (typeof(TAct) == typeof(Relu)) return z > 0 ? z : 0;
        if (typeof(TAct) == typeof(LeakyRelu)) return z > 0 ? z : LeakyRelu.Slope * z;
        if (typeof(TAct) == typeof(Sigmoid)) return 1 / (1 + Math.Exp(-z));
        if (typeof(TAct) == typeof(Tanh)) return Math.Tanh(z);
        if (typeof(TAct) == typeof(Gelu))
            return 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
        throw new NotSupportedException(typeof(TAct).Name);
    }

    /// <summary>z = x·wᵀ + b, y = f(z); scale[r, o] = Σ|x·w| + |b|.</summary>
    public static (double[] Z, double[] Y, double[] Scale) DenseForward<TAct>(float[] x, float[] w, float[] b,
        int batch, int inputs, int units) where TAct : struct, IActivation
    {
        var z = new double[batch * units];
        var y = new double[batch * units];
        var scale = new double[batch * units];
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < units; o++)
            {
                double acc = b[o], mag = Math.Abs(b[o]);
                for (int i = 0; i < inputs; i++)
                {
                    double t = (double)x[r * inputs + i] * w[o * inputs + i];
                    acc += t;
                    mag += Math.Abs(t);
                }
                z[r * units + o] = acc;
                y[r * units + o] = Act<TAct>(acc);
                scale[r * units + o] = mag;
            }
        return (z, y, scale);
    }

    /// <summary>dw = dzᵀ·x, db = Σ dz, dx = dz·w, with their magnitudes.</summary>
    public static (double[] Dx, double[] Dw, double[] Db, double[] DxScale, double[] DwScale, double[] DbScale) DenseBackward(
        float[] dz, float[] x, float[] w, int batch, int inputs, int units)
    {
        var dw = new double[units * inputs]; var dwS = new double[units * inputs];
        var db = new double[units]; var dbS = new double[units];
        var dx = new double[batch * inputs]; var dxS = new double[batch * inputs];
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < units; o++)
            {
                double g = dz[r * units + o];
                db[o] += g; dbS[o] += Math.Abs(g);
                for (int i = 0; i < inputs; i++)
                {
                    dw[o * inputs + i] += g * x[r * inputs + i];
                    dwS[o * inputs + i] += Math.Abs(g * x[r * inputs + i]);
                    dx[r * inputs + i] += g * w[o * inputs + i];
                    dxS[r * inputs + i] += Math.Abs(g * w[o * inputs + i]);
                }
            }
        return (dx, dw, db, dxS, dwS, dbS);
    }

    public static double[] Softmax(ReadOnlySpan<double> z, int batch, int n)
    {
        var y = new double[batch * n];
        for (int b = 0; b < batch; b++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < n; i++) max = Math.Max(max, z[b * n + i]);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += y[b * n + i] = Math.Exp(z[b * n + i] - max);
            for (int i = 0; i < n; i++) y[b * n + i] /= sum;
        }
        return y;
    }

    /// <summary>mean over the batch of −log softmax(z)[label].</summary>
    public static double SparseCrossEntropy(ReadOnlySpan<double> z, float[] labels, int batch, int n)
    {
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < n; i++) max = Math.Max(max, z[b * n + i]);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.Exp(z[b * n + i] - max);
            total += Math.Log(sum) + max - z[b * n + (int)labels[b]];
        }
        return total / batch;
    }

    /// <summary>mean over the batch of −Σ t·log softmax(z).</summary>
    public static double CrossEntropy(ReadOnlySpan<double> z, float[] t, int batch, int n)
    {
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < n; i++) max = Math.Max(max, z[b * n + i]);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.Exp(z[b * n + i] - max);
            double logSum = Math.Log(sum) + max;
            for (int i = 0; i < n; i++) total -= t[b * n + i] * (z[b * n + i] - logSum);
        }
        return total / batch;
    }

    /// <summary>mean of max(z,0) − z·t + log(1 + e^−|z|).</summary>
    public static double SigmoidBce(ReadOnlySpan<double> z, float[] t)
    {
        double total = 0;
        for (int i = 0; i < z.Length; i++)
            total += Math.Max(z[i], 0) - z[i] * t[i] + Math.Log(1 + Math.Exp(-Math.Abs(z[i])));
        return total / z.Length;
    }

    public static double Mse(ReadOnlySpan<double> y, float[] t)
    {
        double total = 0;
        for (int i = 0; i < y.Length; i++) total += (y[i] - t[i]) * (y[i] - t[i]);
        return total / y.Length;
    }
}
