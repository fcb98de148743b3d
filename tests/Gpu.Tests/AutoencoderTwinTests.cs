using Compiled.Gpu.Tests.HandWritten;

namespace Compiled.Gpu.Tests.HandWritten
{
    /// <summary>6 → 3 tanh → 6 sigmoid, binary cross-entropy against its own input: an autoencoder.</summary>
    [Input(6)]
    [Dense(3, Activation.Tanh)]
    [Dense(6, Activation.Sigmoid)]
    [Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
    public partial class TinyAutoencoder;
}

namespace Compiled.Gpu.Tests
{
    /// <summary>GPU Fit of an autoencoder uses the features as targets (the data set's labels are ignored), as the CPU Fit does.</summary>
    public class AutoencoderTwinTests(ITestOutputHelper output)
    {
        [Fact]
        public void Gpu_Fit_of_an_autoencoder_matches_cpu_Fit()
        {
            float[] x = Check.Random(40 * 6, 21, 0f, 1f);
            var train = new Dataset(x, Check.Labels(40, 3, 22), 6, 1); // labels of the wrong size: never read
            var cpu = new TinyAutoencoder(seed: 4);
            var gpuModel = new TinyAutoencoder(seed: 4);
            History cpuHistory = cpu.Fit(train, epochs: 3, batchSize: 8, new Adam(0.05), train, seed: 2,
                cancellationToken: TestContext.Current.CancellationToken);
            IReadOnlyList<EpochMetrics> gpuHistory = gpuModel.Fit(Simulator.Device, train, epochs: 3, batchSize: 8, new Adam(0.05), train,
                seed: 2, cancellationToken: TestContext.Current.CancellationToken);
            for (int e = 0; e < 3; e++)
            {
                output.WriteLine($"epoch {e + 1}: CPU loss {cpuHistory[e].Loss:F6} val {cpuHistory[e].ValidationLoss:F6} | " +
                    $"GPU loss {gpuHistory[e].Loss:F6} val {gpuHistory[e].ValidationLoss:F6}");
                Check.Close(output, $"epoch {e + 1} loss", cpuHistory[e].Loss, gpuHistory[e].Loss, 1e-5);
                Check.Close(output, $"epoch {e + 1} validation loss", cpuHistory[e].ValidationLoss!.Value, gpuHistory[e].ValidationLoss!.Value, 1e-5);
            }
            Check.Close(output, "trained parameters", cpu.Parameters, gpuModel.Parameters, 1e-5);
            Check.Close(output, "GPU Evaluate", cpu.Evaluate(train).Loss, gpuModel.Evaluate(Simulator.Device, train).Loss, 1e-5);
        }
    }
}
