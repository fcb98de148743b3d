using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// A dense product applied to an embedding's output (a recurrent layer's input projection x·W_ihᵀ + b_ih right after an
/// <see cref="Embedding"/>), computed per token of the vocabulary instead of per row when the vocabulary has fewer
/// tokens than the batch has rows: row r of x is E[ids[r]], so x·Wᵀ + b is row ids[r] of the table E·Wᵀ + b
/// [vocabulary, units], and the backward's products over all rows fold into products over the vocabulary once the
/// rows' gradients are summed per token. For the character LSTM (65 tokens, 2048 rows) that removes three of the
/// step's eight products.
/// </summary>
/// <remarks>
/// Forward: table = E·Wᵀ + b (one GEMM over the vocabulary), then each row's table row is copied. Backward: A[v] =
/// Σ_(r: ids[r] = v) dz[r] in row order, then dW = Aᵀ·E, db = Σ_v A[v] and dE = A·W (the dense backward over the
/// vocabulary; dE is what <see cref="Embedding.Backward"/> would have written from dx = dz·W). With more tokens than
/// rows both fall back to the per-row products (and the embedding's scatter). The copies and the per-token sums are
/// split over the cores by rows and by columns, each output element summed in row order whatever the split, so the
/// results are bit-identical on one core or two. Scratch (the table or A) lives in a buffer of the calling thread that
/// grows only the first time; nothing is allocated per call after that.
/// </remarks>
public static unsafe class EmbeddedProjection
{
    /// <summary>Work (rows · units) from which the copies and per-token sums are shared with the second core.</summary>
    public const int ParallelMinWork = 1 << 16;

    /// <summary>Whether the per-token form runs for these sizes: fewer tokens than rows.</summary>
    public static bool PerToken(int rows, int vocabulary) => vocabulary < rows;

