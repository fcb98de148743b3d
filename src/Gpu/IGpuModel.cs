namespace Compiled.Gpu;

/// <summary>
/// A generated model with a GPU twin: the generator implements this (in the model's second partial file,
/// <c>*.Gpu.g.cs</c>) when the project references Compiled.Gpu. See src/Gpu/GENERATED.md for the contract.
/// </summary>
public interface IGpuModel : IModel
{
    /// <summary>
    /// Makes this model's twin on <paramref name="device"/>: device arenas with the CPU layout, the model's kernels
    /// (compiled once per device and model type), and the current <see cref="IModel.Parameters"/> uploaded.
    /// </summary>
    GpuTwin CreateGpuTwin(GpuDevice device);
}
