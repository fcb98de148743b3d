namespace Compiled.Gpu;

/// <summary>The base of every error the GPU backend reports; the CPU path is never affected by one.</summary>
public class GpuException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GpuException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>No usable CUDA GPU: the message says what ILGPU found and how to train on the CPU instead.</summary>
public sealed class GpuNotAvailableException : GpuException
{
    /// <summary>Creates the exception.</summary>
    public GpuNotAvailableException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A device allocation failed: the message gives the sizes and what to do.</summary>
public sealed class GpuOutOfMemoryException : GpuException
{
    /// <summary>Creates the exception.</summary>
    public GpuOutOfMemoryException(string message, long requestedBytes, long deviceBytes, Exception? inner = null)
        : base(message, inner)
    {
        RequestedBytes = requestedBytes;
        DeviceBytes = deviceBytes;
    }

    /// <summary>The size of the allocation that failed, in bytes.</summary>
    public long RequestedBytes { get; }

    /// <summary>The device's total memory, in bytes.</summary>
    public long DeviceBytes { get; }
}

/// <summary>A kernel failed to compile, to launch or to run; the message names the kernel set or step and the device.</summary>
public sealed class GpuKernelException : GpuException
{
    /// <summary>Creates the exception.</summary>
    public GpuKernelException(string message, Exception? inner = null) : base(message, inner) { }
}
