namespace Compiled.Samples;

/// <summary>
/// <c>--device gpu</c>: trains the model's GPU twin (emitted by the generator because this build references
/// Compiled.Gpu) with the same optimizer, seed and batches, then copies the weights back into the model.
/// </summary>
internal static class SampleGpu
{
    public static IReadOnlyList<EpochMetrics> Fit(IModel model, SampleOptions options, Dataset train, Dataset test, Optimizer optimizer)
    {
#if COMPILED_GPU
        Compiled.Gpu.GpuDevice device;
        try
        {
            device = options.Device == "gpu-simulator" ? Compiled.Gpu.GpuDevice.OpenCpuSimulator() : Compiled.Gpu.GpuDevice.Open();
        }
        catch (Compiled.Gpu.GpuNotAvailableException e)
        {
            Console.Error.WriteLine(e.Message);
            Environment.Exit(2);
            throw;
        }
        using var _ = device;
        Console.WriteLine($"Device: {device}");
        return Compiled.Gpu.GpuTraining.Fit((Compiled.Gpu.IGpuModel)model, device, train, epochs: options.Epochs, batchSize: options.BatchSize,
            optimizer: optimizer, validation: test, progress: new ConsoleProgressBar(), seed: options.Seed);
#else
        throw new PlatformNotSupportedException(
            "This build of the sample has no GPU backend (the NativeAOT publish leaves ILGPU out). " +
            "Run it with 'dotnet run -c Release --project samples/Mnist -- --device gpu' instead.");
#endif
    }
}
