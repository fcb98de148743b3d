using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The per-unit math of one recurrent cell (PyTorch's <c>nn.RNN</c> with tanh, <c>nn.LSTM</c>, <c>nn.GRU</c>), driven
/// over time steps and batch rows by <see cref="Recurrent"/>. Every pointer is one sample's row at one step; gate
/// <c>k</c> of unit <c>u</c> sits at <c>[k·units + u]</c> (PyTorch's stacking of the gate weights).
/// </summary>
public unsafe interface IRecurrentCell
{
    /// <summary>Gates G: the weights are [G·units, inputs] and [G·units, units].</summary>
    static abstract int Gates { get; }

    /// <summary>Floats per unit per step the forward pass keeps for backward (gate activations, the cell state).</summary>
    static abstract int Saved { get; }

    /// <summary>One unit's step: reads the input projection <paramref name="xp"/> (W_ih·x + b_ih), the recurrent one
    /// <paramref name="hp"/> (W_hh·h + b_hh), h_{t−1} and the previous step's saved row (null at t = 0); writes its
    /// saved values and returns h_t.</summary>
    static abstract float Forward(float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int u, int units);

    /// <summary>One unit's backward step: from dL/dh_t (<paramref name="dh"/>, recurrent and output parts) and the
    /// cell's carried gradient (<paramref name="carry"/>, updated for step t − 1) writes dL/d(input projection) into
    /// <paramref name="dgx"/> and dL/d(recurrent projection) into <paramref name="dgh"/> (the same row for RNN and LSTM).</summary>
    static abstract void Backward(float* dgx, float* dgh, float* carry, float dh, float* saved, float* savedPrev, float* hPrev, int u, int units);
}

/// <summary><c>nn.RNN</c> (tanh): h = tanh(xp + hp). Saved: h.</summary>
public readonly unsafe struct SimpleRnnCell : IRecurrentCell
{
    /// <inheritdoc/>
    public static int Gates => 1;
    /// <inheritdoc/>
    public static int Saved => 1;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int u, int units)
    {
        float h = MathF.Tanh(xp[u] + hp[u]);
        saved[u] = h;
        return h;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(float* dgx, float* dgh, float* carry, float dh, float* saved, float* savedPrev, float* hPrev, int u, int units)
    {
        float h = saved[u];
        dgx[u] = dh * (1f - h * h);
    }
}

/// <summary><c>nn.LSTM</c>: gates (i, f, g, o); c = f·c_{t−1} + i·g, h = o·tanh(c). Saved: i, f, g, o, c.</summary>
public readonly unsafe struct LstmCell : IRecurrentCell
{
    /// <inheritdoc/>
    public static int Gates => 4;
    /// <inheritdoc/>
    public static int Saved => 5;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int u, int units)
    {
        float i = Sigmoid.Apply(xp[u] + hp[u]);
        float f = Sigmoid.Apply(xp[units + u] + hp[units + u]);
        float g = MathF.Tanh(xp[2 * units + u] + hp[2 * units + u]);
        float o = Sigmoid.Apply(xp[3 * units + u] + hp[3 * units + u]);
        float cPrev = savedPrev is null ? 0f : savedPrev[4 * units + u];
        float c = f * cPrev + i * g;
        saved[u] = i;
        saved[units + u] = f;
        saved[2 * units + u] = g;
        saved[3 * units + u] = o;
        saved[4 * units + u] = c;
        return o * MathF.Tanh(c);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(float* dgx, float* dgh, float* carry, float dh, float* saved, float* savedPrev, float* hPrev, int u, int units)
    {
        float i = saved[u], f = saved[units + u], g = saved[2 * units + u], o = saved[3 * units + u], c = saved[4 * units + u];
        float cPrev = savedPrev is null ? 0f : savedPrev[4 * units + u];
        float tc = MathF.Tanh(c);
        float dc = carry[u] + dh * o * (1f - tc * tc);
        carry[u] = dc * f;
        dgx[u] = dc * g * i * (1f - i);
        dgx[units + u] = dc * cPrev * f * (1f - f);
        dgx[2 * units + u] = dc * i * (1f - g * g);
        dgx[3 * units + u] = dh * tc * o * (1f - o);
    }
}

/// <summary><c>nn.GRU</c>: gates (r, z, n); n = tanh(xp_n + r·hp_n), h = (1 − z)·n + z·h_{t−1}. Saved: r, z, n, hp_n.</summary>
public readonly unsafe struct GruCell : IRecurrentCell
{
    /// <inheritdoc/>
    public static int Gates => 3;
    /// <inheritdoc/>
    public static int Saved => 4;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int u, int units)
    {
        float r = Sigmoid.Apply(xp[u] + hp[u]);
        float z = Sigmoid.Apply(xp[units + u] + hp[units + u]);
        float hn = hp[2 * units + u];
        float n = MathF.Tanh(xp[2 * units + u] + r * hn);
        saved[u] = r;
        saved[units + u] = z;
        saved[2 * units + u] = n;
        saved[3 * units + u] = hn;
        return (1f - z) * n + z * hPrev[u];
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(float* dgx, float* dgh, float* carry, float dh, float* saved, float* savedPrev, float* hPrev, int u, int units)
    {
        float r = saved[u], z = saved[units + u], n = saved[2 * units + u], hn = saved[3 * units + u];
        dh += carry[u];
        carry[u] = dh * z;
        float dan = dh * (1f - z) * (1f - n * n);
        float dar = dan * hn * r * (1f - r);
        float daz = dh * (hPrev[u] - n) * z * (1f - z);
        dgx[u] = dar;
        dgx[units + u] = daz;
        dgx[2 * units + u] = dan;
        dgh[u] = dar;
        dgh[units + u] = daz;
        dgh[2 * units + u] = dan * r;
    }
}

/// <summary>
/// The recurrent layers' time loops (batch_first, zero initial state). The input projection of every step is one GEMM
/// before the loop and the weight and input gradients are GEMMs after it (both through <see cref="Dense"/>); these
/// kernels run only what must go step by step: the recurrent product h_{t−1}·W_hhᵀ (one GEMM per step) and the cell's
/// gates in one fused pass over the batch, split across both cores when the batch is large. Nothing is allocated.
/// </summary>
/// <remarks>
/// Layouts (per sample): <c>xp [T, G·H]</c> the input projection; <c>states [T, H]</c> h_{t−1} for every step
/// (row 0 zero), so that dW_hh = dGhᵀ·states is one GEMM; <c>saved [T, S·H]</c>; <c>y [T, H]</c> with
/// <c>returnSequences</c>, else <c>[H]</c> (the last step).
/// </remarks>
public static unsafe class Recurrent
{
    /// <summary>Gate work (batch · G · units) from which the cell pass is split across both cores.</summary>
    public const int ParallelMinWork = 1 << 14;

    private struct StepArgs
    {
        public float* Y, States, Saved, Hp, Xp, Dgx, Dgh, Dh, Carry, Dy;
        public int Batch, Steps, Units, Gates, SavedWidth, T, Chunks;
        public bool ReturnSequences;
    }

    /// <summary>
    /// The forward time loop, after the input projection <paramref name="xp"/> = x·W_ihᵀ + b_ih [batch·T, G·H]:
    /// for t = 0..T−1, hp = h_{t−1}·W_hhᵀ + b_hh [batch, G·H] (GEMM), then the cell on every unit. Writes
    /// <paramref name="y"/>, <paramref name="states"/>, <paramref name="saved"/>; <paramref name="hp"/> is scratch.
    /// </summary>
    public static void Forward<TCell>(Span<float> y, Span<float> states, Span<float> saved, Span<float> hp, ReadOnlySpan<float> xp,
        ReadOnlySpan<float> whh, ReadOnlySpan<float> bhh, int batch, int steps, int units, bool returnSequences) where TCell : struct, IRecurrentCell
    {
        int g = TCell.Gates * units;
        Check(batch, steps, units);
        Need(xp, (long)batch * steps * g, nameof(xp));
        Need(whh, (long)g * units, nameof(whh));
        Need(bhh, g, nameof(bhh));
        Need(states, (long)batch * steps * units, nameof(states));
        Need(saved, (long)batch * steps * TCell.Saved * units, nameof(saved));
        Need(hp, (long)batch * g, nameof(hp));
        Need(y, (long)batch * (returnSequences ? steps : 1) * units, nameof(y));
        fixed (float* py = y, pstates = states, psaved = saved, php = hp, pxp = xp, pw = whh, pb = bhh)
        {
            var a = new StepArgs
            {
                Y = py, States = pstates, Saved = psaved, Hp = php, Xp = pxp, Batch = batch, Steps = steps, Units = units,
                Gates = g, SavedWidth = TCell.Saved * units, ReturnSequences = returnSequences,
            };
            for (int b = 0; b < batch; b++)
            {
                new Span<float>(pstates + (nint)b * steps * units, units).Clear();
                new ReadOnlySpan<float>(pb, g).CopyTo(new Span<float>(php + (nint)b * g, g)); // h_{−1} = 0: hp = b_hh
            }
            for (int t = 0; t < steps; t++)
            {
                a.T = t;
                if (t > 0)
                {
                    // hp[batch, G·H] = states[:, t] · W_hhᵀ + b_hh (states rows are T·H apart).
                    var gemm = new GemmArgs
                    {
                        A = pstates + (nint)t * units, RsA = (nint)steps * units, CsA = 1,
                        B = pw, RsB = 1, CsB = units,
                        C = php, LdC = g, Bias = pb,
                        M = batch, N = g, K = units,
                    };
                    Gemm.Run<Identity>(ref gemm);
                }
                Run(&ForwardRows<TCell>, ref a, (long)batch * g);
            }
        }
    }

    /// <summary>
    /// The backward time loop (BPTT over the build-time T), given dL/dy: for t = T−1..0 the cell's gate gradients
    /// dgx [batch·T, G·H] (at the input projection) and dgh (at the recurrent one; pass it empty when it equals dgx, as
    /// for RNN and LSTM), then dh = dgh[:, t]·W_hh for step t − 1 (GEMM). <paramref name="dh"/> and
    /// <paramref name="carry"/> [batch, H] are scratch. The weight gradients and dx follow as GEMMs over all steps.
    /// </summary>
    public static void Backward<TCell>(Span<float> dgx, Span<float> dgh, Span<float> dh, Span<float> carry, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> saved, ReadOnlySpan<float> states, ReadOnlySpan<float> whh, int batch, int steps, int units, bool returnSequences)
        where TCell : struct, IRecurrentCell
    {
        int g = TCell.Gates * units;
        Check(batch, steps, units);
        Need(dgx, (long)batch * steps * g, nameof(dgx));
        if (!dgh.IsEmpty) Need(dgh, (long)batch * steps * g, nameof(dgh));
        Need(dh, (long)batch * units, nameof(dh));
        Need(carry, (long)batch * units, nameof(carry));
        Need(dy, (long)batch * (returnSequences ? steps : 1) * units, nameof(dy));
        Need(saved, (long)batch * steps * TCell.Saved * units, nameof(saved));
        Need(states, (long)batch * steps * units, nameof(states));
        Need(whh, (long)g * units, nameof(whh));
        fixed (float* pdgx = dgx, pdgh0 = dgh, pdh = dh, pcarry = carry, pdy = dy, psaved = saved, pstates = states, pw = whh)
        {
            float* pdgh = dgh.IsEmpty ? pdgx : pdgh0;
            var a = new StepArgs
            {
                Dgx = pdgx, Dgh = pdgh, Dh = pdh, Carry = pcarry, Dy = pdy, Saved = psaved, States = pstates,
                Batch = batch, Steps = steps, Units = units, Gates = g, SavedWidth = TCell.Saved * units, ReturnSequences = returnSequences,
            };
            carry.Slice(0, batch * units).Clear();
            for (int t = steps - 1; t >= 0; t--)
            {
                a.T = t;
                Run(&BackwardRows<TCell>, ref a, (long)batch * g);
                if (t == 0) break;
                // dh[batch, H] = dgh[:, t] · W_hh, the gradient reaching h_{t−1} through the recurrent product.
                var gemm = new GemmArgs
                {
                    A = pdgh + (nint)t * g, RsA = (nint)steps * g, CsA = 1,
                    B = pw, RsB = units, CsB = 1,
                    C = pdh, LdC = units,
                    M = batch, N = units, K = g,
                };
                Gemm.Run<Identity>(ref gemm);
            }
        }
    }

    /// <summary>Runs <paramref name="rows"/> over the batch, on both cores when the step is large enough.</summary>
    private static void Run(delegate*<void*, int, void> rows, ref StepArgs a, long work)
    {
        void* pa = Unsafe.AsPointer(ref a); // a lives on the caller's stack
        if (work >= ParallelMinWork && a.Batch >= 2 && Worker.TryEnter())
        {
            a.Chunks = Math.Min(a.Batch, 8);
            try { Worker.Run(rows, pa, a.Chunks); }
            finally { Worker.Exit(); }
            return;
        }
        a.Chunks = 1;
        rows(pa, 0);
    }

    private static void ForwardRows<TCell>(void* argument, int chunk) where TCell : struct, IRecurrentCell
    {
        ref StepArgs a = ref Unsafe.AsRef<StepArgs>(argument);
        int t = a.T, units = a.Units, steps = a.Steps;
        int first = (int)((long)a.Batch * chunk / a.Chunks), last = (int)((long)a.Batch * (chunk + 1) / a.Chunks);
        for (int b = first; b < last; b++)
        {
            nint step = (nint)b * steps + t;
            float* saved = a.Saved + step * a.SavedWidth;
            float* savedPrev = t == 0 ? null : saved - a.SavedWidth;
            float* xp = a.Xp + step * a.Gates, hp = a.Hp + (nint)b * a.Gates;
            float* hPrev = a.States + step * units;
            float* next = t + 1 < steps ? hPrev + units : null;
            float* y = a.ReturnSequences ? a.Y + step * units : t == steps - 1 ? a.Y + (nint)b * units : null;
            for (int u = 0; u < units; u++)
            {
                float h = TCell.Forward(saved, xp, hp, hPrev, savedPrev, u, units);
                if (next is not null) next[u] = h;
                if (y is not null) y[u] = h;
            }
        }
    }

    private static void BackwardRows<TCell>(void* argument, int chunk) where TCell : struct, IRecurrentCell
    {
        ref StepArgs a = ref Unsafe.AsRef<StepArgs>(argument);
        int t = a.T, units = a.Units, steps = a.Steps;
        int first = (int)((long)a.Batch * chunk / a.Chunks), last = (int)((long)a.Batch * (chunk + 1) / a.Chunks);
        for (int b = first; b < last; b++)
        {
            nint step = (nint)b * steps + t;
            float* saved = a.Saved + step * a.SavedWidth;
            float* savedPrev = t == 0 ? null : saved - a.SavedWidth;
            float* hPrev = a.States + step * units;
            float* dgx = a.Dgx + step * a.Gates, dgh = a.Dgh + step * a.Gates;
            float* carry = a.Carry + (nint)b * units, dh = a.Dh + (nint)b * units;
            // dL/dh_t: from the output at this step, plus (below the last step) through h_t·W_hhᵀ of step t + 1.
            float* dy = a.ReturnSequences ? a.Dy + step * units : t == steps - 1 ? a.Dy + (nint)b * units : null;
            bool recurrent = t < steps - 1;
            for (int u = 0; u < units; u++)
            {
                float d = (dy is null ? 0f : dy[u]) + (recurrent ? dh[u] : 0f);
                TCell.Backward(dgx, dgh, carry, d, saved, savedPrev, hPrev, u, units);
            }
        }
    }

    private static void Check(int batch, int steps, int units)
    {
        if (batch < 0 || steps <= 0 || units <= 0)
            throw new ArgumentOutOfRangeException(batch < 0 ? nameof(batch) : steps <= 0 ? nameof(steps) : nameof(units),
                "The batch must not be negative, and the steps and units must be positive.");
    }

    private static void Need(ReadOnlySpan<float> span, long length, string name)
    {
        if (span.Length < length) Activations.ThrowShort(name);
    }
}
