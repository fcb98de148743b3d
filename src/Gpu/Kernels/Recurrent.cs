using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// One recurrent cell's per-unit math on the device: the same as <c>Compiled.CompilerServices.IRecurrentCell</c>, with
/// instance members because kernels call <c>default(TCell).Forward(...)</c>. Offsets are into whole buffers: gate k of
/// unit u of a row starting at <c>row</c> is at <c>row + k·units + u</c>.
/// </summary>
public interface IGpuRecurrentCell
{
    /// <summary>Gates G.</summary>
    int Gates { get; }

    /// <summary>Floats per unit per step kept for backward.</summary>
    int Saved { get; }

    /// <summary>One unit's step; returns h_t. <paramref name="savedPrev"/> is −1 at t = 0.</summary>
    float Forward(ArrayView<float> saved, long row, long savedPrev, ArrayView<float> xp, long xpRow, ArrayView<float> hp, long hpRow,
        ArrayView<float> states, long hPrev, int u, int units);

    /// <summary>One unit's backward step (see the CPU cell).</summary>
    void Backward(ArrayView<float> dgx, ArrayView<float> dgh, long gRow, ArrayView<float> carry, long carryAt, float dh,
        ArrayView<float> saved, long row, long savedPrev, ArrayView<float> states, long hPrev, int u, int units);
}

