using System.CommandLine;
using System.Diagnostics;
using Compiled;

namespace Compiled.Samples.Autoencoder;

/// <summary>
/// The sample: trains <see cref="DigitAutoencoder"/> on MNIST, reports the reconstruction loss on the test set and writes
/// <c>reconstructions.png</c> and <c>history.png</c>. Options (System.CommandLine, <c>--help</c> lists them):
/// <c>--epochs N --batch-size N --limit N --seed N --data DIR --output PATH --plot PATH --no-plot</c>.
/// </summary>
public static class AutoencoderSample
{
    /// <summary>
    /// Runs the sample, writing its report to <paramref name="output"/>; returns the process exit code: 0, 2 for a
    /// command line that does not parse or validate (a bad number, a missing data directory), 1 for data it cannot read.
    /// Errors go to standard error on one line.
    /// </summary>
    public static int Run(string[] args, TextWriter output)
    {
        var epochs = SampleCli.Positive("--epochs", 10, "Passes over the training set.");
        var batchSize = SampleCli.Positive("--batch-size", 128, "Samples per training step.");
        var limit = SampleCli.OptionalPositive("--limit", "Train on the first N training images only (and test on the first max(N/6, 20)).");
        var seed = SampleCli.Positive("--seed", 1, "Seed of the initial weights and of the shuffling.");
        var data = SampleCli.ExistingDirectory("--data", Path.Combine(AppContext.BaseDirectory, "data"),
            "The directory with the four MNIST IDX files (.gz or raw); the sample ships a copy.");
        var picture = new Option<string>("--output")
        {
            Description = "Where to write the picture of the first 20 test digits above their reconstructions (PNG).",
            DefaultValueFactory = _ => "reconstructions.png", HelpName = "PATH",
        };
        var plot = new HistoryPlot();
        var command = new RootCommand("Trains a dense autoencoder (784-128-32-128-784) on MNIST with Compiled, reports the test set's " +
            "reconstruction loss and draws reconstructions.") { epochs, batchSize, limit, seed, data, picture };
        plot.AddTo(command);
        command.SetAction(parsed => Train(parsed.GetValue(epochs), parsed.GetValue(batchSize), parsed.GetValue(limit), parsed.GetValue(seed),
            parsed.GetRequiredValue(data), parsed.GetRequiredValue(picture), plot.PathOf(parsed), output));
        return SampleCli.Run(command, args);
    }

    private static int Train(int epochs, int batchSize, int? limit, int seed, string data, string picture, string? plotPath, TextWriter output)
    {
        var (train, test) = Mnist.Load(data);
        if (limit is int n)
        {
            train = train.Take(n);
            test = test.Take(Math.Max(n / 6, 20));
        }
        output.WriteLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test images; kernels: {Hardware.KernelIsa}");

        var model = new DigitAutoencoder(seed);
        output.WriteLine($"Model: 784 → 128 → 32 → 128 → 784 (ReLU, sigmoid output), {DigitAutoencoder.ParameterCount:N0} parameters, " +
            "binary cross-entropy against the input");
        output.Write(model.Summary());
        var clock = Stopwatch.StartNew();
        History history = model.Fit(train, epochs, batchSize, new Adam(2e-3) { Schedule = new CosineDecay(epochs) }, seed: seed,
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
        HistoryPlot.Write(history, plotPath, output);
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
