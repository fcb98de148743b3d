namespace Compiled.Integration.Tests;

// Autoencoders: the loss compares the output with the model's own input.

[Input(6)] [Dense(3, Activation.Tanh)] [Dense(6, Activation.Sigmoid)] [Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
public partial class TinyBceAutoencoder;

[Input(5)] [Dense(2, Activation.Gelu)] [Dense(5)] [Loss(Loss.MeanSquaredError, Target = LossTarget.Input)]
public partial class TinyMseAutoencoder;

[Input(784)] [Dense(128, Activation.Relu)] [Dense(32, Activation.Relu)] [Dense(128, Activation.Relu)] [Dense(784, Activation.Sigmoid)]
[Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
public partial class MnistAutoencoder;

/// <summary>
/// Autoencoders through the real generator: gradients against finite differences of the double-precision reference with
/// the inputs as targets, <c>Fit</c> and <c>Evaluate</c> using the features (not the data set's labels) as targets, and
/// a 784-128-32-128-784 network learning to reconstruct real MNIST digits.
/// </summary>
public class AutoencoderTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    public static TheoryData<string> Models => new("TinyBceAutoencoder", "TinyMseAutoencoder");

    private static ReferenceModels.ModelSpec Spec(string name) => name switch
    {
        "TinyBceAutoencoder" => new(name, () => new TinyBceAutoencoder(), 6,
            new ReferenceModels.LayerSpec[] { new(3, Activation.Tanh), new(6, Activation.Sigmoid) }, Loss.BinaryCrossEntropy, 5),
        _ => new(name, () => new TinyMseAutoencoder(), 5,
            new ReferenceModels.LayerSpec[] { new(2, Activation.Gelu), new(5, Activation.None) }, Loss.MeanSquaredError, 4),
    };

    /// <summary>Inputs in [0, 1] (binary cross-entropy needs targets there, and they are the targets).</summary>
    private static float[] Inputs(ReferenceModels.ModelSpec spec)
        => ReferenceModels.Inputs(spec).Select(v => (float)((v + 1.25) / 2.5)).ToArray();

    [Theory]
    [MemberData(nameof(Models))]
    public void GradientsMatchFiniteDifferencesWithTheInputAsTarget(string name)
    {
        ReferenceModels.ModelSpec spec = Spec(name);
        IModel model = ReferenceModels.CreateWithReferenceParameters(spec);
        Assert.Equal(LossTarget.Input, model.LossTarget);
        Assert.Equal(model.InputSize, model.TargetSize);
        float[] x = Inputs(spec);
        Assert.All(x, v => Assert.InRange(v, 0f, 1f));
        float loss = model.ComputeGradients(x, x, Span<float>.Empty, spec.Batch);

        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        double[] xd = x.Select(v => (double)v).ToArray();
        Assert.Equal(ReferenceModels.Evaluate(spec, p, xd, xd).Loss, loss, 1e-5);

        const double h = 1e-6;
        double maxError = 0;
        float[] gradients = model.Gradients.ToArray();
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + h;
            double plus = ReferenceModels.Evaluate(spec, p, xd, xd).Loss;
            p[i] = saved - h;
            double minus = ReferenceModels.Evaluate(spec, p, xd, xd).Loss;
            p[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double error = Math.Abs(numeric - gradients[i]) / Math.Max(1, Math.Abs(numeric));
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-5, $"{name}: parameter {i}: finite difference {numeric}, generated backward {gradients[i]}");
        }
        Output?.WriteLine($"{name}: {p.Length} parameters, max relative gradient error vs finite differences {maxError:E2}");
    }

    /// <summary>
    /// The data set's targets are class labels (one per sample, the wrong size for the model): Evaluate scores the
    /// reconstruction of the features, and one full-batch SGD step of Fit moves every parameter by −lr times the
    /// finite-difference gradient of the reconstruction loss.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void FitAndEvaluateUseTheFeaturesAsTargets(string name)
    {
        ReferenceModels.ModelSpec spec = Spec(name);
        IModel model = ReferenceModels.CreateWithReferenceParameters(spec);
        float[] x = Inputs(spec);
        var labelled = new Dataset(x, Enumerable.Range(0, spec.Batch).Select(i => (float)(i % 3)).ToArray(), spec.Inputs, 1);
        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        double[] xd = x.Select(v => (double)v).ToArray();
        double reference = ReferenceModels.Evaluate(spec, p, xd, xd).Loss;

        Evaluation evaluation = model.Evaluate(labelled);
        Assert.Equal(reference, evaluation.Loss, 1e-5);
        Assert.Equal(reference, model.Evaluate(Dataset.FromFeatures(x, spec.Inputs)).Loss, 1e-5);

        const double lr = 0.1, h = 1e-6;
        model.Fit(labelled, epochs: 1, batchSize: spec.Batch, optimizer: new Sgd(lr), shuffle: false, cancellationToken: TestContext.Current.CancellationToken);
        double maxError = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + h;
            double plus = ReferenceModels.Evaluate(spec, p, xd, xd).Loss;
            p[i] = saved - h;
            double minus = ReferenceModels.Evaluate(spec, p, xd, xd).Loss;
            p[i] = saved;
            double expected = saved - lr * (plus - minus) / (2 * h);
            maxError = Math.Max(maxError, Math.Abs(expected - model.Parameters[i]));
        }
        Assert.True(maxError < 1e-5, $"{name}: Fit's step differs from −lr·(finite-difference gradient) by up to {maxError:E2}");
        Output?.WriteLine($"{name}: Evaluate {evaluation.Loss:F6} vs reference {reference:F6}; Fit step max |Δparameter| {maxError:E2}");
    }

    [Fact]
    public void DataOfAnotherFeatureSizeIsRejected()
    {
        var model = new TinyMseAutoencoder();
        var data = new Dataset(new float[12], new float[2], 6, 1);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(data, epochs: 1, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("6 features per sample, but the model takes 5 inputs", e.Message);
    }

    /// <summary>
    /// 784-128-32-128-784 on 4,000 real training digits for 3 epochs: the reconstruction loss on 1,000 test digits falls
    /// well below the untrained model's and below that of always answering the training set's mean image.
    /// </summary>
    [Fact]
    public void LearnsToReconstructMnistDigits()
    {
        var (train, test) = MnistTests.s_mnist.Value;
        train = train.Take(4000);
        test = test.Take(1000);
        var model = new MnistAutoencoder(seed: 1);
        double before = model.Evaluate(test).Loss;
        model.Fit(train, epochs: 3, batchSize: 64, optimizer: new Adam(2e-3), seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        double after = model.Evaluate(test).Loss;

        // The best constant answer: the mean training image, scored with the same binary cross-entropy.
        var mean = new double[784];
        for (int i = 0; i < train.Count; i++)
        {
            ReadOnlySpan<float> f = train.FeaturesOf(i);
            for (int j = 0; j < 784; j++) mean[j] += f[j] / train.Count;
        }
        double meanLoss = 0;
        for (int i = 0; i < test.Count; i++)
        {
            ReadOnlySpan<float> f = test.FeaturesOf(i);
            for (int j = 0; j < 784; j++)
            {
                double m = Math.Clamp(mean[j], 1e-7, 1 - 1e-7);
                meanLoss -= (f[j] * Math.Log(m) + (1 - f[j]) * Math.Log(1 - m)) / 784;
            }
        }
        meanLoss /= test.Count;
        Output?.WriteLine($"test reconstruction BCE: untrained {before:F4}, mean image {meanLoss:F4}, after 3 epochs {after:F4}");
        Assert.True(after < 0.75 * meanLoss, $"reconstruction loss {after:F4} is not well below the mean image's {meanLoss:F4}");
        Assert.True(after < 0.5 * before, $"reconstruction loss {after:F4} did not fall well below the untrained {before:F4}");
    }
}
