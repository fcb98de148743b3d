namespace Compiled.Integration.Tests;

/// <summary>6x6x2 → conv 3 (3x3, tanh) → max pool 2 → flatten → 3 softmax: every CNN op's backward through one model.</summary>
[Input(6, 6, 2)]
[Conv2D(3, 3, Activation.Tanh)]
[MaxPool2D(2)]
[Flatten]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyCnn;

/// <summary>Same padding, stride 2, a 1x2 kernel, average and global average pooling, no bias.</summary>
[Input(5, 5, 3)]
[Conv2D(4, 3, Activation.Gelu, Padding = Padding.Same, Stride = 2)]
[AvgPool2D(2, Padding = Padding.Same)]
[Conv2D(5, 1, 2, Activation.Sigmoid, UseBias = false)]
[GlobalAveragePool2D]
[Dense(2, Activation.Sigmoid)]
[Loss(Loss.BinaryCrossEntropy)]
public partial class OddCnn;

/// <summary>The primer's MNIST CNN.</summary>
[Input(28, 28, 1)]
[Conv2D(32, 3, Activation.Relu)]
[MaxPool2D(2)]
[Conv2D(64, 3, Activation.Relu)]
[MaxPool2D(2)]
[Flatten]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistCnn;

/// <summary>
/// Convolutional models compiled by the real generator: gradients of whole models against central finite differences
/// of their own loss, and the primer's MNIST CNN learning real digits.
/// </summary>
public class CnnTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    /// <summary>
    /// Central differences of the model's float loss at two steps (1e-3 and 3e-4): max pooling has kinks where a window's
    /// maximum changes hands, and a step that crosses one gives a wrong difference, so the closer of the two counts.
    /// </summary>
    internal static void CheckGradients(IModel model, float[] x, float[] t, int batch, string name)
    {
        model.ComputeGradients(x, t, default, batch);
        float[] analytic = model.Gradients.ToArray();
        double maxError = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double error = double.MaxValue, numeric = 0;
            foreach (float h in new[] { 1e-3f, 3e-4f })
            {
                Span<float> p = model.Parameters;
                float saved = p[i];
                p[i] = saved + h;
                double plus = model.ComputeGradients(x, t, default, batch);
                p[i] = saved - h;
                double minus = model.ComputeGradients(x, t, default, batch);
                model.Parameters[i] = saved;
                double d = (plus - minus) / (2 * h);
                if (Math.Abs(d - analytic[i]) < error) (error, numeric) = (Math.Abs(d - analytic[i]), d);
            }
            maxError = Math.Max(maxError, error);
            Assert.True(error < 1e-3 + 1e-2 * Math.Abs(numeric), $"{name}: parameter {i}: finite difference {numeric}, backward {analytic[i]}");
        }
        Output?.WriteLine($"{name}: {analytic.Length} parameters, max |finite difference − backward| {maxError:E2}");
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

    [Fact]
    public void TinyCnnGradientsMatchFiniteDifferences()
    {
        var model = new TinyCnn(seed: 2);
        CheckGradients(model, Random(4 * 72, 5), [0, 2, 1, 2], 4, "TinyCnn");
    }

    [Fact]
    public void OddCnnGradientsMatchFiniteDifferences()
    {
        var model = new OddCnn(seed: 3);
        Assert.Equal([4, 3, 3, 3], model.Tensors[0].Shape.ToArray()); // PyTorch's [out, in, kh, kw]
        Assert.Equal([5, 4, 1, 2], model.Tensors[2].Shape.ToArray());
        CheckGradients(model, Random(3 * 75, 6), [1, 0, 0, 1, 1, 0], 3, "OddCnn");
    }

    [Fact]
    public void MnistCnnLearnsRealDigits()
    {
        var (train, test) = MnistTests.s_mnist.Value;
        var model = new MnistCnn(seed: 1);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        History history = model.Fit(train.Take(12000), epochs: 1, batchSize: 64, optimizer: new Adam(1e-3), seed: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        watch.Stop();
        var (loss, accuracy) = model.Evaluate(test.Take(2000));
        Output?.WriteLine($"MnistCnn: 12,000 digits × 1 epoch in {watch.Elapsed.TotalSeconds:F1} s; train loss {history.Last.Loss:F4}; " +
            $"test (2,000) loss {loss:F4}, accuracy {accuracy:P2}");
        Assert.True(accuracy >= 0.95, $"test accuracy {accuracy:P2} after one epoch of 12,000 digits");
    }
}
