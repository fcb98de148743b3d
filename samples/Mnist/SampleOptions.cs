namespace Compiled.Samples;

/// <summary>The sample's command line: <c>--model mlp|cnn --epochs N --batch-size N --data DIR --limit N --seed N --save PATH --device cpu|gpu</c>.</summary>
internal sealed record SampleOptions(int Epochs, int BatchSize, string DataDirectory, int? Limit, int Seed, string CheckpointPath,
    string Device = "cpu", string Model = "mlp")
{
    public static SampleOptions Parse(string[] args)
    {
        var options = new SampleOptions(5, 64, Path.Combine(AppContext.BaseDirectory, "data"), null, 1, "mnist.safetensors");
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Number() => int.TryParse(Value(), out int n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive whole number.");
            options = name switch
            {
                "--epochs" => options with { Epochs = Number() },
                "--batch-size" => options with { BatchSize = Number() },
                "--data" => options with { DataDirectory = Value() },
                "--limit" => options with { Limit = Number() },
                "--seed" => options with { Seed = Number() },
                "--save" => options with { CheckpointPath = Value() },
                "--device" => options with { Device = ParseDevice(Value()) },
                "--model" => options with { Model = Value() is "mlp" or "cnn" ? args[i] : throw new ArgumentException("--model takes mlp or cnn.") },
                _ => throw new ArgumentException(
                    $"Unknown option '{name}'. Options: --model mlp|cnn, --epochs N, --batch-size N, --data DIR, --limit N, --seed N, --save PATH, --device cpu|gpu."),
            };
        }
        return options;
    }

    private static string ParseDevice(string value) => value is "cpu" or "gpu" or "gpu-simulator"
        ? value
        : throw new ArgumentException("--device takes cpu, gpu, or gpu-simulator (the GPU kernels on ILGPU's CPU accelerator, slowly).");
}
