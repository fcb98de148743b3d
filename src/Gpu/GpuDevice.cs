using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Compiled.Gpu.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Compiled.Gpu;

/// <summary>
/// One accelerator and what lives on it: the ILGPU context, the kernels loaded for it (once per kernel set, e.g. once
/// per model type) and the allocation and error handling every GPU object shares.
/// </summary>
/// <remarks>
/// <see cref="Open"/> picks the first CUDA GPU and throws <see cref="GpuNotAvailableException"/> when there is none;
/// <see cref="OpenCpuSimulator"/> runs the very same kernels on ILGPU's CPU accelerator (slowly), for tests and
/// machines without a GPU. A device is not thread-safe: one trainer at a time. Dispose it to free the GPU.
/// </remarks>
public sealed class GpuDevice : IDisposable
{
    /// <summary>How long <see cref="Open"/> waits for the CUDA driver to enumerate devices before giving up.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(60);

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly ConcurrentDictionary<Type, object> _kernels = new();
    private bool _disposed;

    private GpuDevice(Context context, Accelerator accelerator)
    {
        _context = context;
        _accelerator = accelerator;
    }

    /// <summary>The ILGPU accelerator (generated code loads kernels on it and launches them).</summary>
    public Accelerator Accelerator
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _accelerator;
        }
    }

    /// <summary>The device's name, e.g. "NVIDIA H100 80GB HBM3" or "CPUAccelerator".</summary>
    public string Name => _accelerator.Name;

    /// <summary>True for ILGPU's CPU accelerator (<see cref="OpenCpuSimulator"/>).</summary>
    public bool IsSimulator => _accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>
    /// How many groups of 256 threads the device runs at once (SMs × resident groups per SM): the grid of the
    /// grid-stride kernels over a whole arena, so one launch fills the device without idle tail groups.
    /// </summary>
    public int GridStrideGroups =>
        Math.Max(1, _accelerator.NumMultiprocessors * Math.Max(1, _accelerator.MaxNumThreadsPerMultiprocessor / Launch.ElementwiseGroupSize));

    /// <summary>The device's memory, in bytes.</summary>
    public long MemorySize => _accelerator.MemorySize;

    /// <summary>
    /// Opens the first CUDA GPU. Never hangs: if the driver does not answer within <see cref="ProbeTimeout"/>, or there
    /// is no CUDA device, throws <see cref="GpuNotAvailableException"/> saying what ILGPU saw and to train on the CPU.
    /// </summary>
    /// <exception cref="GpuNotAvailableException">No CUDA GPU can be used.</exception>
    public static GpuDevice Open() => OpenCuda(ProbeTimeout, cudaLibrary: null);

    /// <summary>
    /// Opens ILGPU's CPU accelerator: the same kernels, run by CPU threads (groups of up to 256 threads, bounds
    /// checks on). For tests and CI; orders of magnitude slower than a GPU, so keep the sizes tiny.
    /// </summary>
    public static GpuDevice OpenCpuSimulator()
    {
        // One multiprocessor of 8 warps × 32 threads: NVIDIA's warp size, groups of up to 256 threads (what the kernels
        // use), and few OS threads (a second multiprocessor made the test suite slower on a 2-core machine).
        var device = new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);
        var context = Context.Create(b => b.CPU(device).Assertions().Optimize(OptimizationLevel.O1));
        try
        {
            return new GpuDevice(context, context.GetCPUDevice(0).CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The probe behind <see cref="Open"/>; <paramref name="cudaLibrary"/> overrides the driver's file name (tests).</summary>
    internal static GpuDevice OpenCuda(TimeSpan timeout, string? cudaLibrary)
    {
        var probe = Task.Run(() => Probe(cudaLibrary));
        if (!((IAsyncResult)probe).AsyncWaitHandle.WaitOne(timeout))
            throw new GpuNotAvailableException(
                $"No CUDA GPU: the CUDA driver did not finish enumerating devices within {timeout.TotalSeconds:0} s. " +
                TrainOnCpu);
        if (probe.IsFaulted)
        {
            Exception inner = probe.Exception!.InnerException!;
            if (inner is GpuNotAvailableException) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(inner);
            throw new GpuNotAvailableException(
                $"No CUDA GPU: ILGPU failed while looking for one ({inner.Message}). " + TrainOnCpu, inner);
        }
        return probe.Result;
    }

    private const string TrainOnCpu =
        "Train on the CPU instead: call model.Fit(...) without a GPU device (the CPU path needs no GPU), " +
        "or use GpuDevice.OpenCpuSimulator() to run the GPU kernels on the CPU for testing.";

    private static GpuDevice Probe(string? cudaLibrary)
    {
        string library = cudaLibrary ?? (OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1");
        if (!NativeLibrary.TryLoad(library, out IntPtr handle))
            throw new GpuNotAvailableException(
                $"No CUDA GPU was found: the CUDA driver ({library}) could not be loaded, so ILGPU saw no CUDA devices " +
                $"(it saw: {Describe(SeenDevices())}). Install an NVIDIA driver on a machine with an NVIDIA GPU. " + TrainOnCpu);
        NativeLibrary.Free(handle);

        var context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O2));
        try
        {
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new GpuNotAvailableException(
                    $"No CUDA GPU was found: the CUDA driver ({library}) loaded but reported no usable device " +
                    $"(ILGPU saw: {Describe(SeenDevices())}). " + TrainOnCpu);
            return new GpuDevice(context, devices[0].CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Every device ILGPU can see besides CUDA ones (the CPU accelerator, OpenCL devices).</summary>
    private static List<string> SeenDevices()
    {
        using var context = Context.Create(b => b.CPU());
        return context.Devices.Select(d => $"{d.Name} ({d.AcceleratorType})").Distinct().ToList();
    }

    private static string Describe(List<string> devices) => devices.Count == 0 ? "nothing" : string.Join(", ", devices);

    /// <summary>
    /// The kernel set <typeparamref name="TKernels"/> for this device, loaded (compiled) by <paramref name="load"/> on
    /// first use and cached: generated models call this with their nested kernel class, so each model type's kernels
    /// are compiled once per device however many twins are made.
    /// </summary>
    /// <exception cref="GpuKernelException">A kernel did not compile for this device.</exception>
    public TKernels Kernels<TKernels>(Func<Accelerator, TKernels> load) where TKernels : class
    {
        ArgumentNullException.ThrowIfNull(load);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_kernels.TryGetValue(typeof(TKernels), out object? cached)) return (TKernels)cached;
        TKernels loaded;
        try
        {
            loaded = load(_accelerator);
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw new GpuKernelException(
                $"The kernels of {typeof(TKernels).FullName} did not compile for {Name}: {e.Message}", e);
        }
        return (TKernels)_kernels.GetOrAdd(typeof(TKernels), loaded);
    }

    /// <summary>How many kernel sets are loaded (tests check the cache).</summary>
    internal int LoadedKernelSets => _kernels.Count;

    /// <summary>The runtime's own kernels (optimizers, reductions).</summary>
    internal RuntimeKernels Runtime => Kernels(static a => new RuntimeKernels(a));

    /// <summary>Allocates <paramref name="length"/> zeroed floats; out-of-memory becomes <see cref="GpuOutOfMemoryException"/>.</summary>
    internal MemoryBuffer1D<float, Stride1D.Dense> Allocate(long length, string purpose)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long bytes = Math.Max(length, 1) * sizeof(float);
        try
        {
            var buffer = _accelerator.Allocate1D<float>(Math.Max(length, 1));
            buffer.MemSetToZero();
            return buffer;
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            throw new GpuOutOfMemoryException(
                $"Out of GPU memory: allocating the {purpose} ({Megabytes(bytes)}) failed on {Name}, which has " +
                $"{Megabytes(_accelerator.MemorySize)} in all. Use a smaller batch size (the workspace grows with it), " +
                "free other GPU work, or train on the CPU (model.Fit without a GPU device).", bytes, _accelerator.MemorySize, e);
        }
    }

    /// <summary>Allocates pinned (page-locked) host memory for uploads; falls back to pageable memory if pinning fails.</summary>
    internal PageLockedArray1D<float> AllocateStaging(long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return _accelerator.AllocatePageLocked1D<float>(Math.Max(length, 1));
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            long bytes = Math.Max(length, 1) * sizeof(float);
            throw new GpuOutOfMemoryException(
                $"Out of pinned host memory: page-locking {Megabytes(bytes)} of staging for uploads failed. " +
                "Use a smaller batch size.", bytes, _accelerator.MemorySize, e);
        }
    }

    /// <summary>Waits for the device; a kernel that failed while running surfaces here as <see cref="GpuKernelException"/>.</summary>
    /// <param name="what">What was running, for the message (e.g. "training step 12 of MnistMlp").</param>
    public void Synchronize(string what = "the queued kernels")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _accelerator.Synchronize();
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw KernelFailed(what, e);
        }
    }

    /// <summary>Wraps a failure of queued GPU work into <see cref="GpuKernelException"/> naming the work and device.</summary>
    internal GpuKernelException KernelFailed(string what, Exception e) =>
        new($"GPU work failed on {Name} while running {what}: {e.Message} " +
            "The device's state is undefined now: dispose this GpuDevice and open a new one (or continue on the CPU, " +
            "which is unaffected).", e);

    internal static bool IsOutOfMemory(Exception e) => e switch
    {
        OutOfMemoryException => true,
        CudaException c => (c.Error + " " + c.Message).Contains("OUT_OF_MEMORY", StringComparison.OrdinalIgnoreCase),
        AcceleratorException a => a.Message.Contains("memory", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    private static string Megabytes(long bytes) => $"{bytes / (1024.0 * 1024.0):0.#} MiB";

    /// <summary>A one-line description: name, type, memory.</summary>
    public override string ToString()
    {
        var s = new StringBuilder(Name).Append(" (").Append(_accelerator.AcceleratorType).Append(", ")
            .Append(Megabytes(_accelerator.MemorySize)).Append(')');
        return s.ToString();
    }

    /// <summary>Frees every kernel and buffer made on this device.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _kernels.Clear();
        _accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>The runtime's kernels that are not model-specific: optimizer updates and the gradient norm.</summary>
internal sealed class RuntimeKernels(Accelerator a)
{
    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArgs> Sgd =
        a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArgs>(OptimizerKernels.Sgd);

    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs> Adam =
        a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs>(OptimizerKernels.Adam);

    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RmsPropArgs> RmsProp =
        a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RmsPropArgs>(OptimizerKernels.RmsProp);

    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>> SumOfSquares =
        a.LoadStreamKernel<ArrayView<float>, ArrayView<float>>(OptimizerKernels.SumOfSquares);
}
