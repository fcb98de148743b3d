using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The recurrent product of one step, for <see cref="Recurrent"/>: W_hh packed once per call into unit-block panels,
/// and register tiles of <see cref="Rows"/> batch rows over one panel. The tiles are written once over lanes
/// (AVX-512, AVX2 or single floats, <see cref="IGateLanes{T}"/>); every output is one FMA chain over k in order,
/// whatever the tile, block or core, so the results do not depend on how a step is cut.
/// </summary>
internal static unsafe class RecurrentProduct
{
    /// <summary>Batch rows per register tile.</summary>
    public const int Rows = 4;

    /// <summary>Lanes L of the gate vectors on <paramref name="isa"/>: 16, 8 or 1.</summary>
    public static int Lanes(KernelIsa isa) => isa switch
    {
        KernelIsa.Vector512 => 16,
        KernelIsa.Vector256 => 8,
        _ => 1,
    };

    /// <summary>
    /// Packs W_hh [G·H, H] and b_hh [G·H] for the forward product into this thread's buffer: one panel per block of
    /// <paramref name="lanes"/> units, <c>(H + 1) × G × L</c> floats: row 0 is b_hh of the block's gate columns, row
    /// 1 + k holds W_hh[k·H + u, k] ... that is, for each gate j and unit u of the block, W_hh[j·H + u, k] at
    /// <c>[(1 + k)·G·L + j·L + (u − u0)]</c>; units past H are zero.
    /// </summary>
    public static float* PackForward(float* whh, float* bhh, int gates, int units, int lanes)
    {
        int blocks = (units + lanes - 1) / lanes, gl = gates * lanes;
        long panel = (long)(units + 1) * gl;
        float* packed = Buffer(blocks * panel);
        for (int ub = 0; ub < blocks; ub++)
        {
            float* p = packed + ub * panel;
            int u0 = ub * lanes;
            for (int j = 0; j < gates; j++)
                for (int v = 0; v < lanes; v++)
                {
                    int u = u0 + v;
                    float* dst = p + j * lanes + v;
                    if (u >= units)
                    {
                        for (int k = 0; k <= units; k++) dst[(nint)k * gl] = 0f;
                        continue;
                    }
                    dst[0] = bhh[j * units + u];
                    float* src = whh + (nint)(j * units + u) * units; // row j·H + u of W_hh, contiguous over k
                    for (int k = 0; k < units; k++) dst[(nint)(k + 1) * gl] = src[k];
                }
        }
        return packed;
    }

    /// <summary>
    /// Packs W_hh [G·H, H] for the backward product dh = dg·W_hh into this thread's buffer: one panel per block of
    /// <paramref name="width"/> units, <c>G·H × width</c> floats, W_hh[j, u] at <c>[j·width + (u − u0)]</c>; units past
    /// H are zero.
    /// </summary>
    public static float* PackBackward(float* whh, int g, int units, int width)
    {
        int blocks = (units + width - 1) / width;
        long panel = (long)g * width;
        float* packed = Buffer(blocks * panel);
        for (int ub = 0; ub < blocks; ub++)
        {
            float* p = packed + ub * panel;
            int u0 = ub * width, count = Math.Min(width, units - u0);
            for (int j = 0; j < g; j++, p += width)
            {
                float* src = whh + (nint)j * units + u0;
                for (int v = 0; v < count; v++) p[v] = src[v];
                for (int v = count; v < width; v++) p[v] = 0f;
            }
        }
        return packed;
    }

