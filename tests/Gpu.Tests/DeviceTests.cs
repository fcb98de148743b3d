using System.Diagnostics;
using System.Reflection;
using Compiled.Gpu.CompilerServices;
using Compiled.Gpu.Tests.HandWritten;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Compiled.Gpu.Tests;

/// <summary>Device selection, failure modes, and the kernels' compilation for CUDA (checked without a GPU).</summary>
public class DeviceTests(ITestOutputHelper output)
{
    [Fact]
    public void Asking_for_CUDA_without_a_driver_throws_a_clear_exception_quickly()
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<GpuNotAvailableException>(() => GpuDevice.OpenCuda(TimeSpan.FromSeconds(30), "libcuda-not-installed.so.1"));
        output.WriteLine(e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Contains("No CUDA GPU", e.Message);
        Assert.Contains("libcuda-not-installed.so.1", e.Message); // what was tried
        Assert.Contains("CPUAccelerator", e.Message); // what ILGPU saw
        Assert.Contains("Train on the CPU", e.Message); // what to do
    }

    [Fact]
    public void Open_either_finds_a_CUDA_GPU_or_says_why_not_without_hanging()
    {
        // This machine and CI have no GPU (the exception path); a GPU machine gets a device.
        var clock = Stopwatch.StartNew();
        try
        {
            using GpuDevice device = GpuDevice.Open();
            output.WriteLine($"opened {device}");
            Assert.False(device.IsSimulator);
        }
        catch (GpuNotAvailableException e)
        {
            output.WriteLine(e.Message);
            Assert.Contains("No CUDA GPU", e.Message);
            Assert.Contains("Train on the CPU", e.Message);
        }
        Assert.True(clock.Elapsed < GpuDevice.ProbeTimeout + TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Out_of_device_memory_says_how_much_and_what_to_do_and_the_cpu_path_still_works()
    {
        GpuDevice device = Simulator.Device;
        var e = Assert.Throws<GpuOutOfMemoryException>(() => device.Allocate(1L << 42, "test arena"));
        output.WriteLine(e.Message);
        Assert.Equal((1L << 42) * sizeof(float), e.RequestedBytes);
        Assert.Contains("test arena", e.Message);
        Assert.Contains("smaller batch", e.Message);
        Assert.Contains("CPU", e.Message);
        AssertCpuTrainingWorks();
        AssertDeviceStillWorks(device);
    }

    [Fact]
    public void A_kernel_that_cannot_compile_becomes_a_GpuKernelException_and_the_cpu_path_still_works()
    {
        GpuDevice device = Simulator.Device;
        var e = Assert.Throws<GpuKernelException>(() => device.Kernels(static a => new BrokenKernels(a)));
        output.WriteLine(e.Message);
        Assert.Contains(nameof(BrokenKernels), e.Message);
        Assert.Contains(device.Name, e.Message);
        AssertCpuTrainingWorks();
        AssertDeviceStillWorks(device);
    }

    [Fact]
    public void A_launch_that_fails_inside_a_training_step_becomes_a_GpuKernelException_naming_the_step()
    {
        // A bad launch (a group larger than the device allows) stands in for a kernel failure: ILGPU's CPU accelerator
        // cannot survive a kernel that faults while running (it hangs), so a real fault is only testable on a GPU.
        GpuDevice device = Simulator.Device;
        var model = new TinySoftmaxMse(4);
        using var twin = new FaultyTwin(model, device);
        float[] x = Check.Random(12, 1), t = Check.Random(9, 2, 0f, 1f);
        var e = Assert.Throws<GpuKernelException>(() => twin.ComputeGradients(x, t, default, 3));
        output.WriteLine(e.Message);
        Assert.Contains("computing gradients of TinySoftmaxMse", e.Message);
        Assert.Contains("dispose this GpuDevice", e.Message);
        using var sgd = GpuOptimizer.From(new Sgd(0.1));
        var step = Assert.Throws<GpuKernelException>(() => twin.TrainStep(x, t, 3, sgd));
        Assert.Contains("training step 1", step.Message);
        AssertCpuTrainingWorks();
    }

    /// <summary>A twin whose launch sequence asks for 4096 threads per group.</summary>
    private sealed class FaultyTwin(TinySoftmaxMse model, GpuDevice device) : GpuTwin(model, device, 25, 11)
    {
        private readonly Action<KernelConfig, ArrayView<float>> _fill = device.Accelerator.LoadStreamKernel<ArrayView<float>>(Fill);

        private static void Fill(ArrayView<float> a) => a[Grid.GlobalIndex.X] = 1f;

        protected override void EnqueueForward(int batch) => _fill(new KernelConfig(1, 4096), Workspace);

        protected override void EnqueueGradients(int batch, ArrayView<float> loss) => _fill(new KernelConfig(1, 4096), loss);
    }

    [Fact]
    public void Every_kernel_compiles_to_PTX_for_sm_90_without_libdevice()
    {
        // No GPU here, but ILGPU's PTX backend runs anywhere: this catches kernels that would only fail on CUDA
        // (a MathF call with no PTX intrinsic, unsupported constructs, unresolved externs).
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_80, null);
        var kernels = new List<MethodInfo>();
        foreach (Type model in new[] { typeof(MnistMlp), typeof(TinySoftmaxMse), typeof(TinyGeluBinary) })
            kernels.AddRange(model.GetMethods(BindingFlags.NonPublic | BindingFlags.Static)
                .Where(m => m.Name.StartsWith("Gpu", StringComparison.Ordinal) && m.GetParameters().Any(p => p.ParameterType == typeof(ArrayView<float>))));
        kernels.AddRange(typeof(OptimizerKernels).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.ReturnType == typeof(void)));
        Assert.True(kernels.Count >= 20, $"found {kernels.Count} kernels");
        foreach (MethodInfo kernel in kernels)
        {
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), default);
            string ptx = compiled.PTXAssembly;
            Assert.Contains(".entry", ptx);
            Assert.DoesNotContain(".extern", ptx);
            output.WriteLine($"{kernel.DeclaringType!.Name}.{kernel.Name}: {ptx.Length:N0} chars of PTX, " +
                $"{Count(ptx, "bar.sync")} barriers, {Count(ptx, "fma.rn.f32") + Count(ptx, "mad.f32") + Count(ptx, "mul.f32")} float multiplies");
        }
    }

    [Fact]
    public void The_runtime_assembly_stays_free_of_ILGPU_for_NativeAOT()
    {
        AssemblyName[] references = typeof(IModel).Assembly.GetReferencedAssemblies();
        output.WriteLine($"Compiled references: {string.Join(", ", references.Select(r => r.Name))}");
        Assert.DoesNotContain(references, r => r.Name is "ILGPU" or "Compiled.Gpu");
        Assert.Contains(typeof(GpuDevice).Assembly.GetReferencedAssemblies(), r => r.Name == "ILGPU");
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Uses a managed object inside a kernel, which ILGPU cannot compile.</summary>
    private sealed class BrokenKernels(Accelerator a)
    {
        public readonly Action<KernelConfig, ArrayView<float>> Kernel = a.LoadStreamKernel<ArrayView<float>>(Broken);

        private static void Broken(ArrayView<float> v) => v[0] = new List<float> { 1f }.Count;
    }

    /// <summary>The CPU model trains as if nothing happened: two fresh models give the same, finite gradients.</summary>
    private static void AssertCpuTrainingWorks()
    {
        var a = new TinySoftmaxMse(4);
        var b = new TinySoftmaxMse(4);
        float[] x = Check.Random(12, 1), t = Check.Random(9, 2, 0f, 1f);
        float la = a.ComputeGradients(x, t, default, 3), lb = b.ComputeGradients(x, t, default, 3);
        Assert.True(float.IsFinite(la) && la > 0);
        Assert.Equal(la, lb);
        Assert.Equal(a.Gradients.ToArray(), b.Gradients.ToArray());
        History h = a.Fit(new Dataset(x, t, 4, 3), epochs: 2, batchSize: 3);
        Assert.Equal(2, h.Count);
    }

    private static void AssertDeviceStillWorks(GpuDevice device)
    {
        var model = new TinySoftmaxMse(4);
        using GpuTwin twin = model.CreateGpuTwin(device);
        float[] x = Check.Random(12, 1), t = Check.Random(9, 2, 0f, 1f);
        var reference = new TinySoftmaxMse(4);
        Assert.Equal(reference.ComputeGradients(x, t, default, 3), twin.ComputeGradients(x, t, default, 3), 5);
    }
}
