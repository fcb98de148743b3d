using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// The vector the convolution and pooling kernels are written against once: <see cref="ConvLanes512"/> (AVX-512),
/// <see cref="ConvLanes256"/> (AVX2 + FMA) and <see cref="ConvLane1"/> (one float, for machines without either).
/// The JIT specialises each kernel for each struct, so the wrappers cost nothing.
/// </summary>
internal unsafe interface IConvLanes<T> where T : struct, IConvLanes<T>
{
    static abstract int Count { get; }
    static abstract T Zero { get; }
    /// <summary>Lane i holds i.</summary>
    static abstract T Indices { get; }
    static abstract T Load(float* p);
    static abstract void Store(float* p, T v);
    /// <summary>Loads the first <paramref name="n"/> lanes (all when n ≥ Count), the rest zero; nothing is read past them.</summary>
    static abstract T LoadPart(float* p, int n);
    /// <summary>Stores the first <paramref name="n"/> lanes (none when n ≤ 0).</summary>
    static abstract void StorePart(float* p, T v, int n);
    /// <summary>Stores the first <paramref name="n"/> lanes, converted to integers.</summary>
    static abstract void StoreIntPart(int* p, T v, int n);
    static abstract T Splat(float v);
    /// <summary>a·b + c (fused where the machine has it).</summary>
    static abstract T Fma(T a, T b, T c);
    static abstract T Add(T a, T b);
    static abstract T Mul(T a, T b);
    /// <summary>Loads the first <paramref name="n"/> integers (all when n ≥ Count) converted to floats (exact below
    /// 2²⁴), the rest zero; nothing is read past them.</summary>
    static abstract T LoadIntPart(int* p, int n);
    /// <summary>Lanes where a &gt; b, as all-ones bits.</summary>
    static abstract T GreaterThan(T a, T b);
    /// <summary>Lanes where a = b, as all-ones bits.</summary>
    static abstract T Equal(T a, T b);
    /// <summary>mask ? a : b per lane.</summary>
    static abstract T Select(T mask, T a, T b);
    static abstract T Apply<TAct>(T z) where TAct : struct, IActivation;
    /// <summary>The sum of the lanes, in a fixed order.</summary>
    static abstract float Sum(T v);
}

