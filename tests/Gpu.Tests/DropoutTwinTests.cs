namespace Compiled.Gpu.Tests;

/// <summary>6 → 8 tanh → dropout 0.5 → 3 softmax: the Dropout layer in a generated GPU twin.</summary>
[Input(6)]
[Dense(8, Activation.Tanh)]
[Dropout(0.5)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class DropoutTwinNet;

/// <summary>The twin drops exactly the elements the CPU model drops (the same hash of the same step seed).</summary>
public class DropoutTwinTests(ITestOutputHelper output)
{
    [Fact]
    public void Training_steps_give_the_cpu_gradients_and_prediction_is_the_identity()
    {
        const int batch = 5;
        var cpu = new DropoutTwinNet(seed: 4);
        var gpuModel = new DropoutTwinNet(seed: 4);
        using GpuTwin twin = gpuModel.CreateGpuTwin(Simulator.Device);
        float[] x = Check.Random(batch * 6, 1), t = Check.Labels(batch, 3, 2);
        var grads = new float[DropoutTwinNet.ParameterCount];
        for (int step = 0; step < 2; step++) // two steps: two different masks, drawn in step on both sides
        {
            float lossCpu = cpu.ComputeGradients(x, t, default, batch);
            float lossGpu = twin.ComputeGradients(x, t, default, batch);
            twin.DownloadGradients(grads);
            Check.Close(output, $"step {step} loss", lossCpu, lossGpu, 1e-5);
            Check.Close(output, $"step {step} gradients", cpu.Gradients, grads, 1e-5);
        }
        float[] pCpu = new float[batch * 3], pGpu = new float[batch * 3];
        cpu.Forward(x, pCpu, batch);
        twin.Forward(x, pGpu, batch);
        Check.Close(output, "predictions (dropout off)", pCpu, pGpu, 1e-5);
    }
}
