namespace Compiled.Gpu.Tests;

/// <summary>4 token ids (vocabulary 5) → embedding 3 → 6 tanh at every step → 5 softmax at every step, sparse CE per step.</summary>
[Input(4)]
[Embedding(5, 3)]
[Dense(6, Activation.Tanh)]
[Dense(5, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class SequenceTwinNet;

/// <summary>The Embedding kernels and per-step Dense and loss in a generated GPU twin, at a tiny size on the simulator.</summary>
public class SequenceTwinTests(ITestOutputHelper output)
{
    [Fact]
    public void Gradients_outputs_and_id_checks_match_the_cpu_model()
    {
        const int batch = 3;
        var cpu = new SequenceTwinNet(seed: 2);
        var gpuModel = new SequenceTwinNet(seed: 2);
        using GpuTwin twin = gpuModel.CreateGpuTwin(Simulator.Device);
        float[] x = Check.Labels(batch * 4, 5, 1), t = Check.Labels(batch * 4, 5, 2);
        x[0] = x[5] = 3; // a repeated token: its embedding row sums two steps' gradients
        float lossCpu = cpu.ComputeGradients(x, t, default, batch);
        float lossGpu = twin.ComputeGradients(x, t, default, batch);
        var grads = new float[SequenceTwinNet.ParameterCount];
        twin.DownloadGradients(grads);
        Check.Close(output, "loss", lossCpu, lossGpu, 1e-5);
        Check.Close(output, "gradients", cpu.Gradients, grads, 1e-5);

        float[] pCpu = new float[batch * SequenceTwinNet.OutputSize], pGpu = new float[batch * SequenceTwinNet.OutputSize];
        cpu.Forward(x, pCpu, batch);
        twin.Forward(x, pGpu, batch);
        Check.Close(output, "outputs", pCpu, pGpu, 1e-5);

        // An id outside the vocabulary is refused on the host, naming the sample and position, before any upload.
        x[4 + 2] = 5;
        var e = Assert.Throws<ArgumentException>(() => twin.Forward(x, pGpu, batch));
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("position 2", e.Message);
        Assert.Throws<ArgumentException>(() => twin.ComputeGradients(x, t, default, batch));
        x[4 + 2] = 1;

        // The twin counts samples right as the CPU does: the fraction of a sample's steps right, not the steps.
        twin.UploadParameters();
        using var optimizer = GpuOptimizer.From(new Sgd(0.0));
        twin.TrainStep(x, t, batch, optimizer);
        twin.ReadLosses(default, out _, out long samples, out double correct);
        var outputs = new float[batch * SequenceTwinNet.OutputSize];
        gpuModel.Forward(x, outputs, batch);
        double expected = 0;
        for (int s = 0; s < batch * 4; s++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(outputs.AsSpan(s * 5, 5)) == (int)t[s]) expected += 0.25;
        Assert.Equal(batch, samples);
        Assert.Equal(expected, correct, 1e-6);
    }
}
