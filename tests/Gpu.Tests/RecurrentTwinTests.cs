using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

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

    /// <summary>No GPU here, but ILGPU's PTX backend runs anywhere: every kernel of the recurrent twins (the group-per-
    /// sample time loops with their barriers, and the dense GEMMs over batch·T rows) compiles for sm_90.</summary>
    [Fact]
    public void Every_recurrent_twin_kernel_compiles_to_PTX_for_sm_90_without_libdevice()
    {
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_80, null);
        int count = 0;
        foreach (Type type in new[] { typeof(LstmTwin), typeof(GruTwin), typeof(StackedRnnTwin) })
        {
            foreach (MethodInfo kernel in type.GetMethods(BindingFlags.NonPublic | BindingFlags.Static)
                         .Where(m => m.Name.StartsWith("GpuLayers", StringComparison.Ordinal)))
            {
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), default);
                Assert.Contains(".entry", compiled.PTXAssembly);
                Assert.DoesNotContain(".extern", compiled.PTXAssembly);
                output.WriteLine($"{type.Name}.{kernel.Name}: {compiled.PTXAssembly.Length:N0} chars of PTX");
                count++;
            }
        }
        Assert.True(count >= 12, $"found {count} kernels");
    }
}