    /// <summary>
    /// c[r, j·L + v] = panel bias + Σ_{i &lt; k} a[r·rs + i] · panel[1 + i][j·L + v] for r &lt; <paramref name="rows"/>
    /// (at most <see cref="Rows"/>; spare rows read row 0 and are stored too: c has room for <see cref="Rows"/> rows of
    /// G·L), every gate j &lt; G of one unit block. k = 0 gives the bias alone (h_{−1} = 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardTile<TCell, T>(float* a, nint rs, int rows, int k, float* panel, float* c)
        where TCell : struct, IRecurrentCell where T : struct, IGateLanes<T>
    {
        int l = T.Count, gates = TCell.Gates, gl = gates * l;
        if (rows == 1)
        {
            ForwardRow<TCell, T>(a, k, panel, c); // one sample (a prediction): no spare rows to compute
            return;
        }
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + rs : a0;
        float* a2 = rows > 2 ? a1 + rs : a0;
        float* a3 = rows > 3 ? a2 + rs : a0;
        T bias0 = T.Load(panel);
        T bias1 = gates > 1 ? T.Load(panel + l) : default;
        T bias2 = gates > 2 ? T.Load(panel + 2 * l) : default;
        T bias3 = gates > 3 ? T.Load(panel + 3 * l) : default;
        T c00 = bias0, c10 = bias0, c20 = bias0, c30 = bias0;
        T c01 = bias1, c11 = bias1, c21 = bias1, c31 = bias1;
        T c02 = bias2, c12 = bias2, c22 = bias2, c32 = bias2;
        T c03 = bias3, c13 = bias3, c23 = bias3, c33 = bias3;
        float* p = panel + gl;
        for (int i = 0; i < k; i++, p += gl)
        {
            T x0 = T.Splat(a0[i]), x1 = T.Splat(a1[i]), x2 = T.Splat(a2[i]), x3 = T.Splat(a3[i]);
            T w0 = T.Load(p);
            c00 = T.MultiplyAdd(x0, w0, c00); c10 = T.MultiplyAdd(x1, w0, c10); c20 = T.MultiplyAdd(x2, w0, c20); c30 = T.MultiplyAdd(x3, w0, c30);
            if (gates > 1)
            {
                T w1 = T.Load(p + l);
                c01 = T.MultiplyAdd(x0, w1, c01); c11 = T.MultiplyAdd(x1, w1, c11); c21 = T.MultiplyAdd(x2, w1, c21); c31 = T.MultiplyAdd(x3, w1, c31);
            }
            if (gates > 2)
            {
                T w2 = T.Load(p + 2 * l);
                c02 = T.MultiplyAdd(x0, w2, c02); c12 = T.MultiplyAdd(x1, w2, c12); c22 = T.MultiplyAdd(x2, w2, c22); c32 = T.MultiplyAdd(x3, w2, c32);
            }
            if (gates > 3)
            {
                T w3 = T.Load(p + 3 * l);
                c03 = T.MultiplyAdd(x0, w3, c03); c13 = T.MultiplyAdd(x1, w3, c13); c23 = T.MultiplyAdd(x2, w3, c23); c33 = T.MultiplyAdd(x3, w3, c33);
            }
        }
        T.Store(c00, c); T.Store(c10, c + gl); T.Store(c20, c + 2 * gl); T.Store(c30, c + 3 * gl);
        if (gates > 1) { T.Store(c01, c + l); T.Store(c11, c + gl + l); T.Store(c21, c + 2 * gl + l); T.Store(c31, c + 3 * gl + l); }
        if (gates > 2) { T.Store(c02, c + 2 * l); T.Store(c12, c + gl + 2 * l); T.Store(c22, c + 2 * gl + 2 * l); T.Store(c32, c + 3 * gl + 2 * l); }
        if (gates > 3) { T.Store(c03, c + 3 * l); T.Store(c13, c + gl + 3 * l); T.Store(c23, c + 2 * gl + 3 * l); T.Store(c33, c + 3 * gl + 3 * l); }
    }

    /// <summary><see cref="ForwardTile{TCell, T}"/> for one row, with the same FMA chains (so a sample's numbers do not
    /// depend on the rows it shares a tile with).</summary>
    private static void ForwardRow<TCell, T>(float* a, int k, float* panel, float* c)
        where TCell : struct, IRecurrentCell where T : struct, IGateLanes<T>
    {
        int l = T.Count, gates = TCell.Gates, gl = gates * l;
        T c0 = T.Load(panel);
        T c1 = gates > 1 ? T.Load(panel + l) : default;
        T c2 = gates > 2 ? T.Load(panel + 2 * l) : default;
        T c3 = gates > 3 ? T.Load(panel + 3 * l) : default;
        float* p = panel + gl;
        for (int i = 0; i < k; i++, p += gl)
        {
            T x = T.Splat(a[i]);
            c0 = T.MultiplyAdd(x, T.Load(p), c0);
            if (gates > 1) c1 = T.MultiplyAdd(x, T.Load(p + l), c1);
            if (gates > 2) c2 = T.MultiplyAdd(x, T.Load(p + 2 * l), c2);
            if (gates > 3) c3 = T.MultiplyAdd(x, T.Load(p + 3 * l), c3);
        }
        T.Store(c0, c);
        if (gates > 1) T.Store(c1, c + l);
        if (gates > 2) T.Store(c2, c + 2 * l);
        if (gates > 3) T.Store(c3, c + 3 * l);
    }