/// <summary><c>nn.RNN</c> (tanh).</summary>
public readonly struct SimpleRnnCell : IGpuRecurrentCell
{
    /// <inheritdoc/>
    public int Gates => 1;
    /// <inheritdoc/>
    public int Saved => 1;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Forward(ArrayView<float> saved, long row, long savedPrev, ArrayView<float> xp, long xpRow, ArrayView<float> hp, long hpRow,
        ArrayView<float> states, long hPrev, int u, int units)
    {
        float h = GpuMath.Tanh(xp[xpRow + u] + hp[hpRow + u]);
        saved[row + u] = h;
        return h;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Backward(ArrayView<float> dgx, ArrayView<float> dgh, long gRow, ArrayView<float> carry, long carryAt, float dh,
        ArrayView<float> saved, long row, long savedPrev, ArrayView<float> states, long hPrev, int u, int units)
    {
        float h = saved[row + u];
        dgx[gRow + u] = dh * (1f - h * h);
    }
}

/// <summary><c>nn.LSTM</c>: gates (i, f, g, o); saved i, f, g, o, c.</summary>
public readonly struct LstmCell : IGpuRecurrentCell
{
    /// <inheritdoc/>
    public int Gates => 4;
    /// <inheritdoc/>
    public int Saved => 5;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Forward(ArrayView<float> saved, long row, long savedPrev, ArrayView<float> xp, long xpRow, ArrayView<float> hp, long hpRow,
        ArrayView<float> states, long hPrev, int u, int units)
    {
        float i = GpuMath.Sigmoid(xp[xpRow + u] + hp[hpRow + u]);
        float f = GpuMath.Sigmoid(xp[xpRow + units + u] + hp[hpRow + units + u]);
        float g = GpuMath.Tanh(xp[xpRow + 2 * units + u] + hp[hpRow + 2 * units + u]);
        float o = GpuMath.Sigmoid(xp[xpRow + 3 * units + u] + hp[hpRow + 3 * units + u]);
        float cPrev = savedPrev < 0 ? 0f : saved[savedPrev + 4 * units + u];
        float c = f * cPrev + i * g;
        saved[row + u] = i;
        saved[row + units + u] = f;
        saved[row + 2 * units + u] = g;
        saved[row + 3 * units + u] = o;
        saved[row + 4 * units + u] = c;
        return o * GpuMath.Tanh(c);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Backward(ArrayView<float> dgx, ArrayView<float> dgh, long gRow, ArrayView<float> carry, long carryAt, float dh,
        ArrayView<float> saved, long row, long savedPrev, ArrayView<float> states, long hPrev, int u, int units)
    {
        float i = saved[row + u], f = saved[row + units + u], g = saved[row + 2 * units + u], o = saved[row + 3 * units + u];
        float c = saved[row + 4 * units + u];
        float cPrev = savedPrev < 0 ? 0f : saved[savedPrev + 4 * units + u];
        float tc = GpuMath.Tanh(c);
        float dc = carry[carryAt] + dh * o * (1f - tc * tc);
        carry[carryAt] = dc * f;
        dgx[gRow + u] = dc * g * i * (1f - i);
        dgx[gRow + units + u] = dc * cPrev * f * (1f - f);
        dgx[gRow + 2 * units + u] = dc * i * (1f - g * g);
        dgx[gRow + 3 * units + u] = dh * tc * o * (1f - o);
    }
}

/// <summary><c>nn.GRU</c>: gates (r, z, n), n = tanh(xp_n + r·hp_n); saved r, z, n, hp_n.</summary>
public readonly struct GruCell : IGpuRecurrentCell
{
    /// <inheritdoc/>
    public int Gates => 3;
    /// <inheritdoc/>
    public int Saved => 4;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Forward(ArrayView<float> saved, long row, long savedPrev, ArrayView<float> xp, long xpRow, ArrayView<float> hp, long hpRow,
        ArrayView<float> states, long hPrev, int u, int units)
    {
        float r = GpuMath.Sigmoid(xp[xpRow + u] + hp[hpRow + u]);
        float z = GpuMath.Sigmoid(xp[xpRow + units + u] + hp[hpRow + units + u]);
        float hn = hp[hpRow + 2 * units + u];
        float n = GpuMath.Tanh(xp[xpRow + 2 * units + u] + r * hn);
        saved[row + u] = r;
        saved[row + units + u] = z;
        saved[row + 2 * units + u] = n;
        saved[row + 3 * units + u] = hn;
        return (1f - z) * n + z * states[hPrev + u];
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Backward(ArrayView<float> dgx, ArrayView<float> dgh, long gRow, ArrayView<float> carry, long carryAt, float dh,
        ArrayView<float> saved, long row, long savedPrev, ArrayView<float> states, long hPrev, int u, int units)
    {
        float r = saved[row + u], z = saved[row + units + u], n = saved[row + 2 * units + u], hn = saved[row + 3 * units + u];
        dh += carry[carryAt];
        carry[carryAt] = dh * z;
        float dan = dh * (1f - z) * (1f - n * n);
        float dar = dan * hn * r * (1f - r);
        float daz = dh * (states[hPrev + u] - n) * z * (1f - z);
        dgx[gRow + u] = dar;
        dgx[gRow + units + u] = daz;
        dgx[gRow + 2 * units + u] = dan;
        dgh[gRow + u] = dar;
        dgh[gRow + units + u] = daz;
        dgh[gRow + 2 * units + u] = dan * r;
    }
}

/// <summary>
/// The recurrent layers' time loops on the device, the twins of <c>Compiled.CompilerServices.Recurrent</c> over the
/// same buffers. The input projection before the loop and the weight and input gradients after it are the dense GEMM
/// kernels over batch·T rows; these kernels run the steps. Samples are independent, so one group per sample walks all T
/// steps with a group barrier between the recurrent product (a thread per gate row: Σ_k W_hh[j, k]·h[k]) and the cell
/// (a thread per unit): one launch for the whole sequence, no grid-wide synchronisation. Launch: <see cref="Launch"/>.
/// </summary>
public static class Recurrent
{
    /// <summary>One group per sample, as many threads as gate rows (a multiple of 32, at most 256).</summary>
    public static KernelConfig Launch(int batch, int gateRows)
        => new(Math.Max(batch, 1), Math.Clamp((gateRows + 31) / 32 * 32, 32, 256));

    /// <summary>The forward loop: per step hp = h_{t−1}·W_hhᵀ + b_hh, then the cell; writes y, states, saved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward<TCell>(ArrayView<float> y, ArrayView<float> states, ArrayView<float> saved, ArrayView<float> hp,
        ArrayView<float> xp, ArrayView<float> whh, ArrayView<float> bhh, int batch, int steps, int units, bool returnSequences)
        where TCell : struct, IGpuRecurrentCell
    {
        int b = Grid.IdxX;
        if (b >= batch) return;
        int tid = Group.IdxX, threads = Group.DimX;
        int g = default(TCell).Gates * units, width = default(TCell).Saved * units;
        long stateRow0 = (long)b * steps * units, hpRow = (long)b * g;
        for (int k = tid; k < units; k += threads) states[stateRow0 + k] = 0f;
        Group.Barrier();
        for (int t = 0; t < steps; t++)
        {
            long hPrev = stateRow0 + (long)t * units;
            for (int j = tid; j < g; j += threads)
            {
                float sum = bhh[j];
                if (t > 0)
                {
                    long wRow = (long)j * units;
                    for (int k = 0; k < units; k++) sum += whh[wRow + k] * states[hPrev + k];
                }
                hp[hpRow + j] = sum;
            }
            Group.Barrier();
            long step = (long)b * steps + t;
            long row = step * width;
            for (int u = tid; u < units; u += threads)
            {
                float h = default(TCell).Forward(saved, row, t == 0 ? -1 : row - width, xp, step * g, hp, hpRow, states, hPrev, u, units);
                if (t + 1 < steps) states[hPrev + units + u] = h;
                if (returnSequences) y[step * units + u] = h;
                else if (t == steps - 1) y[(long)b * units + u] = h;
            }
            Group.Barrier();
        }
    }

    /// <summary>The backward loop: per step the cell's gate gradients, then dh_{t−1} = dgh[:, t]·W_hh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward<TCell>(ArrayView<float> dgx, ArrayView<float> dgh, ArrayView<float> dh, ArrayView<float> carry,
        ArrayView<float> dy, ArrayView<float> saved, ArrayView<float> states, ArrayView<float> whh, int batch, int steps, int units,
        bool returnSequences) where TCell : struct, IGpuRecurrentCell
    {
        int b = Grid.IdxX;
        if (b >= batch) return;
        int tid = Group.IdxX, threads = Group.DimX;
        int g = default(TCell).Gates * units, width = default(TCell).Saved * units;
        long unitRow = (long)b * units;
        for (int k = tid; k < units; k += threads) carry[unitRow + k] = 0f;
        Group.Barrier();
        for (int t = steps - 1; t >= 0; t--)
        {
            long step = (long)b * steps + t;
            long row = step * width, gRow = step * g, hPrev = step * units;
            for (int u = tid; u < units; u += threads)
            {
                float d = returnSequences ? dy[step * units + u] : t == steps - 1 ? dy[unitRow + u] : 0f;
                if (t < steps - 1) d += dh[unitRow + u];
                default(TCell).Backward(dgx, dgh, gRow, carry, unitRow + u, d, saved, row, t == 0 ? -1 : row - width, states, hPrev, u, units);
            }
            Group.Barrier();
            if (t == 0) break;
            for (int k = tid; k < units; k += threads)
            {
                float sum = 0f;
                for (int j = 0; j < g; j++) sum += dgh[gRow + j] * whh[(long)j * units + k];
                dh[unitRow + k] = sum;
            }
            Group.Barrier();
        }
    }
}
