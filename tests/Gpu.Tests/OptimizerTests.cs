using ILGPU.Runtime;
namespace Compiled.Gpu.Tests;

/// <summary>The optimizer kernels against the CPU optimizers (Compiled.Sgd, Adam, AdamW, RmsProp) over several steps.</summary>
public class OptimizerTests(ITestOutputHelper output)
{
    public static TheoryData<string> Optimizers => new(
    [
        "Sgd", "SgdMomentum", "SgdNesterovDecay", "Adam", "AdamDecay", "AdamW", "RmsProp", "RmsPropMomentumDecay", "AdamClipped", "SgdClipped",
    ]);

    private static Optimizer Make(string name) => name switch
    {
        "Sgd" => new Sgd(0.1),
        "SgdMomentum" => new Sgd(0.05, momentum: 0.9),
        "SgdNesterovDecay" => new Sgd(0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-2),
        "Adam" => new Adam(1e-2),
        "AdamDecay" => new Adam(1e-2, weightDecay: 1e-2),
        "AdamW" => new AdamW(1e-2, weightDecay: 0.1),
        "RmsProp" => new RmsProp(1e-2),
        "RmsPropMomentumDecay" => new RmsProp(1e-2, momentum: 0.8, weightDecay: 1e-2),
        "AdamClipped" => new Adam(1e-2) { ClipNorm = 0.5 },
        "SgdClipped" => new Sgd(0.1, momentum: 0.5) { ClipNorm = 0.5 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Update_kernel_matches_the_cpu_optimizer_over_four_steps(string name)
    {
        const int n = 1037; // several trips of the grid-stride loop, and a ragged end
        GpuDevice device = Simulator.Device;
        Optimizer cpu = Make(name);
        using GpuOptimizer gpu = GpuOptimizer.From(Make(name));
        float[] p = Check.Random(n, 1);
        using var dp = Check.Upload(device, p);
        using var dg = device.Allocate(n, "gradients");
        for (int step = 1; step <= 4; step++)
        {
            float[] g = Check.Random(n, 100 + step, -2f, 2f);
            dg.View.CopyFromCPU(g);
            cpu.Step(p, g);
            gpu.Enqueue(device, dp.View, dg.View);
            device.Synchronize();
            Check.Close(output, $"{name} step {step} parameters", p, Check.Download(dp, n), 2e-6);
            Check.Close(output, $"{name} step {step} (clipped) gradients", g, Check.Download(dg, n), 2e-6);
        }
        Assert.Equal(4, gpu.Steps);
    }

    [Fact]
    public void State_belongs_to_one_arena()
    {
        GpuDevice device = Simulator.Device;
        using GpuOptimizer gpu = GpuOptimizer.From(new Adam(1e-3));
        using var a = device.Allocate(10, "a");
        using var b = device.Allocate(12, "b");
        gpu.Enqueue(device, a.View, a.View);
        var e = Assert.Throws<ArgumentException>(() => gpu.Enqueue(device, b.View, b.View));
        Assert.Contains("Reset()", e.Message);
        gpu.Reset();
        gpu.Enqueue(device, b.View, b.View);
        Assert.Equal(1, gpu.Steps);
    }

    [Fact]
    public void An_optimizer_without_a_kernel_is_refused_clearly()
    {
        var e = Assert.Throws<NotSupportedException>(() => GpuOptimizer.From(new HalfSgd()));
        Assert.Contains("HalfSgd", e.Message);
        Assert.Contains("CPU", e.Message);
    }

    private sealed class HalfSgd() : Optimizer(0.1)
    {
        protected override void AllocateState(int length) { }
        protected override void ReleaseState() { }
        protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
        {
            for (int i = 0; i < parameters.Length; i++) parameters[i] -= 0.5f * learningRate * gradients[i];
        }
    }
}
