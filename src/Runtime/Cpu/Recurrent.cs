using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.CompilerServices;

/// <summary>
/// One recurrent cell's math over one sample's row at one step (PyTorch's <c>nn.RNN</c> with tanh, <c>nn.LSTM</c>,
/// <c>nn.GRU</c>), driven over time steps and batch rows by <see cref="Recurrent"/>. Gate <c>k</c> of unit <c>u</c>
/// sits at <c>[k·units + u]</c> (PyTorch's stacking of the gate weights). Each cell writes its math once over lanes:
/// AVX-512, AVX2 or single floats for the tail, chosen as the GEMM chooses.
/// </summary>
public unsafe interface IRecurrentCell
{
    /// <summary>Gates G: the weights are [G·units, inputs] and [G·units, units].</summary>
    static abstract int Gates { get; }

    /// <summary>Floats per unit per step the forward pass keeps for backward (gate activations, the cell state).</summary>
    static abstract int Saved { get; }

    /// <summary>One step of one sample: reads the input projection <paramref name="xp"/> (W_ih·x + b_ih), the recurrent
    /// one <paramref name="hp"/> (W_hh·h + b_hh), h_{t−1} and the previous step's saved row (null at t = 0); writes its
    /// saved row and h_t.</summary>
    static abstract void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int units);

    /// <summary>One backward step of one sample: from dL/dh_t (<paramref name="dh"/>: output and recurrent parts) and
    /// the cell's carried gradient (<paramref name="carry"/>, updated for step t − 1) writes dL/d(input projection)
    /// into <paramref name="dgx"/> and dL/d(recurrent projection) into <paramref name="dgh"/> (the same row for RNN and
    /// LSTM).</summary>
    static abstract void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int units);
}

/// <summary><c>nn.RNN</c> (tanh): h = tanh(xp + hp). Saved: h.</summary>
public readonly unsafe struct SimpleRnnCell : IRecurrentCell
{
    /// <inheritdoc/>
    public static int Gates => 1;
    /// <inheritdoc/>
    public static int Saved => 1;

    /// <inheritdoc/>
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, units),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, units),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, int units) where T : struct, IGateLanes<T>
    {
        for (; u + T.Count <= units; u += T.Count)
        {
            T v = T.Tanh(T.Load(xp + u) + T.Load(hp + u));
            T.Store(v, saved + u);
            T.Store(v, h + u);
        }
        return u;
    }

    /// <inheritdoc/>
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, dh, saved, units),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, dh, saved, units),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, dh, saved, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* dh, float* saved, int units) where T : struct, IGateLanes<T>
    {
        T one = T.Splat(1f);
        for (; u + T.Count <= units; u += T.Count)
        {
            T h = T.Load(saved + u);
            T.Store(T.Load(dh + u) * (one - h * h), dgx + u);
        }
        return u;
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
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, savedPrev, units),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, savedPrev, units),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, savedPrev, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, float* savedPrev, int units) where T : struct, IGateLanes<T>
    {
        int n = units;
        for (; u + T.Count <= units; u += T.Count)
        {
            T i = T.Sigmoid(T.Load(xp + u) + T.Load(hp + u));
            T f = T.Sigmoid(T.Load(xp + n + u) + T.Load(hp + n + u));
            T g = T.Tanh(T.Load(xp + 2 * n + u) + T.Load(hp + 2 * n + u));
            T o = T.Sigmoid(T.Load(xp + 3 * n + u) + T.Load(hp + 3 * n + u));
            T c = savedPrev is null ? i * g : f * T.Load(savedPrev + 4 * n + u) + i * g;
            T.Store(i, saved + u);
            T.Store(f, saved + n + u);
            T.Store(g, saved + 2 * n + u);
            T.Store(o, saved + 3 * n + u);
            T.Store(c, saved + 4 * n + u);
            T.Store(o * T.Tanh(c), h + u);
        }
        return u;
    }

    /// <inheritdoc/>
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, carry, dh, saved, savedPrev, units),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, carry, dh, saved, savedPrev, units),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, carry, dh, saved, savedPrev, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* carry, float* dh, float* saved, float* savedPrev, int units) where T : struct, IGateLanes<T>
    {
        int n = units;
        T one = T.Splat(1f);
        for (; u + T.Count <= units; u += T.Count)
        {
            T i = T.Load(saved + u), f = T.Load(saved + n + u), g = T.Load(saved + 2 * n + u), o = T.Load(saved + 3 * n + u);
            T cPrev = savedPrev is null ? T.Splat(0f) : T.Load(savedPrev + 4 * n + u);
            T tc = T.Tanh(T.Load(saved + 4 * n + u));
            T d = T.Load(dh + u);
            T dc = T.Load(carry + u) + d * o * (one - tc * tc);
            T.Store(dc * f, carry + u);
            T.Store(dc * g * i * (one - i), dgx + u);
            T.Store(dc * cPrev * f * (one - f), dgx + n + u);
            T.Store(dc * i * (one - g * g), dgx + 2 * n + u);
            T.Store(d * tc * o * (one - o), dgx + 3 * n + u);
        }
        return u;
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
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, hPrev, units),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, hPrev, units),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, hPrev, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, float* hPrev, int units) where T : struct, IGateLanes<T>
    {
        int n = units;
        T one = T.Splat(1f);
        for (; u + T.Count <= units; u += T.Count)
        {
            T r = T.Sigmoid(T.Load(xp + u) + T.Load(hp + u));
            T z = T.Sigmoid(T.Load(xp + n + u) + T.Load(hp + n + u));
            T hn = T.Load(hp + 2 * n + u);
            T nn = T.Tanh(T.Load(xp + 2 * n + u) + r * hn);
            T.Store(r, saved + u);
            T.Store(z, saved + n + u);
            T.Store(nn, saved + 2 * n + u);
            T.Store(hn, saved + 3 * n + u);
            T.Store((one - z) * nn + z * T.Load(hPrev + u), h + u);
        }
        return u;
    }

    /// <inheritdoc/>
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int units)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, dgh, carry, dh, saved, hPrev, units),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, dgh, carry, dh, saved, hPrev, units),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, dgh, carry, dh, saved, hPrev, units);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* dgh, float* carry, float* dh, float* saved, float* hPrev, int units)
        where T : struct, IGateLanes<T>
    {
        int n = units;
        T one = T.Splat(1f);
        for (; u + T.Count <= units; u += T.Count)
        {
            T r = T.Load(saved + u), z = T.Load(saved + n + u), nn = T.Load(saved + 2 * n + u), hn = T.Load(saved + 3 * n + u);
            T d = T.Load(dh + u) + T.Load(carry + u);
            T.Store(d * z, carry + u);
            T dan = d * (one - z) * (one - nn * nn);
            T dar = dan * hn * r * (one - r);
            T daz = d * (T.Load(hPrev + u) - nn) * z * (one - z);
            T.Store(dar, dgx + u);
            T.Store(daz, dgx + n + u);
            T.Store(dan, dgx + 2 * n + u);
            T.Store(dar, dgh + u);
            T.Store(daz, dgh + n + u);
            T.Store(dan * r, dgh + 2 * n + u);
        }
        return u;
    }
}

