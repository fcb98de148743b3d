using Compiled.Gpu.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Launch shapes for the kernels in <see cref="Compiled.Gpu.CompilerServices"/>. Generated code passes the layer's sizes as
/// literals and the batch as a variable; every kernel is explicitly grouped, so these decide the grid.
/// </summary>
public static class Launch
{
    /// <summary>Threads per group of the element-wise and row-wise kernels.</summary>
    public const int ElementwiseGroupSize = 256;

    /// <summary>Grid-stride kernels never need more groups than this (4 per SM on a 132-SM H100, rounded up).</summary>
    public const int MaxElementwiseGroups = 1024;

    /// <summary><see cref="Dense.Forward"/>: one group per 64×64 tile of y[batch, units].</summary>
    public static KernelConfig DenseForward(int batch, int units) =>
        new(Dense.Tiles(batch, units), Dense.GroupSize);

    /// <summary><see cref="Dense.Backward"/>: the dw|db tiles of [units, inputs + 1], then the dx tiles of [batch, inputs].</summary>
    public static KernelConfig DenseBackward(int batch, int inputs, int units) =>
        new(Dense.WeightTiles(inputs, units) + Dense.Tiles(batch, inputs), Dense.GroupSize);

    /// <summary><see cref="Dense.BackwardWeights"/>: the dw|db tiles only.</summary>
    public static KernelConfig DenseBackwardWeights(int inputs, int units) =>
        new(Dense.WeightTiles(inputs, units), Dense.GroupSize);

    /// <summary>The loss kernels and other one-group reductions.</summary>
    public static KernelConfig Loss => new(1, Losses.GroupSize);

    /// <summary>
    /// Grid-stride element-wise kernels over <paramref name="count"/> elements: a group per 256 elements, at most
    /// <paramref name="maxGroups"/> groups (each thread then loops).
    /// </summary>
    public static KernelConfig Elementwise(long count, int maxGroups = MaxElementwiseGroups) =>
        new((int)Math.Clamp((count + ElementwiseGroupSize - 1) / ElementwiseGroupSize, 1, Math.Max(1, maxGroups)), ElementwiseGroupSize);

    /// <summary>Row-wise kernels (a thread per row) over <paramref name="rows"/> rows.</summary>
    public static KernelConfig Rows(int rows) => Elementwise(rows);
}
