using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The embedding layer's kernels (PyTorch's <c>nn.Embedding</c>): token ids [batch, steps], carried as floats, select
/// rows of the weight [vocabulary, width]. Forward copies rows; backward scatters dL/dy back into the rows, in row
/// order on one thread, so the weight gradient is bit-identical whatever the core count.
/// </summary>
public static class Embedding
{
    /// <summary>
    /// Checks that every id in <paramref name="ids"/> ([batch, steps]) is a whole number in [0, vocabulary); throws an
    /// <see cref="ArgumentException"/> naming <paramref name="name"/>, the sample and the position otherwise.
    /// </summary>
    public static void CheckIds(ReadOnlySpan<float> ids, int batch, int steps, int vocabulary, string name = "inputs")
    {
        long count = (long)batch * steps;
        if (ids.Length < count) ThrowShort(name, ids.Length, count);
        int bad = Metrics.IndexOfNonLabel(ids.Slice(0, (int)count), vocabulary);
        if (bad >= 0) ThrowBadId(name, bad / steps, bad % steps, ids[bad], vocabulary);
    }

    /// <summary>
    /// y[b, s, :] = w[ids[b, s], :] for every sample b and step s. The ids are checked first (see <see cref="CheckIds"/>):
    /// a bad one throws before anything is written.
    /// </summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> ids, ReadOnlySpan<float> w, int batch, int steps, int vocabulary, int width)
    {
        CheckSizes(batch, steps, vocabulary, width);
        CheckIds(ids, batch, steps, vocabulary);
        int rows = batch * steps;
        if (w.Length < (long)vocabulary * width) ThrowShort(nameof(w), w.Length, (long)vocabulary * width);
        if (y.Length < (long)rows * width) ThrowShort(nameof(y), y.Length, (long)rows * width);
        for (int r = 0; r < rows; r++)
            w.Slice((int)ids[r] * width, width).CopyTo(y.Slice(r * width, width));
    }

    /// <summary>
    /// dw = Σ over (b, s) of onehot(ids[b, s]) ⊗ dy[b, s, :]: dw is overwritten (cleared, then each step's gradient added
    /// to its token's row, in order). The ids were checked by the forward pass.
    /// </summary>
    public static void Backward(Span<float> dw, ReadOnlySpan<float> dy, ReadOnlySpan<float> ids, int batch, int steps, int vocabulary, int width)
    {
        CheckSizes(batch, steps, vocabulary, width);
        CheckIds(ids, batch, steps, vocabulary);
        int rows = batch * steps;
        if (dw.Length < (long)vocabulary * width) ThrowShort(nameof(dw), dw.Length, (long)vocabulary * width);
        if (dy.Length < (long)rows * width) ThrowShort(nameof(dy), dy.Length, (long)rows * width);
        dw.Slice(0, vocabulary * width).Clear();
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = dw.Slice((int)ids[r] * width, width);
            TensorPrimitives.Add(row, dy.Slice(r * width, width), row);
        }
    }

    private static void CheckSizes(int batch, int steps, int vocabulary, int width)
    {
        if (batch <= 0 || steps <= 0 || vocabulary <= 0 || width <= 0 || (long)batch * steps * Math.Max(vocabulary, width) > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch),
                $"Embedding sizes must be positive and fit an int: batch {batch}, steps {steps}, vocabulary {vocabulary}, width {width}.");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShort(string name, int length, long needed) =>
        throw new ArgumentException($"{name} holds {length} floats, but needs {needed}.", name);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadId(string name, int sample, int position, float value, int vocabulary) =>
        throw new ArgumentException(
            $"{name} sample {sample} has token id {FloatChecks.Describe(value)} at position {position}, but the Embedding " +
            $"layer takes whole-number ids in [0, {vocabulary - 1}] (its vocabulary is {vocabulary}).", name);
}
