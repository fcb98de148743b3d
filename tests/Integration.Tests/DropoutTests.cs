namespace Compiled.Integration.Tests;

/// <summary>6 → 8 tanh → dropout 0.5 → 3 softmax, sparse cross-entropy: the Dropout layer inside a real model.</summary>
[Input(6)]
[Dense(8, Activation.Tanh)]
[Dropout(0.5)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class DropoutNet;

/// <summary>
/// Dropout in a generated model: gradients against finite differences of a double-precision reference that applies the
/// same mask (the step's seed is the model's next random draw), the identity when predicting, and seeded reproducibility.
/// </summary>
public class DropoutTests
{
    private const int Batch = 5, In = 6, Hidden = 8, Classes = 3;
    private const uint Threshold = 1u << 23; // rate 0.5 · 2²⁴

    private static (float[] X, float[] T) Data()
    {
        var rng = new Rng(3);
        var x = new float[Batch * In];
        for (int i = 0; i < x.Length; i++) x[i] = 2 * rng.NextFloat() - 1;
        return (x, [0, 2, 1, 1, 0]);
    }

    /// <summary>The loss in double precision, for parameters p (the arena's layout), with the mask of step <paramref name="seed"/>
    /// or, when <paramref name="train"/> is false, no dropout; also returns the outputs.</summary>
    private static (double Loss, double[] Outputs) Reference(double[] p, float[] x, float[] t, uint seed, bool train)
    {
        int w1 = 0, b1 = Hidden * In, w2 = b1 + Hidden, b2 = w2 + Classes * Hidden;
        double loss = 0;
        var outputs = new double[Batch * Classes];
        for (int n = 0; n < Batch; n++)
        {
            var h = new double[Hidden];
            for (int j = 0; j < Hidden; j++)
            {
                double z = p[b1 + j];
                for (int i = 0; i < In; i++) z += p[w1 + j * In + i] * x[n * In + i];
                double y = Math.Tanh(z);
                if (train) y *= Compiled.CompilerServices.Dropout.Keep(seed, (uint)(n * Hidden + j), Threshold) ? 2.0 : 0.0;
                h[j] = y;
            }
            var logits = new double[Classes];
            for (int c = 0; c < Classes; c++)
            {
                logits[c] = p[b2 + c];
                for (int j = 0; j < Hidden; j++) logits[c] += p[w2 + c * Hidden + j] * h[j];
            }
            double max = logits.Max(), sum = logits.Sum(v => Math.Exp(v - max));
            for (int c = 0; c < Classes; c++) outputs[n * Classes + c] = Math.Exp(logits[c] - max) / sum;
            loss += Math.Log(sum) + max - logits[(int)t[n]];
        }
        return (loss / Batch, outputs);
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesWithTheStepsMask()
    {
        var model = new DropoutNet(seed: 4);
        var (x, t) = Data();
        Rng before = model.Random;
        Rng copy = before;
        uint seed = copy.NextUInt32(); // the draw the training step makes
        float loss = model.ComputeGradients(x, t, default, Batch);
        float[] gradients = model.Gradients.ToArray();
        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();

        Assert.Equal(Reference(p, x, t, seed, train: true).Loss, loss, 1e-5);
        const double h = 1e-6;
        double maxError = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + h;
            double plus = Reference(p, x, t, seed, true).Loss;
            p[i] = saved - h;
            double minus = Reference(p, x, t, seed, true).Loss;
            p[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double error = Math.Abs(numeric - gradients[i]) / Math.Max(1, Math.Abs(numeric));
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-5, $"parameter {i}: finite difference {numeric}, generated backward {gradients[i]}");
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"Dropout model: max relative gradient error vs finite differences {maxError:E2}");

        // Restoring the stream repeats the step exactly; the next step draws another mask.
        model.Random = before;
        Assert.Equal(loss, model.ComputeGradients(x, t, default, Batch));
        Assert.Equal(gradients, model.Gradients.ToArray());
        model.Random = before;
        model.ComputeGradients(x, t, default, Batch);
        Assert.NotEqual(gradients, (model.ComputeGradients(x, t, default, Batch), model.Gradients.ToArray()).Item2);
    }

    [Fact]
    public void PredictAndEvaluateAreTheIdentityAndDrawNothing()
    {
        var model = new DropoutNet(seed: 5);
        var (x, t) = Data();
        Rng before = model.Random;
        var outputs = new float[Batch * Classes];
        model.Forward(x, outputs, Batch);
        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        double[] expected = Reference(p, x, t, 0, train: false).Outputs;
        double error = expected.Zip(outputs, (e, o) => Math.Abs(e - o)).Max();
        TestContext.Current.TestOutputHelper?.WriteLine($"inference vs reference without dropout: max error {error:E2}");
        Assert.True(error < 1e-6, $"inference differs from the reference without dropout by {error}");
        var data = new Dataset(x, t, In, 1);
        var first = model.Evaluate(data);
        Assert.Equal(first, model.Evaluate(data)); // no random draw: the same every time
        Assert.Equal(before.NextUInt32(), model.Random.NextUInt32()); // the stream did not move
    }

    [Fact]
    public void ASeededRunIsReproducibleAndMasksDifferBetweenSteps()
    {
        var rng = new Rng(9);
        var x = new float[200 * In];
        var t = new float[200];
        for (int i = 0; i < x.Length; i++) x[i] = 2 * rng.NextFloat() - 1;
        for (int i = 0; i < t.Length; i++) t[i] = x[i * In] > 0 ? (x[i * In + 1] > 0 ? 0 : 1) : 2;
        var data = new Dataset(x, t, In, 1);
        double[] Run(int seed) => new DropoutNet(seed).Fit(data, epochs: 3, batchSize: 20, optimizer: new Adam(0.01), seed: 1,
            cancellationToken: TestContext.Current.CancellationToken).Select(e => e.Loss).ToArray();
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
    }
}
