using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>One step of one sample over <paramref name="count"/> units: reads the input projection
    /// <paramref name="xp"/> (W_ih·x + b_ih), the recurrent one <paramref name="hp"/> (W_hh·h + b_hh), h_{t−1} and the
    /// previous step's saved row (null at t = 0); writes its saved row and h_t. Gate k of unit u sits at
    /// <c>[k·stride + u]</c> in xp and saved and at <c>[k·hpStride + u]</c> in hp.</summary>
    static abstract void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int count, int stride, int hpStride);

    /// <summary>One backward step of one sample: from dL/dh_t (<paramref name="dh"/>: output and recurrent parts) and
    /// the cell's carried gradient (<paramref name="carry"/>, updated for step t − 1) writes dL/d(input projection)
    /// into <paramref name="dgx"/> and dL/d(recurrent projection) into <paramref name="dgh"/> (the same row for RNN and
    /// LSTM), over <paramref name="count"/> units; gate k of unit u sits at <c>[k·stride + u]</c> in dgx, dgh and
    /// saved.</summary>
    static abstract void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int count, int stride);
}

/// <summary><c>nn.RNN</c> (tanh): h = tanh(xp + hp). Saved: h.</summary>
public readonly unsafe struct SimpleRnnCell : IRecurrentCell
{
    /// <inheritdoc/>
    public static int Gates => 1;
    /// <inheritdoc/>
    public static int Saved => 1;

    /// <inheritdoc/>
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int count, int stride, int hpStride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, count),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, count),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, int count) where T : struct, IGateLanes<T>
    {
        for (; u + T.Count <= count; u += T.Count)
        {
            T v = T.Tanh(T.Load(xp + u) + T.Load(hp + u));
            T.Store(v, saved + u);
            T.Store(v, h + u);
        }
        return u;
    }

    /// <inheritdoc/>
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int count, int stride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, dh, saved, count),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, dh, saved, count),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, dh, saved, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* dh, float* saved, int count) where T : struct, IGateLanes<T>
    {
        T one = T.Splat(1f);
        for (; u + T.Count <= count; u += T.Count)
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
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int count, int stride, int hpStride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, savedPrev, count, stride, hpStride),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, savedPrev, count, stride, hpStride),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, savedPrev, count, stride, hpStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, float* savedPrev, int count, int n, int m)
        where T : struct, IGateLanes<T>
    {
        for (; u + T.Count <= count; u += T.Count)
        {
            T i = T.Sigmoid(T.Load(xp + u) + T.Load(hp + u));
            T f = T.Sigmoid(T.Load(xp + n + u) + T.Load(hp + m + u));
            T g = T.Tanh(T.Load(xp + 2 * n + u) + T.Load(hp + 2 * m + u));
            T o = T.Sigmoid(T.Load(xp + 3 * n + u) + T.Load(hp + 3 * m + u));
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
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int count, int stride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, carry, dh, saved, savedPrev, count, stride),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, carry, dh, saved, savedPrev, count, stride),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, carry, dh, saved, savedPrev, count, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* carry, float* dh, float* saved, float* savedPrev, int count, int n)
        where T : struct, IGateLanes<T>
    {
        T one = T.Splat(1f);
        for (; u + T.Count <= count; u += T.Count)
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
    public static void Forward(float* h, float* saved, float* xp, float* hp, float* hPrev, float* savedPrev, int count, int stride, int hpStride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Forward<Gate512>(0, h, saved, xp, hp, hPrev, count, stride, hpStride),
            KernelIsa.Vector256 => Forward<Gate256>(0, h, saved, xp, hp, hPrev, count, stride, hpStride),
            _ => 0,
        };
        Forward<Gate1>(u, h, saved, xp, hp, hPrev, count, stride, hpStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward<T>(int u, float* h, float* saved, float* xp, float* hp, float* hPrev, int count, int n, int m)
        where T : struct, IGateLanes<T>
    {
        T one = T.Splat(1f);
        for (; u + T.Count <= count; u += T.Count)
        {
            T r = T.Sigmoid(T.Load(xp + u) + T.Load(hp + u));
            T z = T.Sigmoid(T.Load(xp + n + u) + T.Load(hp + m + u));
            T hn = T.Load(hp + 2 * m + u);
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
    public static void Backward(float* dgx, float* dgh, float* carry, float* dh, float* saved, float* savedPrev, float* hPrev, int count, int stride)
    {
        int u = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Backward<Gate512>(0, dgx, dgh, carry, dh, saved, hPrev, count, stride),
            KernelIsa.Vector256 => Backward<Gate256>(0, dgx, dgh, carry, dh, saved, hPrev, count, stride),
            _ => 0,
        };
        Backward<Gate1>(u, dgx, dgh, carry, dh, saved, hPrev, count, stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward<T>(int u, float* dgx, float* dgh, float* carry, float* dh, float* saved, float* hPrev, int count, int n)
        where T : struct, IGateLanes<T>
    {
        T one = T.Splat(1f);
        for (; u + T.Count <= count; u += T.Count)
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
    /// <summary>a·b + c (fused where the lanes are vectors).</summary>
    static abstract T MultiplyAdd(T a, T b, T c);
}

/// <summary>
/// σ and tanh for the gate passes, inlined whole: e^x in single precision (Cephes' expf: x = n·ln 2 + r with
/// |r| ≤ ln 2 / 2, a degree-6 polynomial for e^r, 2^n put into the exponent bits; within 2 ulp), so a cell's five
/// exponentials per vector cost no call (the BCL's vector exp computes in double and is called out of line, spilling
/// every live register around each call). tanh(z) = sign(z)·(1 − e^(−2|z|)) / (1 + e^(−2|z|)), with the odd Taylor
/// polynomial to z⁷ below |z| = 1/8 where the subtraction would cancel, as <c>VectorMath.Tanh</c> does.
/// </summary>
internal static class GateMath
{
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float ExpMin = -87.3f, ExpMax = 88.3f; // 2^n stays a normal float
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
        P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    // tanh's small-|z| Taylor polynomial: VectorMath's constants (the same switch-over point and coefficients).
    private const float Small = VectorMath.Small, T3 = VectorMath.T3, T5 = VectorMath.T5, T7 = VectorMath.T7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpMin)), Vector512.Create(ExpMax));
        Vector512<float> n = Vector512.Round(x * Vector512.Create(Log2E));
        Vector512<float> r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        Vector512<int> scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23);
        return p * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpMin)), Vector256.Create(ExpMax));
        Vector256<float> n = Vector256.Round(x * Vector256.Create(Log2E));
        Vector256<float> r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        Vector256<int> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23);
        return p * scale.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> z) => Vector512<float>.One / (Vector512<float>.One + Exp(-z));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> z) => Vector256<float>.One / (Vector256<float>.One + Exp(-z));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> z)
    {
        Vector512<float> a = Vector512.Abs(z);
        Vector512<float> t = Exp(a * -2f);
        Vector512<float> big = (Vector512<float>.One - t) / (Vector512<float>.One + t);
        Vector512<float> z2 = z * z;
        Vector512<float> poly = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(
            Vector512.FusedMultiplyAdd(z2, Vector512.Create(T7), Vector512.Create(T5)), z2, Vector512.Create(T3)), z2 * a, a);
        Vector512<float> r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(Small)), poly, big);
        return r | (z & Vector512.Create(-0f)); // copy the sign of z
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> z)
    {
        Vector256<float> a = Vector256.Abs(z);
        Vector256<float> t = Exp(a * -2f);
        Vector256<float> big = (Vector256<float>.One - t) / (Vector256<float>.One + t);
        Vector256<float> z2 = z * z;
        Vector256<float> poly = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(
            Vector256.FusedMultiplyAdd(z2, Vector256.Create(T7), Vector256.Create(T5)), z2, Vector256.Create(T3)), z2 * a, a);
        Vector256<float> r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(Small)), poly, big);
        return r | (z & Vector256.Create(-0f));
    }
}

