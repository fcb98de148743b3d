using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Inverted dropout on the device: the same integer hash of (step seed, element index) as the CPU kernel
/// (<c>Compiled.CompilerServices.Dropout</c>), so the GPU twin drops exactly the elements the CPU model drops.
/// Grid-stride loops over <c>count</c> elements; launch with <see cref="Launch.Elementwise"/>.
/// </summary>
public static class Dropout
{
    /// <summary>Training: mask = keep ? scale : 0; y = x · mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward(ArrayView<float> y, ArrayView<float> mask, ArrayView<float> x, uint seed, int count, uint threshold, float scale)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
        {
            uint h = unchecked((uint)i * 0x9E3779B1u) ^ seed;
            h ^= h >> 16;
            h = unchecked(h * 0x85EBCA6Bu);
            h ^= h >> 13;
            h = unchecked(h * 0xC2B2AE35u);
            h ^= h >> 16;
            float m = h >> 8 >= threshold ? scale : 0f;
            mask[i] = m;
            y[i] = x[i] * m;
        }
    }

    /// <summary>Backward: dx = dy · mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> mask, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride) dx[i] = dy[i] * mask[i];
    }

    /// <summary>Predicting: y = x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Inference(ArrayView<float> y, ArrayView<float> x, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride) y[i] = x[i];
    }
}
