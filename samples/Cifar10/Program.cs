// Trains the primers' CIFAR-10 CNN (three 3x3 convolutions with max pooling, Dense 512, Dense 10) on the official
// binary batches, compiled at build time like every Compiled model (see obj/*/generated/).
//
//   dotnet run -c Release --project samples/Cifar10 -- --data DIR [--epochs 10 --batch-size 64 --limit N --seed 1]
using Compiled;

int epochs = 10, batchSize = 64, seed = 1;
int? limit = null;
string? data = null;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string name = args[i];
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
        int Number() => int.TryParse(Value(), out int n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive whole number.");
        switch (name)
        {
            case "--data": data = Value(); break;
            case "--epochs": epochs = Number(); break;
            case "--batch-size": batchSize = Number(); break;
            case "--limit": limit = Number(); break;
            case "--seed": seed = Number(); break;
            default: throw new ArgumentException($"Unknown option '{name}'. Options: --data DIR, --epochs N, --batch-size N, --limit N, --seed N.");
        }
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

if (data is null || !Directory.Exists(data))
{
    Console.Error.WriteLine(data is null ? "CIFAR-10 does not ship with this sample: give its directory with --data DIR." : $"No directory '{data}'.");
    Console.Error.WriteLine("Get the binary version from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (about 163 MB) and");
    Console.Error.WriteLine("extract it: 'tar -xzf cifar-10-binary.tar.gz -C DIR' makes DIR/cifar-10-batches-bin/ with data_batch_1.bin ..");
    Console.Error.WriteLine("data_batch_5.bin and test_batch.bin (10,000 records of 1 label byte + 3,072 pixel bytes each); pass DIR.");
    return 2;
}

Dataset train, test;
try
{
    (train, test) = Cifar10.Load(data);
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
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
return 0;

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
