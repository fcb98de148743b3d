using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// The fully connected layer's device functions: tiled GEMMs with fused epilogues. Weights are [units, inputs]
/// row-major (PyTorch), activations [batch, features] row-major — the CPU layout, so arenas are shared byte for byte.
/// </summary>
/// <remarks>
/// <para>Every function here is the body of a thin generated kernel that passes the layer's sizes as literals; after
/// ILGPU inlines it, the loop bounds, strides and tile counts are constants. Launch with <see cref="Launch"/>.</para>
/// <para>The GEMM: a group of <see cref="GroupSize"/> threads (16×16) computes a <see cref="Tile"/>×<see cref="Tile"/>
/// block of C, each thread a 4×4 register tile (rows ty + 16i, columns tx + 16j). A and B are staged through shared
/// memory in slabs of <see cref="TileK"/> along the reduction, loaded so consecutive threads read consecutive
/// addresses whichever dimension of the operand is contiguous, and stored with a padded row (65 floats) so the stores
/// are free of bank conflicts. Edges are bounds-checked (zero-filled loads, guarded stores).</para>
/// </remarks>
public static class Dense
{
    /// <summary>The block tile: each group computes Tile×Tile outputs.</summary>
    public const int Tile = 64;

    /// <summary>The reduction slab staged in shared memory per iteration.</summary>
    public const int TileK = 16;

    /// <summary>Threads per group (16×16, 4×4 outputs each).</summary>
    public const int GroupSize = 256;

    private const int Pad = Tile + 1;
    private const int Side = 16;

    /// <summary>The number of Tile×Tile blocks covering a rows×cols matrix.</summary>
    public static int Tiles(int rows, int cols) => ((rows + Tile - 1) / Tile) * ((cols + Tile - 1) / Tile);

