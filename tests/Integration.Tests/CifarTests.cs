namespace Compiled.Integration.Tests;

/// <summary>The primers' CIFAR-10 CNN, as samples/Cifar10 declares it.</summary>
[Input(32, 32, 3)]
[Conv2D(32, 3, Activation.Relu)] [MaxPool2D(2)]
[Conv2D(64, 3, Activation.Relu)] [MaxPool2D(2)]
[Conv2D(128, 3, Activation.Relu)] [MaxPool2D(2)]
[Flatten]
[Dense(512, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CifarCnn;

/// <summary>
/// CIFAR-10 itself cannot be had here, so the CNN trains on a synthetic set written in the exact binary format
/// (records of one label byte and 3,072 pixel bytes, red, green and blue planes) and read back by <see cref="Cifar10.Load"/>.
/// </summary>
public class CifarTests
{
    /// <summary>Class k: a bright band across rows 3k..3k+2 in channel k mod 3, on seeded noise.</summary>
    private static byte[] Records(int count, int seed)
    {
        var rng = new Rng(seed);
        var bytes = new byte[count * Cifar10.RecordSize];
        for (int r = 0; r < count; r++)
        {
            int label = r % 10, at = r * Cifar10.RecordSize;
            bytes[at] = (byte)label;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        bool band = c == label % 3 && y >= 3 * label && y < 3 * label + 3;
                        bytes[at + 1 + c * 1024 + y * 32 + x] = band ? (byte)(200 + rng.NextInt(56)) : (byte)rng.NextInt(100);
                    }
        }
        return bytes;
    }

    [Fact]
    public void CifarCnnLossFallsOnASyntheticSetInTheBinaryFormat()
    {
        string directory = Path.Combine(Path.GetTempPath(), "compiled-cifar-" + Guid.NewGuid().ToString("N"));
        string batches = Path.Combine(directory, "cifar-10-batches-bin"); // as the official archive extracts
        Directory.CreateDirectory(batches);
        try
        {
            for (int i = 0; i < 5; i++) File.WriteAllBytes(Path.Combine(batches, Cifar10.TrainFiles[i]), Records(80, i + 1));
            File.WriteAllBytes(Path.Combine(batches, Cifar10.TestFile), Records(100, 9));
            var (train, test) = Cifar10.Load(directory);
            Assert.Equal(400, train.Count);
            Assert.Equal(CifarCnn.InputSize, train.FeatureSize);

            var model = new CifarCnn(seed: 1);
            (double before, _) = model.Evaluate(test);
            History history = model.Fit(train, epochs: 4, batchSize: 32, optimizer: new Adam(1e-3), seed: 1,
                cancellationToken: TestContext.Current.CancellationToken);
            var (after, accuracy) = model.Evaluate(test);
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"CifarCnn on 400 synthetic records: train loss {history[0].Loss:F4} → {history.Last.Loss:F4}; test loss {before:F4} → {after:F4}, accuracy {accuracy:P1}");
            Assert.True(history.Last.Loss < history[0].Loss / 2, "training loss falls by half");
            Assert.True(after < before / 2, "test loss falls by half");
            Assert.True(accuracy > 0.5, $"test accuracy {accuracy:P1}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
