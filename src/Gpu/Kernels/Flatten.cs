using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Flatten's device functions: NHWC activations to per-sample features in PyTorch's (C, H, W) order, so a Dense layer
/// after a convolution has PyTorch's weight layout; and back for the gradient. A thread per element, grid-stride
/// (<see cref="Launch"/>: <see cref="ForwardLaunch"/>); each thread writes one element, so both are deterministic.
/// </summary>
/// <remarks>A tuned version would transpose through a shared-memory tile so both the reads and the writes coalesce; here
/// the writes are contiguous and the reads strided by the channel count.</remarks>
public static class Flatten
{
    /// <summary><see cref="Forward"/> and <see cref="Backward"/>: a thread per element of the [batch, H·W·C] tensor.</summary>
    public static KernelConfig ForwardLaunch(int batch, int height, int width, int channels) =>
        Launch.Elementwise((long)batch * height * width * channels);

    /// <summary>y[n, c·H·W + iy·W + ix] = x[n, iy, ix, c]. Launch: <see cref="ForwardLaunch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward(ArrayView<float> y, ArrayView<float> x, int batch, int height, int width, int channels)
    {
        int pixels = height * width, size = pixels * channels;
        int total = batch * size;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int n = e / size, q = e - n * size;
            int c = q / pixels, pixel = q - c * pixels;
            y[e] = x[n * size + pixel * channels + c];
        }
    }

    /// <summary>dx[n, iy, ix, c] = dy[n, c·H·W + iy·W + ix]. Launch: <see cref="ForwardLaunch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(ArrayView<float> dx, ArrayView<float> dy, int batch, int height, int width, int channels)
    {
        int pixels = height * width, size = pixels * channels;
        int total = batch * size;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int n = e / size, q = e - n * size;
            int pixel = q / channels, c = q - pixel * channels;
            dx[e] = dy[n * size + c * pixels + pixel];
        }
    }
}
