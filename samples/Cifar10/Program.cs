// Trains the primers' CIFAR-10 CNN (three 3x3 convolutions with max pooling, Dense 512, Dense 10) on the official
// binary batches, compiled at build time like every Compiled model (see obj/*/generated/).
//
//   dotnet run -c Release --project samples/Cifar10 -- --data DIR [--epochs 10 --batch-size 64 --limit N --seed 1 --plot history.png]
//   (--help lists the options)
using System.CommandLine;
using Compiled;
using Compiled.Samples;

const string whereToGetIt = "CIFAR-10 does not ship with this sample: get the binary version from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz " +
    "(about 163 MB) and extract it with 'tar -xzf cifar-10-binary.tar.gz -C DIR', which makes DIR/cifar-10-batches-bin/ with " +
    "data_batch_1.bin .. data_batch_5.bin and test_batch.bin; pass DIR.";
var data = SampleCli.ExistingDirectory("--data", null, "The directory holding the binary batches (required). " + whereToGetIt,
    hint: "Get CIFAR-10's binary version from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it there (see --help).");
var epochs = SampleCli.Positive("--epochs", 10, "Passes over the training set.");
var batchSize = SampleCli.Positive("--batch-size", 64, "Samples per training step.");
var limit = SampleCli.OptionalPositive("--limit", "Train on the first N training images only.");
var seed = SampleCli.Positive("--seed", 1, "Seed of the initial weights and of the shuffling.");
var plot = new HistoryPlot();
var command = new RootCommand("Trains the primers' CIFAR-10 CNN with Compiled and evaluates it on the test batch.") { data, epochs, batchSize, limit, seed };
plot.AddTo(command);
command.Validators.Add(result =>
{
    if (result.GetResult(data) is null) result.AddError("--data DIR is required: CIFAR-10 does not ship with this sample (--help says where to get it).");
});
command.SetAction(parsed => Train(parsed.GetRequiredValue(data), parsed.GetValue(epochs), parsed.GetValue(batchSize), parsed.GetValue(limit),
    parsed.GetValue(seed), plot.PathOf(parsed)));
return SampleCli.Run(command, args);

static int Train(string data, int epochs, int batchSize, int? limit, int seed, string? plotPath)
{
    var (train, test) = Cifar10.Load(data);
    if (limit is int n) train = train.Take(Math.Min(n, train.Count));
    Console.WriteLine($"CIFAR-10: {train.Count:N0} training and {test.Count:N0} test images from {data}; kernels: {Hardware.KernelIsa}");

    var model = new CifarCnn(seed: seed);
    Console.WriteLine($"Model: 32x32x3 → 3 × (Conv2D 3x3, ReLU → MaxPool2D 2) → Flatten → Dense(512, ReLU) → Dense(10, Softmax), {CifarCnn.ParameterCount:N0} parameters");
    Console.Write(model.Summary());
    var history = model.Fit(train, epochs, batchSize, new Adam(1e-3) { Schedule = new CosineDecay(epochs) }, validation: test, seed: seed,
    progress: new Progress<TrainingProgress>(p =>
    {
        if (p.IsEpochEnd)
            Console.WriteLine($"epoch {p.Epoch}/{p.Epochs}: loss {p.Loss:F4}, accuracy {p.Accuracy:P2}, val_accuracy {p.ValidationAccuracy:P2}");
    }));
    var (loss, accuracy) = model.Evaluate(test);
    Console.WriteLine($"Test accuracy: {accuracy:P2} (loss {loss:F4}) after {history.Count} epochs");
    HistoryPlot.Write(history, plotPath);
    return 0;
}

/// <summary>The primers' CIFAR-10 CNN: 3 × (Conv2D 3x3 + MaxPool 2), Flatten, Dense 512, Dense 10.</summary>
[Input(32, 32, 3)]
[Conv2D(32, 3, Activation.Relu)] [MaxPool2D(2)]
[Conv2D(64, 3, Activation.Relu)] [MaxPool2D(2)]
[Conv2D(128, 3, Activation.Relu)] [MaxPool2D(2)]
[Flatten]
[Dense(512, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CifarCnn;