/// <summary>The arithmetic the cells need, on AVX-512, AVX2 or single-float lanes (the cells' math is written once).</summary>
internal unsafe interface IGateLanes<T> where T : struct, IGateLanes<T>
{
    static abstract int Count { get; }
    static abstract T Load(float* source);
    static abstract void Store(T value, float* destination);
    static abstract T Splat(float value);
    static abstract T Sigmoid(T z);
    static abstract T Tanh(T z);
    static abstract T operator +(T a, T b);
    static abstract T operator -(T a, T b);
    static abstract T operator *(T a, T b);
}

internal readonly unsafe struct Gate512(Vector512<float> v) : IGateLanes<Gate512>
{
    private readonly Vector512<float> _v = v;
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Gate512 value, float* destination) => value._v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Splat(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Sigmoid(Gate512 z) => new(CompilerServices.Sigmoid.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Tanh(Gate512 z) => new(VectorMath.Tanh(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator +(Gate512 a, Gate512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator -(Gate512 a, Gate512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator *(Gate512 a, Gate512 b) => new(a._v * b._v);
}

internal readonly unsafe struct Gate256(Vector256<float> v) : IGateLanes<Gate256>
{
    private readonly Vector256<float> _v = v;
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Gate256 value, float* destination) => value._v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Splat(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Sigmoid(Gate256 z) => new(CompilerServices.Sigmoid.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Tanh(Gate256 z) => new(VectorMath.Tanh(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator +(Gate256 a, Gate256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator -(Gate256 a, Gate256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator *(Gate256 a, Gate256 b) => new(a._v * b._v);
}

internal readonly unsafe struct Gate1(float v) : IGateLanes<Gate1>
{
    private readonly float _v = v;
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 Load(float* source) => new(*source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Gate1 value, float* destination) => *destination = value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 Splat(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 Sigmoid(Gate1 z) => new(CompilerServices.Sigmoid.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 Tanh(Gate1 z) => new(MathF.Tanh(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 operator +(Gate1 a, Gate1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 operator -(Gate1 a, Gate1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 operator *(Gate1 a, Gate1 b) => new(a._v * b._v);
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
            float* hPrev = a.States + step * units;
            // h_t goes to the next step's h_(t−1) row and, when it is an output, to y.
            float* next = t + 1 < steps ? hPrev + units : null;
            float* y = a.ReturnSequences ? a.Y + step * units : t == steps - 1 ? a.Y + (nint)b * units : null;
            TCell.Forward(next is null ? y : next, saved, a.Xp + step * a.Gates, a.Hp + (nint)b * a.Gates, hPrev,
                t == 0 ? null : saved - a.SavedWidth, units);
            if (next is not null && y is not null) Buffer.MemoryCopy(next, y, (long)units * sizeof(float), (long)units * sizeof(float));
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
            float* dh = a.Dh + (nint)b * units;
            // dL/dh_t: from the output at this step, plus (below the last step) through h_t·W_hhᵀ of step t + 1,
            // which the GEMM left in dh.
            float* dy = a.ReturnSequences ? a.Dy + step * units : t == steps - 1 ? a.Dy + (nint)b * units : null;
            var row = new Span<float>(dh, units);
            if (t == steps - 1) new ReadOnlySpan<float>(dy, units).CopyTo(row);
            else if (dy is not null) TensorPrimitives.Add(row, new ReadOnlySpan<float>(dy, units), row);
            TCell.Backward(a.Dgx + step * a.Gates, a.Dgh + step * a.Gates, a.Carry + (nint)b * units, dh, saved,
                t == 0 ? null : saved - a.SavedWidth, a.States + step * units, units);
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