internal readonly unsafe struct ConvLanes512 : IConvLanes<ConvLanes512>
{
    private readonly Vector512<float> _v;
    private ConvLanes512(Vector512<float> v) => _v = v;

    public static int Count => 16;
    public static ConvLanes512 Zero => new(Vector512<float>.Zero);
    public static ConvLanes512 Indices => new(Vector512.ConvertToSingle(Vector512<int>.Indices));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* p, ConvLanes512 v) => v._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 LoadPart(float* p, int n) =>
        n >= 16 ? new(Vector512.Load(p)) : new(Avx512F.MaskLoad(p, Kernel512.Mask(n), Vector512<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePart(float* p, ConvLanes512 v, int n)
    {
        if (n >= 16) v._v.Store(p);
        else if (n > 0) Avx512F.MaskStore(p, Kernel512.Mask(n), v._v);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreIntPart(int* p, ConvLanes512 v, int n)
    {
        Vector512<int> i = Vector512.ConvertToInt32(v._v);
        if (n >= 16) i.Store(p);
        else if (n > 0) Avx512F.MaskStore(p, Kernel512.Mask(n).AsInt32(), i);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Splat(float v) => new(Vector512.Create(v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Fma(ConvLanes512 a, ConvLanes512 b, ConvLanes512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Add(ConvLanes512 a, ConvLanes512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Mul(ConvLanes512 a, ConvLanes512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 LoadIntPart(int* p, int n) => new(Vector512.ConvertToSingle(
        n >= 16 ? Vector512.Load(p) : Avx512F.MaskLoad(p, Kernel512.Mask(n).AsInt32(), Vector512<int>.Zero)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Equal(ConvLanes512 a, ConvLanes512 b) => new(Vector512.Equals(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 GreaterThan(ConvLanes512 a, ConvLanes512 b) => new(Vector512.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Select(ConvLanes512 mask, ConvLanes512 a, ConvLanes512 b) => new(Vector512.ConditionalSelect(mask._v, a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes512 Apply<TAct>(ConvLanes512 z) where TAct : struct, IActivation => new(TAct.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(ConvLanes512 v) => Vector512.Sum(v._v);
}

internal readonly unsafe struct ConvLanes256 : IConvLanes<ConvLanes256>
{
    private readonly Vector256<float> _v;
    private ConvLanes256(Vector256<float> v) => _v = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Mask(int n) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle();

    public static int Count => 8;
    public static ConvLanes256 Zero => new(Vector256<float>.Zero);
    public static ConvLanes256 Indices => new(Vector256.ConvertToSingle(Vector256<int>.Indices));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* p, ConvLanes256 v) => v._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 LoadPart(float* p, int n) =>
        n >= 8 ? new(Vector256.Load(p)) : n <= 0 ? Zero : new(Avx.MaskLoad(p, Mask(n)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePart(float* p, ConvLanes256 v, int n)
    {
        if (n >= 8) v._v.Store(p);
        else if (n > 0) Avx.MaskStore(p, Mask(n), v._v);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreIntPart(int* p, ConvLanes256 v, int n)
    {
        Vector256<int> i = Vector256.ConvertToInt32(v._v);
        if (n >= 8) i.Store(p);
        else if (n > 0) Avx2.MaskStore(p, Mask(n).AsInt32(), i);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Splat(float v) => new(Vector256.Create(v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Fma(ConvLanes256 a, ConvLanes256 b, ConvLanes256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Add(ConvLanes256 a, ConvLanes256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Mul(ConvLanes256 a, ConvLanes256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 LoadIntPart(int* p, int n) => new(Vector256.ConvertToSingle(
        n >= 8 ? Vector256.Load(p) : n <= 0 ? Vector256<int>.Zero : Avx2.MaskLoad(p, Mask(n).AsInt32())));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Equal(ConvLanes256 a, ConvLanes256 b) => new(Vector256.Equals(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 GreaterThan(ConvLanes256 a, ConvLanes256 b) => new(Vector256.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Select(ConvLanes256 mask, ConvLanes256 a, ConvLanes256 b) => new(Vector256.ConditionalSelect(mask._v, a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLanes256 Apply<TAct>(ConvLanes256 z) where TAct : struct, IActivation => new(TAct.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(ConvLanes256 v) => Vector256.Sum(v._v);
}

internal readonly unsafe struct ConvLane1 : IConvLanes<ConvLane1>
{
    private readonly float _v;
    private ConvLane1(float v) => _v = v;

    public static int Count => 1;
    public static ConvLane1 Zero => new(0f);
    public static ConvLane1 Indices => new(0f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Load(float* p) => new(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* p, ConvLane1 v) => *p = v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 LoadPart(float* p, int n) => n >= 1 ? new(*p) : Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePart(float* p, ConvLane1 v, int n)
    {
        if (n >= 1) *p = v._v;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreIntPart(int* p, ConvLane1 v, int n)
    {
        if (n >= 1) *p = (int)v._v;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Splat(float v) => new(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Fma(ConvLane1 a, ConvLane1 b, ConvLane1 c) => new(a._v * b._v + c._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Add(ConvLane1 a, ConvLane1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Mul(ConvLane1 a, ConvLane1 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 LoadIntPart(int* p, int n) => n >= 1 ? new(*p) : Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Equal(ConvLane1 a, ConvLane1 b) => new(a._v == b._v ? BitConverter.Int32BitsToSingle(-1) : 0f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 GreaterThan(ConvLane1 a, ConvLane1 b) => new(a._v > b._v ? BitConverter.Int32BitsToSingle(-1) : 0f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Select(ConvLane1 mask, ConvLane1 a, ConvLane1 b) => BitConverter.SingleToInt32Bits(mask._v) != 0 ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ConvLane1 Apply<TAct>(ConvLane1 z) where TAct : struct, IActivation => new(TAct.Apply(z._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(ConvLane1 v) => v._v;
}

/// <summary>Per-thread scratch for the convolution kernels: two growable 64-byte-aligned native buffers (slot 0 for the
/// caller's per-call data such as packed weights, slot 1 for a chunk's padded sample), so both can be in use at once
/// on the calling thread. Grows on the first call with a larger shape; allocates nothing afterwards.</summary>
internal sealed unsafe class ConvScratch
{
    [ThreadStatic] private static ConvScratch? t_scratch;
    private float* _slot0, _slot1;
    private nint _length0, _length1;

    ~ConvScratch()
    {
        NativeMemory.AlignedFree(_slot0);
        NativeMemory.AlignedFree(_slot1);
    }

    /// <summary>At least <paramref name="floats"/> floats of this thread's buffer <paramref name="slot"/> (0 or 1); contents undefined.</summary>
    public static float* Get(int slot, nint floats)
    {
        ConvScratch s = t_scratch ??= new ConvScratch();
        floats = Math.Max(floats, 16);
        if (slot == 0)
        {
            if (s._length0 < floats) { NativeMemory.AlignedFree(s._slot0); s._slot0 = Alloc(floats); s._length0 = floats; }
            return s._slot0;
        }
        if (s._length1 < floats) { NativeMemory.AlignedFree(s._slot1); s._slot1 = Alloc(floats); s._length1 = floats; }
        return s._slot1;
    }

    private static float* Alloc(nint floats) => (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
}
