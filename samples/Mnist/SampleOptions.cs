using System.CommandLine;

namespace Compiled.Samples;

/// <summary>
/// The sample's command line (System.CommandLine; <c>--help</c> lists it): <c>--model mlp|cnn --epochs N --batch-size N
/// --data DIR --limit N --seed N --save PATH --device cpu|gpu|gpu-simulator --plot PATH --no-plot</c>.
/// </summary>
internal sealed record SampleOptions(int Epochs, int BatchSize, string DataDirectory, int? Limit, int Seed, string CheckpointPath,
    string Device = "cpu", string Model = "mlp", string? PlotPath = "history.png")
{
    /// <summary>The root command: parses and validates the options, then runs <paramref name="train"/> with them.</summary>
    public static RootCommand Command(Func<SampleOptions, int> train)
    {
        var model = SampleCli.Choice("--model", "The network: a 784-128-10 perceptron, or the primers' CNN.", "mlp", "cnn");
        var epochs = SampleCli.Positive("--epochs", 5, "Passes over the training set.");
        var batchSize = SampleCli.Positive("--batch-size", 64, "Samples per training step.");
        var data = SampleCli.ExistingDirectory("--data", Path.Combine(AppContext.BaseDirectory, "data"),
            "The directory with the four MNIST IDX files (.gz or raw); the sample ships a copy.");
        var limit = SampleCli.OptionalPositive("--limit", "Train on the first N training images only.");
        var seed = SampleCli.Positive("--seed", 1, "Seed of the initial weights and of the shuffling.");
        var save = new Option<string>("--save")
        {
            Description = "Where to write the trained model (safetensors).", DefaultValueFactory = _ => "mnist.safetensors", HelpName = "PATH",
        };
        var device = SampleCli.Choice("--device",
            "Where to train: cpu, gpu (CUDA), or gpu-simulator (the GPU kernels on ILGPU's CPU accelerator, slowly).", "cpu", "gpu", "gpu-simulator");
        var plot = new HistoryPlot();

        var command = new RootCommand("Trains a network on MNIST with Compiled, evaluates it on the test set and saves it.")
        {
            model, epochs, batchSize, data, limit, seed, save, device,
        };
        plot.AddTo(command);
        command.SetAction(parsed => train(new SampleOptions(
            parsed.GetValue(epochs), parsed.GetValue(batchSize), parsed.GetRequiredValue(data), parsed.GetValue(limit),
            parsed.GetValue(seed), parsed.GetRequiredValue(save), parsed.GetRequiredValue(device), parsed.GetRequiredValue(model),
            plot.PathOf(parsed))));
        return command;
    }
}
