using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// The embedding layer's device functions (the GPU forms of <c>Compiled.CompilerServices.Embedding</c>). The ids are
/// floats in the input view; the twin has checked them on the host before the upload, so every id names a row.
/// Both run grid-stride (<see cref="Launch.Elementwise"/>) and write each element from one thread: deterministic.
/// </summary>
public static class Embedding
{
    /// <summary>y[r, j] = w[ids[r], j] for the batch·steps rows r. Launch: a thread per element of y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward(ArrayView<float> y, ArrayView<float> ids, ArrayView<float> w, int batch, int steps, int vocabulary, int width)
    {
        int total = batch * steps * width;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int r = e / width, j = e - r * width;
            y[e] = w[(int)ids[r] * width + j];
        }
    }

    /// <summary>
    /// dw[v, j] = Σ over rows r with ids[r] = v of dy[r, j], overwritten; each weight element sums its rows in order, so
    /// the result does not depend on the launch. Launch: a thread per element of w (vocabulary·width).
    /// </summary>
    /// <remarks>Every thread scans all batch·steps ids: O(vocabulary·width·rows) reads, fine for character vocabularies;
    /// a large vocabulary would want a sort by id first.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(ArrayView<float> dw, ArrayView<float> dy, ArrayView<float> ids, int batch, int steps, int vocabulary, int width)
    {
        int total = vocabulary * width, rows = batch * steps;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int v = e / width, j = e - v * width;
            float sum = 0f;
            for (int r = 0; r < rows; r++)
                if ((int)ids[r] == v) sum += dy[r * width + j];
            dw[e] = sum;
        }
    }
}
