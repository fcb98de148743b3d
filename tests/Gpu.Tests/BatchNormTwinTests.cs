using System.Runtime.InteropServices;

namespace Compiled.Gpu.Tests;

/// <summary>BatchNorm2d after a conv (ReLU), BatchNorm1d after a Dense (Tanh, its derivative applied by the next Dense's
/// backward kernel on the GPU).</summary>
[Input(4, 4, 2)]
[Conv2D(3, 3)]
[BatchNorm(Activation.Relu)]
[Flatten]
[Dense(4)]
[BatchNorm(Activation.Tanh, Momentum = 0.3)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class BatchNormTwinNet;

/// <summary>The generated GPU twin of a model with BatchNorm against its CPU model, on ILGPU's CPU accelerator.</summary>
public class BatchNormTwinTests(ITestOutputHelper output)
{
    [Fact]
    public void BatchNorm_twin_matches_the_cpu_model_including_running_statistics()
    {
        const int batch = 3;
        var cpu = new BatchNormTwinNet(seed: 2);
        var gpuModel = new BatchNormTwinNet(seed: 2);
        using GpuTwin twin = gpuModel.CreateGpuTwin(Simulator.Device);
        float[] x = Check.Random(batch * BatchNormTwinNet.InputSize, 1);
        float[] t = Check.Labels(batch, 3, 2);
        int o = BatchNormTwinNet.OutputSize;
        float[] outCpu = new float[batch * o], outGpu = new float[batch * o];
        float lossCpu = cpu.ComputeGradients(x, t, outCpu, batch);
        float lossGpu = twin.ComputeGradients(x, t, outGpu, batch);
        var grads = new float[cpu.Parameters.Length];
        twin.DownloadGradients(grads);
        Check.Close(output, "BatchNorm loss", lossCpu, lossGpu, 1e-5);
        Check.Close(output, "BatchNorm training outputs", outCpu, outGpu, 1e-5);
        Check.Close(output, "BatchNorm gradients", cpu.Gradients, grads, 1e-5);

        // A second step, then the running statistics and counters as the device has them.
        float[] x2 = Check.Random(batch * BatchNormTwinNet.InputSize, 7);
        cpu.ComputeGradients(x2, t, default, batch);
        twin.ComputeGradients(x2, t, default, batch);
        var buffers = new float[cpu.Buffers.Length];
        twin.DownloadBuffers(buffers);
        foreach (TensorInfo tensor in cpu.BufferTensors)
        {
            if (tensor.DataType == TensorDataType.Int64)
            {
                long host = MemoryMarshal.Cast<float, long>(cpu.Buffers.Slice(tensor.Offset, 2))[0];
                long device = MemoryMarshal.Cast<float, long>(buffers.AsSpan(tensor.Offset, 2))[0];
                Assert.Equal(2, host);
                Assert.Equal(host, device);
                continue;
            }
            Check.Close(output, tensor.Name, cpu.Buffers.Slice(tensor.Offset, tensor.Length), buffers.AsSpan(tensor.Offset, tensor.Length), 1e-5);
        }

        // Predictions with the running statistics.
        cpu.Forward(x, outCpu, batch);
        twin.Forward(x, outGpu, batch);
        Check.Close(output, "BatchNorm predictions", outCpu, outGpu, 1e-5);

        // Downloading brings the buffers back into the model.
        twin.DownloadParameters();
        Assert.Equal(2, MemoryMarshal.Cast<float, long>(gpuModel.Buffers.Slice(gpuModel.BufferTensors[2].Offset, 2))[0]);
    }
}
