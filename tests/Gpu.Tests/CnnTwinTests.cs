namespace Compiled.Gpu.Tests;

/// <summary>6x6x2 → conv 3 (3x3, tanh) → max pool 2 → flatten → 3 softmax.</summary>
[Input(6, 6, 2)]
[Conv2D(3, 3, Activation.Tanh)]
[MaxPool2D(2)]
[Flatten]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyCnnTwin;

/// <summary>Same padding, stride 2, no bias, average and global average pooling, a GELU kept pre-activation.</summary>
[Input(5, 5, 3)]
[Conv2D(4, 3, Activation.Gelu, Padding = Padding.Same, Stride = 2)]
[AvgPool2D(2, Padding = Padding.Same)]
[Conv2D(5, 1, 2, Activation.Relu, UseBias = false)]
[GlobalAveragePool2D]
[Dense(2, Activation.Sigmoid)]
[Loss(Loss.BinaryCrossEntropy)]
public partial class OddCnnTwin;

/// <summary>The generated GPU twins of convolutional models against their CPU models, on ILGPU's CPU accelerator.</summary>
public class CnnTwinTests(ITestOutputHelper output)
{
    private void Compare(IModel cpu, IGpuModel gpuModel, float[] x, float[] t, int batch, string name)
    {
        using GpuTwin twin = gpuModel.CreateGpuTwin(Simulator.Device);
        int o = cpu.OutputSize;
        float[] outCpu = new float[batch * o], outGpu = new float[batch * o];
        float lossCpu = cpu.ComputeGradients(x, t, outCpu, batch);
        float lossGpu = twin.ComputeGradients(x, t, outGpu, batch);
        var grads = new float[cpu.Parameters.Length];
        twin.DownloadGradients(grads);
        Check.Close(output, $"{name} loss", lossCpu, lossGpu, 1e-5);
        Check.Close(output, $"{name} training outputs", outCpu, outGpu, 1e-5);
        Check.Close(output, $"{name} gradients", cpu.Gradients, grads, 1e-5);
        cpu.Forward(x, outCpu, batch);
        twin.Forward(x, outGpu, batch);
        Check.Close(output, $"{name} predictions", outCpu, outGpu, 1e-5);
    }

    [Fact]
    public void TinyCnn_twin_matches_the_cpu_model()
        => Compare(new TinyCnnTwin(seed: 2), new TinyCnnTwin(seed: 2), Check.Random(3 * 72, 1), Check.Labels(3, 3, 2), 3, "TinyCnn");

    [Fact]
    public void OddCnn_twin_matches_the_cpu_model()
        => Compare(new OddCnnTwin(seed: 3), new OddCnnTwin(seed: 3), Check.Random(2 * 75, 4), [1f, 0f, 0f, 1f], 2, "OddCnn");
}
