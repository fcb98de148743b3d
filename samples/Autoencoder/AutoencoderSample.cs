using System.Diagnostics;
using Compiled;

namespace Compiled.Samples.Autoencoder;

/// <summary>
/// The sample: trains <see cref="DigitAutoencoder"/> on MNIST, reports the reconstruction loss on the test set and writes
/// <c>reconstructions.png</c>. Options: <c>--epochs N --batch-size N --limit N --seed N --data DIR --output PATH</c>.
/// </summary>
public static class AutoencoderSample
{
    /// <summary>Runs the sample; returns the process exit code (0, 1 for bad options, 2 for unreadable data).</summary>
    public static int Run(string[] args, TextWriter output)
    {
        int epochs = 10, batchSize = 128, seed = 1;
        int? limit = null;
        string data = Path.Combine(AppContext.BaseDirectory, "data"), picture = "reconstructions.png";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string name = args[i];
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
                int Number() => int.TryParse(Value(), out int n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive whole number.");
                switch (name)
                {
                    case "--epochs": epochs = Number(); break;
                    case "--batch-size": batchSize = Number(); break;
                    case "--limit": limit = Number(); break;
                    case "--seed": seed = Number(); break;
                    case "--data": data = Value(); break;
                    case "--output": picture = Value(); break;
                    default:
                        throw new ArgumentException(
                            $"Unknown option '{name}'. Options: --epochs N, --batch-size N, --limit N, --seed N, --data DIR, --output PATH.");
                }
            }
        }
        catch (ArgumentException e)
        {
            output.WriteLine(e.Message);
            return 1;
        }

        Dataset train, test;
        try
        {
            (train, test) = Mnist.Load(data);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            output.WriteLine(e.Message);
            return 2;
        }
        if (limit is int n)
        {
            train = train.Take(n);
            test = test.Take(Math.Max(n / 6, 20));
        }
        output.WriteLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test images; kernels: {Hardware.KernelIsa}");

        var model = new DigitAutoencoder(seed);
        output.WriteLine($"Model: 784 → 128 → 32 → 128 → 784 (ReLU, sigmoid output), {DigitAutoencoder.ParameterCount:N0} parameters, " +
            "binary cross-entropy against the input");
        var clock = Stopwatch.StartNew();
        model.Fit(train, epochs, batchSize, new Adam(2e-3) { Schedule = new CosineDecay(epochs) }, seed: seed,
            progress: new Progress<TrainingProgress>(p =>
            {
                if (p.IsEpochEnd) output.WriteLine($"epoch {p.Epoch}/{p.Epochs}: training loss {p.Loss:F4}");
            }));
        clock.Stop();

        double bce = model.Evaluate(test).Loss;
        double mse = MeanSquaredError(model, test);
        output.WriteLine($"Test reconstruction: binary cross-entropy {bce:F4}, mean squared error {mse:F5} per pixel " +
            $"({epochs} epochs in {clock.Elapsed.TotalSeconds:F1} s)");
        var (width, height) = ReconstructionGrid.WritePng(model, test, picture);
        output.WriteLine($"Wrote {picture} ({width}x{height}): the first 20 test digits above their reconstructions");
        return 0;
    }

    /// <summary>The mean over every pixel of every sample of (reconstruction − original)².</summary>
    public static double MeanSquaredError(IModel model, Dataset images)
    {
        float[] outputs = model.Predict(images);
        ReadOnlySpan<float> x = images.Features;
        double sum = 0;
        for (int i = 0; i < outputs.Length; i++) sum += (outputs[i] - x[i]) * (double)(outputs[i] - x[i]);
        return sum / outputs.Length;
    }
}
