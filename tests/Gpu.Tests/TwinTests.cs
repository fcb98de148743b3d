using Compiled.Gpu.Tests.HandWritten;

namespace Compiled.Gpu.Tests;

/// <summary>
/// The generated GPU twins against the generated CPU models: same seed and data, same gradients, the same loss
/// sequence over several optimizer steps, the same parameters and predictions after.
/// </summary>
public class TwinTests(ITestOutputHelper output)
{
    private static GpuDevice Device => Simulator.Device;

    [Fact]
    public void MnistMlp_gradients_match_the_cpu_model()
    {
        const int batch = 8;
        var cpu = new MnistMlp(seed: 7);
        var gpuModel = new MnistMlp(seed: 7);
        using GpuTwin twin = gpuModel.CreateGpuTwin(Device);
        float[] x = Check.Random(batch * 784, 1, 0f, 1f), t = Check.Labels(batch, 10, 2);
        float[] outCpu = new float[batch * 10], outGpu = new float[batch * 10];

        float lossCpu = cpu.ComputeGradients(x, t, outCpu, batch);
        float lossGpu = twin.ComputeGradients(x, t, outGpu, batch);
        var grads = new float[MnistMlp.ParameterCount];
        twin.DownloadGradients(grads);

        Check.Close(output, "loss", lossCpu, lossGpu, 1e-5);
        Check.Close(output, "outputs", outCpu, outGpu, 1e-5);
        Check.Close(output, "gradients", cpu.Gradients, grads, 1e-5);
    }

    [Fact]
    public void MnistMlp_ten_Adam_steps_on_real_MNIST_digits_give_the_cpu_losses_parameters_and_predictions()
    {
        const int batch = 8, steps = 5;
        Dataset test = MnistTestSet();
        var cpu = new MnistMlp(seed: 3);
        var gpuModel = new MnistMlp(seed: 3);
        var cpuAdam = new Adam(1e-3);
        using var gpuAdam = GpuOptimizer.From(new Adam(1e-3));
        using GpuTwin twin = gpuModel.CreateGpuTwin(Device);

        // Five batches of eight real digits (rows 0..39 of the test set), then the same five again: the second pass's
        // losses must be lower, so the steps demonstrably train.
        var cpuLosses = new float[2 * steps];
        for (int s = 0; s < 2 * steps; s++)
        {
            int start = (s % steps) * batch;
            ReadOnlySpan<float> x = test.Features.Slice(start * 784, batch * 784), t = test.Targets.Slice(start, batch);
            cpuLosses[s] = cpu.ComputeGradients(x, t, default, batch);
            cpuAdam.Step(cpu.Parameters, cpu.Gradients);
            twin.TrainStep(x, t, batch, gpuAdam);
        }
        var gpuLosses = new float[2 * steps];
        Assert.Equal(2 * steps, twin.ReadLosses(gpuLosses, out double sum, out long samples));
        Assert.Equal(2 * steps * batch, samples);
        output.WriteLine($"CPU losses {string.Join(", ", cpuLosses)}");
        output.WriteLine($"GPU losses {string.Join(", ", gpuLosses)}");
        Check.Close(output, "loss sequence", cpuLosses, gpuLosses, 1e-5);
        Assert.True(gpuLosses.AsSpan(steps).ToArray().Average() < 0.9 * gpuLosses.AsSpan(0, steps).ToArray().Average(),
            "the second pass over the same batches has a lower loss");

        twin.DownloadParameters();
        Check.Close(output, "parameters after 10 steps", cpu.Parameters, gpuModel.Parameters, 1e-5);

        ReadOnlySpan<float> probe = test.Features.Slice(1000 * 784, batch * 784);
        float[] pCpu = new float[batch * 10], pGpu = new float[batch * 10];
        cpu.Forward(probe, pCpu, batch);
        twin.Forward(probe, pGpu, batch);
        Check.Close(output, "predictions on unseen digits", pCpu, pGpu, 1e-5);
        for (int r = 0; r < batch; r++)
            Assert.Equal(ArgMax(pCpu.AsSpan(r * 10, 10)), ArgMax(pGpu.AsSpan(r * 10, 10)));
    }

