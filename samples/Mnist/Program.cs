// Trains a multilayer perceptron (or, with --model cnn, the primers' convolutional network) on MNIST: the models below
// are compiled at build time into straight-line forward and backward code (see obj/*/generated/), then trained with
// Adam and evaluated on the test set.
//
//   dotnet run -c Release --project samples/Mnist [-- --model mlp|cnn --epochs 5 --batch-size 64 --data DIR --limit N --seed 1 --device cpu|gpu --plot history.png]
//   (--help lists the options)
using Compiled;
using Compiled.Samples;

return SampleCli.Run(SampleOptions.Command(Train), args);

static int Train(SampleOptions options)
{
    var (train, test) = Mnist.Load(options.DataDirectory);
    if (options.Limit is int limit) train = train.Take(limit);
    Console.WriteLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test images from {options.DataDirectory}");
    Console.WriteLine($"Kernels: {Hardware.KernelIsa}");

    IModel model = options.Model == "cnn" ? new MnistCnn(seed: options.Seed) : new MnistMlp(seed: options.Seed);
    Console.WriteLine(options.Model == "cnn"
        ? $"Model: 28x28x1 → Conv2D(32, 3x3, ReLU) → MaxPool2D(2) → Conv2D(64, 3x3, ReLU) → MaxPool2D(2) → Flatten → Dense(128, ReLU) → Dense(10, Softmax), {MnistCnn.ParameterCount:N0} parameters"
        : $"Model: 784 → Dense(128, ReLU) → Dense(10, Softmax), {MnistMlp.ParameterCount:N0} parameters");
    Console.Write(model.Summary());

    // Adam with the learning rate annealed to zero over the run (cosine).
    var optimizer = new Adam(2e-3) { Schedule = new CosineDecay(options.Epochs) };
    IReadOnlyList<EpochMetrics> epochs = options.Device == "cpu"
        ? model.Fit(train, epochs: options.Epochs, batchSize: options.BatchSize, optimizer: optimizer,
            validation: test, progress: new ConsoleProgressBar(), seed: options.Seed)
        : SampleGpu.Fit(model, options, train, test, optimizer); // same seed, same batches, same optimizer, on the GPU twin

    var (loss, accuracy) = model.Evaluate(test);
    Console.WriteLine($"Test accuracy: {accuracy:P2} (loss {loss:F4}) after {epochs.Count} epoch{(epochs.Count == 1 ? "" : "s")} on {options.Device}");

    model.Save(options.CheckpointPath);
    IModel reloaded = options.Model == "cnn" ? MnistCnn.Load(options.CheckpointPath) : MnistMlp.Load(options.CheckpointPath);
    Console.WriteLine($"Saved {options.CheckpointPath}; reloaded model's test accuracy: {reloaded.Evaluate(test).Accuracy:P2}");
    HistoryPlot.Write(epochs, options.PlotPath);
    return 0;
}

// The two networks are declared in Models.cs (samples/AotInference links the same file to read their checkpoints).
