namespace Compiled.Gpu.Tests;

/// <summary>4 token ids (vocabulary 5) → embedding 3 → LSTM 4 over every step → 5 softmax at every step.</summary>
[Input(4)]
[Embedding(5, 3)]
[Lstm(4, ReturnSequences = true)]
[Dense(5, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class EmbeddedLstmTwin;

/// <summary>
/// The GPU twin (per-row input projection, the embedding's scatter) against the CPU model, which at batch 3 (12 rows,
/// 5 tokens) computes the projection per token and writes the embedding's gradient from the LSTM's backward; on ILGPU's
/// CPU accelerator, tiny sizes.
/// </summary>
public class EmbeddedLstmTwinTests(ITestOutputHelper output)
{
    [Fact]
    public void Gradients_and_outputs_match_the_cpu_models_per_token_path()
    {
        const int batch = 3;
        var cpu = new EmbeddedLstmTwin(seed: 6);
        var gpuModel = new EmbeddedLstmTwin(seed: 6);
        using GpuTwin twin = gpuModel.CreateGpuTwin(Simulator.Device);
        float[] x = Check.Labels(batch * 4, 5, 3), t = Check.Labels(batch * 4, 5, 4);
        x[1] = x[6] = x[11] = 2; // a token in three samples: its embedding row sums their gradients
        var outCpu = new float[batch * EmbeddedLstmTwin.OutputSize];
        var outGpu = new float[batch * EmbeddedLstmTwin.OutputSize];
        float lossCpu = cpu.ComputeGradients(x, t, outCpu, batch);
        float lossGpu = twin.ComputeGradients(x, t, outGpu, batch);
        var grads = new float[EmbeddedLstmTwin.ParameterCount];
        twin.DownloadGradients(grads);
        Check.Close(output, "loss", lossCpu, lossGpu, 1e-5);
        Check.Close(output, "training outputs", outCpu, outGpu, 1e-5);
        Check.Close(output, "gradients", cpu.Gradients, grads, 1e-5);
        Assert.Contains(cpu.Gradients.Slice(0, 5 * 3).ToArray(), g => g != 0);
    }
}