    /// <summary>The MNIST test set the sample ships with (samples/Mnist/data), read once.</summary>
    private static Dataset MnistTestSet()
    {
        string data = Path.Combine(RepoRoot(), "samples", "Mnist", "data");
        return s_mnist ??= Mnist.Read(Path.Combine(data, Mnist.TestImagesFile + ".gz"), Path.Combine(data, Mnist.TestLabelsFile + ".gz"));
    }

    private static Dataset? s_mnist;

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Compiled.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Compiled.sln not found above {AppContext.BaseDirectory}.");
    }

    [Fact]
    public void TinySoftmaxMse_five_Nesterov_steps_match_the_cpu_model()
    {
        const int batch = 5, steps = 5;
        var cpu = new TinySoftmaxMse(seed: 11);
        var gpuModel = new TinySoftmaxMse(seed: 11);
        var cpuSgd = new Sgd(0.5, momentum: 0.9, nesterov: true);
        using var gpuSgd = GpuOptimizer.From(new Sgd(0.5, momentum: 0.9, nesterov: true));
        using GpuTwin twin = gpuModel.CreateGpuTwin(Device);
        var cpuLosses = new float[steps];
        for (int s = 0; s < steps; s++)
        {
            float[] x = Check.Random(batch * 4, 30 + s), t = Check.Random(batch * 3, 40 + s, 0f, 1f);
            cpuLosses[s] = cpu.ComputeGradients(x, t, default, batch);
            cpuSgd.Step(cpu.Parameters, cpu.Gradients);
            twin.TrainStep(x, t, batch, gpuSgd);
        }
        var gpuLosses = new float[steps];
        twin.ReadLosses(gpuLosses, out _, out _);
        Check.Close(output, "loss sequence", cpuLosses, gpuLosses, 1e-5);
        twin.DownloadParameters();
        Check.Close(output, "parameters", cpu.Parameters, gpuModel.Parameters, 1e-5);
    }

    [Fact]
    public void Gpu_Fit_matches_cpu_Fit_epoch_by_epoch_and_returns_the_trained_weights()
    {
        (Dataset train, Dataset validation) = TestData.Blobs();
        var cpu = new TinySoftmaxMse(seed: 5);
        var gpuModel = new TinySoftmaxMse(seed: 5);
        var reports = new List<TrainingProgress>();
        var schedule = new StepDecay(stepSize: 4, gamma: 0.5);
        History cpuHistory = cpu.Fit(train, epochs: 8, batchSize: 16, new Adam(0.05) { Schedule = schedule }, validation, seed: 9, cancellationToken: TestContext.Current.CancellationToken);
        IReadOnlyList<EpochMetrics> gpuHistory = gpuModel.Fit(Device, train, epochs: 8, batchSize: 16,
            new Adam(0.05) { Schedule = schedule }, validation, new ListProgress(reports), seed: 9, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(8, gpuHistory.Count);
        Assert.Equal(8, reports.Count);
        for (int e = 0; e < 8; e++)
        {
            output.WriteLine($"epoch {e + 1}: CPU loss {cpuHistory[e].Loss:F6} val acc {cpuHistory[e].ValidationAccuracy:F3} | " +
                $"GPU loss {gpuHistory[e].Loss:F6} val acc {gpuHistory[e].ValidationAccuracy:F3} lr {gpuHistory[e].LearningRate}");
            Check.Close(output, $"epoch {e + 1} loss", cpuHistory[e].Loss, gpuHistory[e].Loss, 1e-5);
            Check.Close(output, $"epoch {e + 1} validation loss", cpuHistory[e].ValidationLoss!.Value, gpuHistory[e].ValidationLoss!.Value, 1e-5);
            Assert.Equal(cpuHistory[e].LearningRate, gpuHistory[e].LearningRate);
            Assert.Equal(cpuHistory[e].Samples, gpuHistory[e].Samples);
        }
        Assert.True(gpuHistory[^1].Loss < 0.5 * gpuHistory[0].Loss, "training converges");
        Check.Close(output, "trained parameters", cpu.Parameters, gpuModel.Parameters, 1e-5);
    }

    [Fact]
    public void TinyGeluBinary_gradients_with_L2_and_Fit_with_accuracy_match_the_cpu_model()
    {
        const int batch = 9;
        var cpu = new TinyGeluBinary(seed: 2);
        var gpuModel = new TinyGeluBinary(seed: 2);
        float[] x = Check.Random(batch * 6, 70, -2f, 2f), t = Check.Labels(batch, 2, 71);
        float[] outCpu = new float[batch], outGpu = new float[batch];
        float lossCpu = cpu.ComputeGradients(x, t, outCpu, batch);
        float lossGpu;
        var grads = new float[cpu.Parameters.Length];
        using (GpuTwin twin = gpuModel.CreateGpuTwin(Device))
        {
            lossGpu = twin.ComputeGradients(x, t, outGpu, batch);
            twin.DownloadGradients(grads);
        }
        Check.Close(output, "loss with L2", lossCpu, lossGpu, 1e-5);
        Check.Close(output, "outputs", outCpu, outGpu, 1e-5);
        Check.Close(output, "gradients with L2", cpu.Gradients, grads, 1e-5);

        // Fit: a separable binary problem; per-epoch loss and training accuracy as the CPU trainer reports them.
        Dataset train = TestData.SeparableBinary(120, seed: 5);
        History cpuHistory = cpu.Fit(train, epochs: 4, batchSize: 32, new AdamW(0.05), train, seed: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        IReadOnlyList<EpochMetrics> gpuHistory = gpuModel.Fit(Device, train, epochs: 4, batchSize: 32, new AdamW(0.05), train, seed: 1,
            cancellationToken: TestContext.Current.CancellationToken);
        for (int e = 0; e < 4; e++)
        {
            output.WriteLine($"epoch {e + 1}: CPU loss {cpuHistory[e].Loss:F6} acc {cpuHistory[e].Accuracy:F4} val acc {cpuHistory[e].ValidationAccuracy:F4} | " +
                $"GPU loss {gpuHistory[e].Loss:F6} acc {gpuHistory[e].Accuracy:F4} val acc {gpuHistory[e].ValidationAccuracy:F4}");
            Check.Close(output, $"epoch {e + 1} loss", cpuHistory[e].Loss, gpuHistory[e].Loss, 1e-5);
            Assert.Equal(cpuHistory[e].Accuracy, gpuHistory[e].Accuracy, 6);
            Assert.Equal(cpuHistory[e].ValidationAccuracy!.Value, gpuHistory[e].ValidationAccuracy!.Value, 6);
            Check.Close(output, $"epoch {e + 1} validation loss", cpuHistory[e].ValidationLoss!.Value, gpuHistory[e].ValidationLoss!.Value, 1e-5);
        }
        Assert.True(gpuHistory[^1].Accuracy > 0.8, $"accuracy {gpuHistory[^1].Accuracy}");
        Check.Close(output, "trained parameters", cpu.Parameters, gpuModel.Parameters, 1e-5);
    }

    [Fact]
    public void Kernels_load_once_per_model_type_per_device()
    {
        using GpuDevice device = GpuDevice.OpenCpuSimulator();
        Assert.Equal(0, device.LoadedKernelSets);
        using (new TinySoftmaxMse(1).CreateGpuTwin(device)) { }
        int afterFirst = device.LoadedKernelSets;
        using (new TinySoftmaxMse(2).CreateGpuTwin(device)) { }
        using var twin = new TinySoftmaxMse(3).CreateGpuTwin(device);
        twin.TrainStep(Check.Random(8, 1), Check.Random(6, 2), 2, GpuOptimizer.From(new Sgd(0.1)));
        twin.ReadLosses(default, out _, out _);
        Assert.Equal(1, afterFirst); // the model's kernel set
        Assert.Equal(2, device.LoadedKernelSets); // + the runtime's optimizer kernels, once
    }

    [Fact]
    public void A_bad_label_is_reported_on_the_host_with_the_value()
    {
        using GpuTwin twin = new MnistMlp(1).CreateGpuTwin(Device);
        float[] x = new float[2 * 784], t = [3, 10];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => twin.ComputeGradients(x, t, default, 2));
        Assert.Contains("[0, 9]", e.Message);
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