    /// <summary>
    /// y[batch, units] = f(x[batch, inputs] · w[units, inputs]ᵀ + b[units]), bias and activation fused into the GEMM
    /// epilogue; when <paramref name="storePreActivation"/> is set, z = x·wᵀ + b is stored too (GELU's backward reads it).
    /// Launch: <see cref="Launch.DenseForward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> x, ArrayView<float> w,
        ArrayView<float> b, int batch, int inputs, int units, bool storePreActivation) where TAct : struct, IGpuActivation
    {
        int tilesN = (units + Tile - 1) / Tile;
        int g = Grid.IdxX;
        int tileRow = g / tilesN;
        // A(m, k) = x[m·inputs + k] (k contiguous); B(k, n) = w[n·inputs + k] (k contiguous).
        GemmTile(x, inputs, 1, true, w, 1, inputs, true, false, batch, units, units, inputs, tileRow, g - tileRow * tilesN,
            new ForwardEpilogue<TAct>(y, z, b, batch, units, storePreActivation));
    }

    /// <summary>
    /// Dense backward in one launch, given dz[batch, units] (the gradient at this layer's pre-activation):
    /// the first <see cref="WeightTiles"/> groups write dw = dzᵀ·x and db = Σ_batch dz (the bias as an extra column of
    /// ones in x, so db comes out of the same GEMM); the rest write the previous layer's pre-activation gradient
    /// dx = (dz·w) ⊙ f'(prev), its activation derivative fused into the epilogue (<typeparamref name="TPrevAct"/>,
    /// with its output <paramref name="prevOut"/> and pre-activation <paramref name="prevPre"/>; Identity when dx is
    /// wanted as is). Everything is overwritten, not accumulated. Launch: <see cref="Launch.DenseBackward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward<TPrevAct>(ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz,
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> prevOut, ArrayView<float> prevPre,
        int batch, int inputs, int units) where TPrevAct : struct, IGpuActivation
    {
        int weightTiles = WeightTiles(inputs, units);
        int g = Grid.IdxX;
        if (g < weightTiles)
        {
            WeightGradientTile(dw, db, dz, x, batch, inputs, units, g);
        }
        else
        {
            g -= weightTiles;
            int tilesN = (inputs + Tile - 1) / Tile;
            int tileRow = g / tilesN;
            // A(m=b, k=u) = dz[b·units + u] (k contiguous); B(k=u, n=i) = w[u·inputs + i] (n contiguous).
            GemmTile(dz, units, 1, true, w, inputs, 1, false, false, batch, inputs, inputs, units, tileRow, g - tileRow * tilesN,
                new InputGradientEpilogue<TPrevAct>(dx, prevOut, prevPre, batch, inputs));
        }
    }

    /// <summary>
    /// The first layer's backward: dw = dzᵀ·x and db = Σ_batch dz only (nothing needs the input gradient).
    /// Launch: <see cref="Launch.DenseBackwardWeights"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BackwardWeights(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x,
        int batch, int inputs, int units)
        => WeightGradientTile(dw, db, dz, x, batch, inputs, units, Grid.IdxX);

    /// <summary>The groups that compute dw and db: [units, inputs + 1] in Tile×Tile blocks.</summary>
    public static int WeightTiles(int inputs, int units) => Tiles(units, inputs + 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightGradientTile(ArrayView<float> dw, ArrayView<float> db, ArrayView<float> dz, ArrayView<float> x,
        int batch, int inputs, int units, int g)
    {
        int tilesN = (inputs + 1 + Tile - 1) / Tile;
        int tileRow = g / tilesN;
        // C[units, inputs + 1] = dzᵀ · [x | 1]: A(m=u, k=b) = dz[b·units + u] (m contiguous);
        // B(k=b, n=i) = x[b·inputs + i] (n contiguous), and B(k, inputs) = 1 so column `inputs` of C is db.
        GemmTile(dz, 1, units, false, x, inputs, 1, false, true, units, inputs + 1, inputs, batch, tileRow, g - tileRow * tilesN,
            new WeightGradientEpilogue(dw, db, units, inputs));
    }

    /// <summary>
    /// One Tile×Tile block of C[m, n] = Σ_k A(m, k)·B(k, n), handed to <paramref name="epilogue"/> element by element.
    /// A(m, k) = a[m·aStrideM + k·aStrideK]; B(k, n) = b[k·bStrideK + n·bStrideN] for n &lt; <paramref name="nB"/>, and
    /// 1 for n = nB when <paramref name="onesColumn"/> is set. The contiguity flags pick the load pattern that keeps
    /// global reads coalesced.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GemmTile<TEpilogue>(
        ArrayView<float> a, int aStrideM, int aStrideK, bool aKContiguous,
        ArrayView<float> b, int bStrideK, int bStrideN, bool bKContiguous, bool onesColumn,
        int m, int n, int nB, int k, int tileRow, int tileCol, TEpilogue epilogue) where TEpilogue : struct, IGemmEpilogue
    {
        var sa = SharedMemory.Allocate<float>(TileK * Pad);
        var sb = SharedMemory.Allocate<float>(TileK * Pad);
        int t = Group.IdxX;
        int tx = t % Side, ty = t / Side;
        int m0 = tileRow * Tile, n0 = tileCol * Tile;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        for (int k0 = 0; k0 < k; k0 += TileK)
        {
            // Stage A[m0.., k0..] and B[k0.., n0..] (Tile·TileK = 4·GroupSize elements each) as [TileK][Pad].
            for (int r = 0; r < Tile * TileK / GroupSize; r++)
            {
                int e = t + r * GroupSize;
                int kk, mm;
                if (aKContiguous) { kk = e % TileK; mm = e / TileK; }
                else { mm = e % Tile; kk = e / Tile; }
                int gm = m0 + mm, gk = k0 + kk;
                sa[kk * Pad + mm] = gm < m && gk < k ? a[gm * aStrideM + gk * aStrideK] : 0f;

                int nn;
                if (bKContiguous) { kk = e % TileK; nn = e / TileK; }
                else { nn = e % Tile; kk = e / Tile; }
                int gn = n0 + nn;
                gk = k0 + kk;
                float bv = 0f;
                if (gk < k)
                {
                    if (gn < nB) bv = b[gk * bStrideK + gn * bStrideN];
                    else if (onesColumn && gn == nB) bv = 1f;
                }
                sb[kk * Pad + nn] = bv;
            }
            Group.Barrier();

            for (int kk = 0; kk < TileK; kk++)
            {
                int row = kk * Pad;
                float a0 = sa[row + ty], a1 = sa[row + ty + 16], a2 = sa[row + ty + 32], a3 = sa[row + ty + 48];
                float b0 = sb[row + tx], b1 = sb[row + tx + 16], b2 = sb[row + tx + 32], b3 = sb[row + tx + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int r0 = m0 + ty, q0 = n0 + tx;
        epilogue.Store(r0, q0, c00); epilogue.Store(r0, q0 + 16, c01); epilogue.Store(r0, q0 + 32, c02); epilogue.Store(r0, q0 + 48, c03);
        epilogue.Store(r0 + 16, q0, c10); epilogue.Store(r0 + 16, q0 + 16, c11); epilogue.Store(r0 + 16, q0 + 32, c12); epilogue.Store(r0 + 16, q0 + 48, c13);
        epilogue.Store(r0 + 32, q0, c20); epilogue.Store(r0 + 32, q0 + 16, c21); epilogue.Store(r0 + 32, q0 + 32, c22); epilogue.Store(r0 + 32, q0 + 48, c23);
        epilogue.Store(r0 + 48, q0, c30); epilogue.Store(r0 + 48, q0 + 16, c31); epilogue.Store(r0 + 48, q0 + 32, c32); epilogue.Store(r0 + 48, q0 + 48, c33);
    }
}

/// <summary>What a GEMM tile does with each finished element C[row, col] (bounds are the epilogue's to check).</summary>
internal interface IGemmEpilogue
{
    void Store(int row, int col, float acc);
}

/// <summary>y = f(acc + b[col]) and optionally z = acc + b[col].</summary>
internal readonly struct ForwardEpilogue<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> bias, int rows, int cols,
    bool storePre) : IGemmEpilogue where TAct : struct, IGpuActivation
{
    private readonly ArrayView<float> _y = y, _z = z, _bias = bias;
    private readonly int _rows = rows, _cols = cols;
    private readonly bool _storePre = storePre;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int row, int col, float acc)
    {
        if (row >= _rows || col >= _cols) return;
        float v = acc + _bias[col];
        int i = row * _cols + col;
        if (_storePre) _z[i] = v;
        _y[i] = default(TAct).Apply(v);
    }
}