internal readonly unsafe struct Gate512(Vector512<float> v) : IGateLanes<Gate512>
{
    private readonly Vector512<float> _v = v;
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Gate512 value, float* destination) => value._v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Splat(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Sigmoid(Gate512 z) => new(GateMath.Sigmoid(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 Tanh(Gate512 z) => new(GateMath.Tanh(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator +(Gate512 a, Gate512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator -(Gate512 a, Gate512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 operator *(Gate512 a, Gate512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate512 MultiplyAdd(Gate512 a, Gate512 b, Gate512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));
}

internal readonly unsafe struct Gate256(Vector256<float> v) : IGateLanes<Gate256>
{
    private readonly Vector256<float> _v = v;
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Gate256 value, float* destination) => value._v.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Splat(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Sigmoid(Gate256 z) => new(GateMath.Sigmoid(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 Tanh(Gate256 z) => new(GateMath.Tanh(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator +(Gate256 a, Gate256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator -(Gate256 a, Gate256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 operator *(Gate256 a, Gate256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate256 MultiplyAdd(Gate256 a, Gate256 b, Gate256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Gate1 MultiplyAdd(Gate1 a, Gate1 b, Gate1 c) => new(a._v * b._v + c._v);
}

/// <summary>
/// The recurrent layers' time loops (batch_first, zero initial state). The input projection of every step is one GEMM
/// before the loop and the weight and input gradients are GEMMs after it (both through <see cref="Dense"/>); these
/// kernels run only what must go step by step: the recurrent product h_{t−1}·W_hhᵀ (forward) or dg_{t+1}·W_hh
/// (backward) and the cell's gates. Nothing is allocated per call.
/// </summary>
/// <remarks>
/// <para>Layouts (per sample): <c>xp [T, G·H]</c> the input projection; <c>states [T, H]</c> h_{t−1} for every step
/// (row 0 zero), so that dW_hh = dGhᵀ·states is one GEMM; <c>saved [T, S·H]</c>; <c>y [T, H]</c> with
/// <c>returnSequences</c>, else <c>[H]</c> (the last step).</para>
/// <para>How a step runs: W_hh is packed once per call (<see cref="RecurrentProduct"/>) into panels that each cover one
/// block of units: forward, the G gate columns of L units (L = the vector width), so that a register tile of the
/// recurrent product holds every gate of its units and the cell runs on it at once, without a pass over memory;
/// backward, the W_hh columns of 2L units, so that a tile gives dL/dh of those units. Samples are independent, so the
/// batch rows are cut into chunks that each walk all T steps of their rows; the two cores claim chunks in one
/// hand-off to the <see cref="Worker"/> per call (not per product), with no synchronisation between steps. Which core
/// runs a chunk never changes how its numbers are computed: results are bit-identical on one core or two.</para>
/// </remarks>
public static unsafe class Recurrent
{
    /// <summary>Gate work per step (batch · G · units) from which a sequence is shared with the second core (with at least
    /// two chunks of rows).</summary>
    public const int ParallelMinWork = 1 << 14;

    /// <summary>Batch rows per share of a sequence handed to a core (two forward tiles, one backward tile).</summary>
    private const int ChunkRows = 8;

    /// <summary>What a sequence's chunks read and write; lives on the caller's stack for the whole call.</summary>
    private struct SequenceArgs
    {
        public float* Y, States, Saved, Xp, Dgx, Dgh, Dy, Carry, Packed;
        public int Batch, Steps, Units, Gates, SavedWidth, UnitBlocks, Chunks;
        public bool ReturnSequences;
    }

    /// <summary>
    /// The forward time loop, after the input projection <paramref name="xp"/> = x·W_ihᵀ + b_ih [batch·T, G·H]:
    /// for t = 0..T−1, hp = h_{t−1}·W_hhᵀ + b_hh, then the cell on every unit. Writes <paramref name="y"/>,
    /// <paramref name="states"/>, <paramref name="saved"/>. <paramref name="hp"/> [batch, G·H] is the GPU twin's
    /// scratch; here hp stays in registers.
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
        if (batch == 0) return;
        KernelIsa isa = Gemm.Isa;
        int lanes = RecurrentProduct.Lanes(isa);
        fixed (float* py = y, pstates = states, psaved = saved, pxp = xp, pw = whh, pb = bhh)
        {
            float* packed = RecurrentProduct.PackForward(pw, pb, TCell.Gates, units, lanes);
            for (int b = 0; b < batch; b++) new Span<float>(pstates + (nint)b * steps * units, units).Clear(); // h_{−1} = 0
            var a = new SequenceArgs
            {
                Y = py, States = pstates, Saved = psaved, Xp = pxp, Packed = packed, Batch = batch, Steps = steps, Units = units,
                Gates = g, SavedWidth = TCell.Saved * units, UnitBlocks = (units + lanes - 1) / lanes, ReturnSequences = returnSequences,
            };
            delegate*<void*, int, void> part = isa switch
            {
                KernelIsa.Vector512 => &ForwardPart<TCell, Gate512>,
                KernelIsa.Vector256 => &ForwardPart<TCell, Gate256>,
                _ => &ForwardPart<TCell, Gate1>,
            };
            RunSequence(part, ref a, (long)batch * g);
        }
    }

    /// <summary>
    /// The backward time loop (BPTT over the build-time T), given dL/dy: for t = T−1..0, dL/dh_t = dy_t +
    /// dgh[:, t + 1]·W_hh, then the cell's gate gradients dgx [batch·T, G·H] (at the input projection) and dgh (at the
    /// recurrent one; pass it empty when it equals dgx, as for RNN and LSTM). <paramref name="carry"/> [batch, H] is
    /// scratch; <paramref name="dh"/> [batch, H] is the GPU twin's (here dL/dh stays in registers). The weight gradients
    /// and dx follow as GEMMs over all steps.
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
        if (batch == 0) return;
        KernelIsa isa = Gemm.Isa;
        int width = 2 * RecurrentProduct.Lanes(isa);
        fixed (float* pdgx = dgx, pdgh0 = dgh, pcarry = carry, pdy = dy, psaved = saved, pstates = states, pw = whh)
        {
            float* packed = RecurrentProduct.PackBackward(pw, g, units, width);
            carry.Slice(0, batch * units).Clear();
            var a = new SequenceArgs
            {
                Dgx = pdgx, Dgh = dgh.IsEmpty ? pdgx : pdgh0, Carry = pcarry, Dy = pdy, Saved = psaved, States = pstates, Packed = packed,
                Batch = batch, Steps = steps, Units = units, Gates = g, SavedWidth = TCell.Saved * units,
                UnitBlocks = (units + width - 1) / width, ReturnSequences = returnSequences,
            };
            delegate*<void*, int, void> part = isa switch
            {
                KernelIsa.Vector512 => &BackwardPart<TCell, Gate512>,
                KernelIsa.Vector256 => &BackwardPart<TCell, Gate256>,
                _ => &BackwardPart<TCell, Gate1>,
            };
            RunSequence(part, ref a, (long)batch * g);
        }
    }

    /// <summary>Runs the whole sequence for every batch row: the rows are cut into chunks of <see cref="ChunkRows"/>
    /// and, when a step is large enough and the worker is free, both cores claim chunks (one hand-off for the whole
    /// sequence); samples are independent, so a chunk walks all T steps of its rows with no synchronisation. A core that
    /// never joins (asleep, descheduled) only leaves more chunks to the other.</summary>
    private static void RunSequence(delegate*<void*, int, void> part, ref SequenceArgs a, long work)
    {
        void* pa = Unsafe.AsPointer(ref a); // a lives on the caller's stack
        int chunks = Math.Min(Gemm.MaxChunks, (a.Batch + ChunkRows - 1) / ChunkRows);
        if (work >= ParallelMinWork && chunks >= 2 && Worker.TryEnter())
        {
            a.Chunks = chunks;
            try { Worker.Run(part, pa, chunks); }
            finally { Worker.Exit(); }
            return;
        }
        a.Chunks = 1;
        part(pa, 0);
    }

    /// <summary>Rows [first, last) of the batch that <paramref name="chunk"/> covers, cut on multiples of 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int Last) RowRange(ref SequenceArgs a, int chunk)
    {
        if (a.Chunks == 1) return (0, a.Batch);
        int tiles = (a.Batch + RecurrentProduct.Rows - 1) / RecurrentProduct.Rows;
        int first = (int)((long)tiles * chunk / a.Chunks) * RecurrentProduct.Rows;
        int last = Math.Min(a.Batch, (int)((long)tiles * (chunk + 1) / a.Chunks) * RecurrentProduct.Rows);
        return (first, last);
    }

    private static void ForwardPart<TCell, T>(void* argument, int chunk) where TCell : struct, IRecurrentCell where T : struct, IGateLanes<T>
    {
        ref SequenceArgs a = ref Unsafe.AsRef<SequenceArgs>(argument);
        float* hp = stackalloc float[RecurrentProduct.Rows * 4 * 16]; // one tile of hp: rows × G gates × L lanes
        int lanes = T.Count, units = a.Units, steps = a.Steps, gl = TCell.Gates * lanes;
        (int first, int last) = RowRange(ref a, chunk);
        if (first >= last) return;
        nint rs = (nint)steps * units;
        for (int t = 0; t < steps; t++)
        {
            if (t + 1 < steps) PrefetchRows(ref a, first, last, t + 1, TCell.Gates, a.SavedWidth / units);
            for (int ub = 0; ub < a.UnitBlocks; ub++)
            {
                int u0 = ub * lanes, count = Math.Min(lanes, units - u0);
                float* panel = a.Packed + (nint)ub * (units + 1) * gl;
                for (int b0 = first; b0 < last; b0 += RecurrentProduct.Rows)
                {
                    int rows = Math.Min(RecurrentProduct.Rows, last - b0);
                    // hp[rows, G gates of units u0..u0+L] = b_hh + h_{t−1}[rows] · W_hh[those gate rows]ᵀ (no product at t = 0).
                    RecurrentProduct.ForwardTile<TCell, T>(a.States + ((nint)b0 * steps + t) * units, rs, rows, t == 0 ? 0 : units, panel, hp);
                    for (int r = 0; r < rows; r++)
                    {
                        int b = b0 + r;
                        nint step = (nint)b * steps + t;
                        float* saved = a.Saved + step * a.SavedWidth;
                        float* hPrev = a.States + step * units;
                        // h_t goes to the next step's h_(t−1) row and, when it is an output, to y.
                        float* next = t + 1 < steps ? hPrev + units : null;
                        float* y = a.ReturnSequences ? a.Y + step * units : t == steps - 1 ? a.Y + (nint)b * units : null;
                        float* h = next is null ? y : next;
                        TCell.Forward(h + u0, saved + u0, a.Xp + step * a.Gates + u0, hp + r * gl, hPrev + u0,
                            t == 0 ? null : saved - a.SavedWidth + u0, count, units, lanes);
                        if (next is null || y is null) continue;
                        if (count == lanes) T.Store(T.Load(next + u0), y + u0);
                        else Buffer.MemoryCopy(next + u0, y + u0, (long)count * sizeof(float), (long)count * sizeof(float));
                    }
                }
            }
        }
    }

    private static void BackwardPart<TCell, T>(void* argument, int chunk) where TCell : struct, IRecurrentCell where T : struct, IGateLanes<T>
    {
        ref SequenceArgs a = ref Unsafe.AsRef<SequenceArgs>(argument);
        float* dh = stackalloc float[RecurrentProduct.MaxBackwardRows * 2 * 16]; // one tile of dL/dh: rows × 2L units
        int tileRows = RecurrentProduct.BackwardRows<T>();
        int width = 2 * T.Count, units = a.Units, steps = a.Steps, g = a.Gates;
        (int first, int last) = RowRange(ref a, chunk);
        if (first >= last) return;
        for (int t = steps - 1; t >= 0; t--)
        {
            if (t > 0) PrefetchRows(ref a, first, last, t - 1, TCell.Gates, a.SavedWidth / units);
            for (int ub = 0; ub < a.UnitBlocks; ub++)
            {
                int u0 = ub * width, count = Math.Min(width, units - u0);
                float* panel = a.Packed + (nint)ub * g * width;
                for (int b0 = first; b0 < last; b0 += tileRows)
                {
                    int rows = Math.Min(tileRows, last - b0);
                    // dh[rows, units u0..u0+2L] = dgh[rows, t + 1] · W_hh[:, those units] (zero at the last step).
                    RecurrentProduct.BackwardTile<T>(a.Dgh + ((nint)b0 * steps + t + 1) * g, (nint)steps * g, rows,
                        t == steps - 1 ? 0 : g, panel, dh);
                    for (int r = 0; r < rows; r++)
                    {
                        int b = b0 + r;
                        nint step = (nint)b * steps + t;
                        float* saved = a.Saved + step * a.SavedWidth;
                        float* d = dh + r * width;
                        // dL/dh_t: from the output at this step, plus (below the last step) through h_t·W_hhᵀ of step t + 1.
                        float* dy = a.ReturnSequences ? a.Dy + step * units : t == steps - 1 ? a.Dy + (nint)b * units : null;
                        if (dy is not null && count == width)
                        {
                            T.Store(T.Load(d) + T.Load(dy + u0), d);
                            T.Store(T.Load(d + T.Count) + T.Load(dy + u0 + T.Count), d + T.Count);
                        }
                        else if (dy is not null) TensorPrimitives.Add(new ReadOnlySpan<float>(d, count), new ReadOnlySpan<float>(dy + u0, count), new Span<float>(d, count));
                        TCell.Backward(a.Dgx + step * g + u0, a.Dgh + step * g + u0, a.Carry + (nint)b * units + u0, d, saved + u0,
                            t == 0 ? null : saved - a.SavedWidth + u0, a.States + step * units + u0, count, units);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Asks for the rows step <paramref name="t"/> will touch (L2, while this step runs): the input projection
    /// (forward) or gate gradients (backward) and the saved gates of rows [first, last). A sample's rows of consecutive
    /// steps are adjacent, but the batch's rows are a whole sequence apart, too many streams for the hardware
    /// prefetcher; without this a step waits on memory for its xp and saved rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRows(ref SequenceArgs a, int first, int last, int t, int gates, int saves)
    {
        if (!Sse.IsSupported) return;
        float* rows = a.Xp is not null ? a.Xp : a.Dgx;
        for (int b = first; b < last; b++)
        {
            nint step = (nint)b * a.Steps + t;
            float* x = rows + step * a.Gates;
            for (int i = 0; i < gates * a.Units; i += 16) Sse.Prefetch1(x + i);
            float* saved = a.Saved + step * a.SavedWidth;
            for (int i = 0; i < saves * a.Units; i += 16) Sse.Prefetch1(saved + i);
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
