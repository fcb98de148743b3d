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
    public void BinaryCrossEntropyAutoencoderNamesAFeatureOutsideZeroOne()
    {
        var model = new TinyBceAutoencoder();
        float[] x = new float[12];
        x[9] = 255f; // sample 1, feature 3: raw pixel values instead of [0, 1]
        var e = Assert.Throws<ArgumentException>(() => model.Evaluate(new Dataset(x, new float[2], 6, 1)));
        Assert.Contains("data sample 1 has feature 3 = 255, but a model that reconstructs its input with BinaryCrossEntropy needs every feature in [0, 1]", e.Message);
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

/// <summary>samples/Autoencoder's own code: the PNG grid it writes, and the whole sample with tiny settings.</summary>
public class AutoencoderSampleTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    /// <summary>
    /// A briefly trained sample model draws 10 x 2 test digits: the PNG decodes to the promised size, every original and
    /// every reconstruction pixel is exactly the grey level of the input and of the model's output, and the picture is
    /// not trivial (dark and bright pixels in both halves; reconstructions closer to their own digit than to another).
    /// </summary>
    [Fact]
    public void ReconstructionPngDecodesToTheModelsOutputs()
    {
        var (train, test) = MnistTests.s_mnist.Value;
        var model = new Compiled.Samples.Autoencoder.DigitAutoencoder(seed: 3);
        model.Fit(train.Take(6000), epochs: 3, batchSize: 64, optimizer: new Adam(2e-3), seed: 3,
            cancellationToken: TestContext.Current.CancellationToken);
        Dataset shown = test.Take(20);
        float[] outputs = model.Predict(shown);

        string path = Path.Combine(Path.GetTempPath(), "compiled-reconstructions-" + Guid.NewGuid().ToString("N") + ".png");
        try
        {
            const int Scale = 2, Side = 28, Cell = (Side + 1) * Scale;
            var (width, height) = Compiled.Samples.Autoencoder.ReconstructionGrid.WritePng(model, shown, path, columns: 10, rows: 2, scale: Scale);
            Assert.Equal((10 * Cell + Scale, 4 * Cell + Scale), (width, height));
            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            using var bitmap = SkiaSharp.SKBitmap.Decode(bytes);
            Assert.NotNull(bitmap);
            Assert.Equal((width, height), (bitmap.Width, bitmap.Height));

            int mismatches = 0;
            var originals = new List<byte>();
            var reconstructed = new List<byte>();
            double own = 0, other = 0;
            for (int k = 0; k < 20; k++)
            {
                int x0 = (k % 10) * Cell + Scale, y0 = 2 * (k / 10) * Cell + Scale;
                for (int y = 0; y < Side; y++)
                    for (int x = 0; x < Side; x++)
                    {
                        int i = y * Side + x;
                        byte o = bitmap.GetPixel(x0 + x * Scale + 1, y0 + y * Scale + 1).Red;
                        byte r = bitmap.GetPixel(x0 + x * Scale, y0 + Cell + y * Scale).Red;
                        if (o != Compiled.Samples.Autoencoder.ReconstructionGrid.Grey(shown.FeaturesOf(k)[i])) mismatches++;
                        if (r != Compiled.Samples.Autoencoder.ReconstructionGrid.Grey(outputs[k * 784 + i])) mismatches++;
                        originals.Add(o);
                        reconstructed.Add(r);
                        own += Math.Abs(o - r);
                        other += Math.Abs(o - Compiled.Samples.Autoencoder.ReconstructionGrid.Grey(outputs[((k + 1) % 20) * 784 + i]));
                    }
            }
            Output?.WriteLine($"{width}x{height} PNG, {bytes.Length:N0} bytes; pixel mismatches {mismatches}; " +
                $"mean |original − reconstruction| {own / (20 * 784):F1} grey levels against {other / (20 * 784):F1} for another digit's");
            Assert.Equal(0, mismatches);
            Assert.True(originals.Count(v => v < 30) > 1000 && originals.Count(v => v > 220) > 500, "the originals are not digits");
            Assert.True(reconstructed.Count(v => v < 30) > 1000 && reconstructed.Count(v => v > 150) > 300, "the reconstructions are blank or grey");
            Assert.True(own < 0.7 * other, $"reconstructions are no closer to their digit ({own / 15680:F1}) than to another ({other / 15680:F1})");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SampleRunsWithTinySettingsAndWritesItsPictures()
    {
        string path = Path.Combine(Path.GetTempPath(), "compiled-sample-" + Guid.NewGuid().ToString("N") + ".png");
        string plot = Path.Combine(Path.GetTempPath(), "compiled-sample-history-" + Guid.NewGuid().ToString("N") + ".png");
        var output = new StringWriter();
        try
        {
            int code = Compiled.Samples.Autoencoder.AutoencoderSample.Run(
                new[] { "--limit", "600", "--epochs", "2", "--data", RepoPaths.MnistDirectory, "--output", path, "--plot", plot }, output);
            Output?.WriteLine(output.ToString());
            Assert.Equal(0, code);
            Assert.Contains("Test reconstruction: binary cross-entropy", output.ToString());
            // model.Summary() at the start: 784·128 + 128 + 128·32 + 32 + 32·128 + 128 + 128·784 + 784 parameters.
            Assert.Contains("Total params: 209,968", output.ToString());
            using var bitmap = SkiaSharp.SKBitmap.Decode(path);
            Assert.Equal((582, 234), (bitmap.Width, bitmap.Height));
            using var history = SkiaSharp.SKBitmap.Decode(plot);
            Assert.NotNull(history);
            Assert.Equal((1000, 400), (history.Width, history.Height));
        }
        finally
        {
            File.Delete(path);
            File.Delete(plot);
        }
        // The shared command line's exit codes: 2 for a value it rejects (a number below one, a missing directory).
        Assert.Equal(2, Compiled.Samples.Autoencoder.AutoencoderSample.Run(new[] { "--epochs", "0" }, new StringWriter()));
        Assert.Equal(2, Compiled.Samples.Autoencoder.AutoencoderSample.Run(new[] { "--data", "/nonexistent-mnist" }, new StringWriter()));
    }
}
