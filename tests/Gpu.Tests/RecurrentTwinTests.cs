namespace Compiled.Gpu.Tests;

/// <summary>3 steps of 4 features → LSTM 5 → 2 softmax.</summary>
[Input(3, 4)]
[Lstm(5)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class LstmTwin;

/// <summary>3 steps of 4 features → GRU 5 → 2 softmax.</summary>
[Input(3, 4)]
[Gru(5)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class GruTwin;

/// <summary>A tanh RNN returning every step under an LSTM: stacking, and a recurrent layer's input gradient.</summary>
[Input(3, 4)]
[SimpleRnn(5, ReturnSequences = true)]
[Lstm(5)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class StackedRnnTwin;

/// <summary>The generated GPU twins of recurrent models against their CPU models, on ILGPU's CPU accelerator (tiny sizes).</summary>
public class RecurrentTwinTests(ITestOutputHelper output)
{
    private void Compare(IModel cpu, IGpuModel gpuModel, string name)
    {
        const int batch = 2;
        float[] x = Check.Random(batch * cpu.InputSize, 1), t = [1f, 0f];
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
    public void Lstm_twin_matches_the_cpu_model() => Compare(new LstmTwin(seed: 2), new LstmTwin(seed: 2), "Lstm");

    [Fact]
    public void Gru_twin_matches_the_cpu_model() => Compare(new GruTwin(seed: 3), new GruTwin(seed: 3), "Gru");

    [Fact]
    public void Stacked_rnn_twin_matches_the_cpu_model() => Compare(new StackedRnnTwin(seed: 4), new StackedRnnTwin(seed: 4), "SimpleRnn+Lstm");
}