    /// <summary>
    /// y[r, :] = x[r, :]·wᵀ + b for the rows = batch·steps rows of x [rows, inputs] = e[ids[r], :]: per token (table
    /// E·wᵀ + b, rows copied) when the vocabulary is smaller than rows, else the dense product on <paramref name="x"/>.
    /// The ids are checked (whole numbers in [0, vocabulary)).
    /// </summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> ids, ReadOnlySpan<float> e,
        ReadOnlySpan<float> w, ReadOnlySpan<float> b, int batch, int steps, int vocabulary, int inputs, int units)
    {
        CheckSizes(batch, steps, vocabulary, inputs, units);
        int rows = batch * steps;
        if (!PerToken(rows, vocabulary))
        {
            Dense.Forward<Identity>(y, default, x, w, b, rows, inputs, units);
            return;
        }
        Embedding.CheckIds(ids, batch, steps, vocabulary, nameof(ids));
        Need(y, (long)rows * units, nameof(y));
        Need(e, (long)vocabulary * inputs, nameof(e));
        float[] table = Scratch((long)vocabulary * units);
        Dense.Forward<Identity>(table, default, e, w, b, vocabulary, inputs, units);
        fixed (float* py = y, pids = ids, pt = table)
        {
            var a = new Args { Y = py, Ids = pids, Table = pt, Rows = rows, Units = units };
            Run(&GatherPart, ref a, (long)rows * units);
        }
    }

    /// <summary>
    /// Given dz [rows, units] at y = x·wᵀ + b (x = e[ids]), writes dw = dzᵀ·x [units, inputs], db = Σ_rows dz and de, the
    /// gradient of the table e [vocabulary, inputs] (all overwritten). Per token when the vocabulary is smaller than
    /// rows (<paramref name="dx"/> [rows, inputs] is then not written); else dx = dz·w and de from the embedding's
    /// scatter of dx.
    /// </summary>
    public static void Backward(Span<float> de, Span<float> dw, Span<float> db, Span<float> dx, ReadOnlySpan<float> dz,
        ReadOnlySpan<float> x, ReadOnlySpan<float> ids, ReadOnlySpan<float> e, ReadOnlySpan<float> w,
        int batch, int steps, int vocabulary, int inputs, int units)
    {
        CheckSizes(batch, steps, vocabulary, inputs, units);
        int rows = batch * steps;
        if (!PerToken(rows, vocabulary))
        {
            Dense.Backward(dx, dw, db, dz, x, w, rows, inputs, units);
            Embedding.Backward(de, dx, ids, batch, steps, vocabulary, inputs);
            return;
        }
        Embedding.CheckIds(ids, batch, steps, vocabulary, nameof(ids));
        Need(dz, (long)rows * units, nameof(dz));
        float[] sums = Scratch((long)vocabulary * units);
        fixed (float* pdz = dz, pids = ids, ps = sums)
        {
            var a = new Args { Y = pdz, Ids = pids, Table = ps, Rows = rows, Units = units, Vocabulary = vocabulary };
            Run(&SumPart, ref a, (long)rows * units);
        }
        // dw = Aᵀ·e, db = Σ_v A[v], de = A·w: the dense backward over the vocabulary's rows.
        Dense.Backward(de, dw, db, sums, e, w, vocabulary, inputs, units);
    }

    private struct Args
    {
        public float* Y, Ids, Table;
        public int Rows, Units, Vocabulary, Chunks;
    }

    private static void Run(delegate*<void*, int, void> part, ref Args a, long work)
    {
        void* pa = Unsafe.AsPointer(ref a); // a lives on the caller's stack
        if (work >= ParallelMinWork && Worker.TryEnter())
        {
            a.Chunks = 2;
            try { Worker.Run(part, pa, 2); }
            finally { Worker.Exit(); }
            return;
        }
        a.Chunks = 1;
        part(pa, 0);
    }

    /// <summary>Rows [first, last) of chunk c: y[r, :] = table[ids[r], :].</summary>
    private static void GatherPart(void* argument, int chunk)
    {
        ref Args a = ref Unsafe.AsRef<Args>(argument);
        int first = (int)((long)a.Rows * chunk / a.Chunks), last = (int)((long)a.Rows * (chunk + 1) / a.Chunks);
        nint units = a.Units;
        for (int r = first; r < last; r++)
            new ReadOnlySpan<float>(a.Table + (nint)(int)a.Ids[r] * units, a.Units).CopyTo(new Span<float>(a.Y + r * units, a.Units));
    }

    /// <summary>Columns [first, last) of chunk c (cut on multiples of 16): A[v, cols] = Σ_(r: ids[r] = v) dz[r, cols],
    /// in row order.</summary>
    private static void SumPart(void* argument, int chunk)
    {
        ref Args a = ref Unsafe.AsRef<Args>(argument);
        int blocks = (a.Units + 15) / 16;
        int first = Math.Min(a.Units, (int)((long)blocks * chunk / a.Chunks) * 16);
        int last = Math.Min(a.Units, (int)((long)blocks * (chunk + 1) / a.Chunks) * 16);
        int count = last - first;
        if (count <= 0) return;
        nint units = a.Units;
        for (int v = 0; v < a.Vocabulary; v++) new Span<float>(a.Table + v * units + first, count).Clear();
        for (int r = 0; r < a.Rows; r++)
        {
            var row = new Span<float>(a.Table + (nint)(int)a.Ids[r] * units + first, count);
            TensorPrimitives.Add(row, new ReadOnlySpan<float>(a.Y + r * units + first, count), row);
        }
    }

    /// <summary>This thread's scratch of at least <paramref name="length"/> floats; grows (allocates) only when a larger
    /// layer first runs on the thread.</summary>
    private static float[] Scratch(long length)
    {
        float[]? s = t_scratch;
        if (s is null || s.Length < length) t_scratch = s = new float[length];
        return s;
    }

    [ThreadStatic] private static float[]? t_scratch;

    private static void CheckSizes(int batch, int steps, int vocabulary, int inputs, int units)
    {
        if (batch <= 0 || steps <= 0 || vocabulary <= 0 || inputs <= 0 || units <= 0
            || (long)batch * steps * Math.Max(Math.Max(vocabulary, inputs), units) > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch),
                $"Sizes must be positive and fit an int: batch {batch}, steps {steps}, vocabulary {vocabulary}, inputs {inputs}, units {units}.");
    }

    private static void Need(ReadOnlySpan<float> span, long length, string name)
    {
        if (span.Length < length) Activations.ThrowShort(name);
    }
}