/// <summary>dw[row, col] = acc for col &lt; inputs; db[row] = acc for the ones column.</summary>
internal readonly struct WeightGradientEpilogue(ArrayView<float> dw, ArrayView<float> db, int units, int inputs) : IGemmEpilogue
{
    private readonly ArrayView<float> _dw = dw, _db = db;
    private readonly int _units = units, _inputs = inputs;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int row, int col, float acc)
    {
        if (row >= _units) return;
        if (col < _inputs) _dw[row * _inputs + col] = acc;
        else if (col == _inputs) _db[row] = acc;
    }
}

/// <summary>dx[row, col] = acc · f'(prevOut, prevPre) — the previous layer's activation backward, fused.</summary>
internal readonly struct InputGradientEpilogue<TAct>(ArrayView<float> dx, ArrayView<float> prevOut, ArrayView<float> prevPre,
    int rows, int cols) : IGemmEpilogue where TAct : struct, IGpuActivation
{
    private readonly ArrayView<float> _dx = dx, _out = prevOut, _pre = prevPre;
    private readonly int _rows = rows, _cols = cols;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int row, int col, float acc)
    {
        if (row >= _rows || col >= _cols) return;
        int i = row * _cols + col;
        TAct act = default;
        // The pre-activation view is read only by activations that need it (it may be empty otherwise).
        float d = act.NeedsPreActivation ? act.Derivative(_out[i], _pre[i]) : act.Derivative(_out[i], 0f);
        _dx[i] = acc * d;
    }
}