    /// <summary>Most batch rows of a backward tile.</summary>
    public const int MaxBackwardRows = 8;

    /// <summary>Batch rows per backward tile: 8 (16 accumulators) where there are 32 vector registers, else 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BackwardRows<T>() where T : struct, IGateLanes<T> => T.Count == 16 ? 8 : 4;

    /// <summary>
    /// c[r, v] = Σ_{i &lt; k} a[r·rs + i] · panel[i·2L + v] for r &lt; <paramref name="rows"/> and v &lt; 2L (one
    /// backward panel; at most <see cref="BackwardRows{T}"/> rows, c has room for that many rows of 2L, spare rows read
    /// row 0). k = 0 gives zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardTile<T>(float* a, nint rs, int rows, int k, float* panel, float* c) where T : struct, IGateLanes<T>
    {
        int l = T.Count, w = 2 * l;
        bool eight = BackwardRows<T>() == 8;
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + rs : a0;
        float* a2 = rows > 2 ? a1 + rs : a0;
        float* a3 = rows > 3 ? a2 + rs : a0;
        float* a4 = rows > 4 ? a3 + rs : a0;
        float* a5 = rows > 5 ? a4 + rs : a0;
        float* a6 = rows > 6 ? a5 + rs : a0;
        float* a7 = rows > 7 ? a6 + rs : a0;
        T c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        T c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* p = panel;
        for (int i = 0; i < k; i++, p += w)
        {
            T w0 = T.Load(p), w1 = T.Load(p + l);
            T x0 = T.Splat(a0[i]);
            c00 = T.MultiplyAdd(x0, w0, c00); c01 = T.MultiplyAdd(x0, w1, c01);
            T x1 = T.Splat(a1[i]);
            c10 = T.MultiplyAdd(x1, w0, c10); c11 = T.MultiplyAdd(x1, w1, c11);
            T x2 = T.Splat(a2[i]);
            c20 = T.MultiplyAdd(x2, w0, c20); c21 = T.MultiplyAdd(x2, w1, c21);
            T x3 = T.Splat(a3[i]);
            c30 = T.MultiplyAdd(x3, w0, c30); c31 = T.MultiplyAdd(x3, w1, c31);
            if (eight)
            {
                T x4 = T.Splat(a4[i]);
                c40 = T.MultiplyAdd(x4, w0, c40); c41 = T.MultiplyAdd(x4, w1, c41);
                T x5 = T.Splat(a5[i]);
                c50 = T.MultiplyAdd(x5, w0, c50); c51 = T.MultiplyAdd(x5, w1, c51);
                T x6 = T.Splat(a6[i]);
                c60 = T.MultiplyAdd(x6, w0, c60); c61 = T.MultiplyAdd(x6, w1, c61);
                T x7 = T.Splat(a7[i]);
                c70 = T.MultiplyAdd(x7, w0, c70); c71 = T.MultiplyAdd(x7, w1, c71);
            }
        }
        T.Store(c00, c); T.Store(c01, c + l);
        T.Store(c10, c + w); T.Store(c11, c + w + l);
        T.Store(c20, c + 2 * w); T.Store(c21, c + 2 * w + l);
        T.Store(c30, c + 3 * w); T.Store(c31, c + 3 * w + l);
        if (eight)
        {
            T.Store(c40, c + 4 * w); T.Store(c41, c + 4 * w + l);
            T.Store(c50, c + 5 * w); T.Store(c51, c + 5 * w + l);
            T.Store(c60, c + 6 * w); T.Store(c61, c + 6 * w + l);
            T.Store(c70, c + 7 * w); T.Store(c71, c + 7 * w + l);
        }
    }

    /// <summary>This thread's packing buffer of at least <paramref name="length"/> floats, 64-byte aligned; it grows
    /// (and allocates) only when a larger layer first runs on the thread.</summary>
    private static float* Buffer(long length) => (t_buffer ??= new PackedWeights()).Get(length);

    [ThreadStatic] private static PackedWeights? t_buffer;

    /// <summary>Native memory for packed weights, freed with the thread's instance.</summary>
    private sealed class PackedWeights
    {
        private float* _data;
        private long _length;

        ~PackedWeights() => NativeMemory.AlignedFree(_data);

        public float* Get(long length)
        {
            if (length > _length)
            {
                NativeMemory.AlignedFree(_data);
                _data = null;
                _data = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
                _length = length;
            }
            return _data;
        }
    }
}
