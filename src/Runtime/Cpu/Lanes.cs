using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.Cpu;

/// <summary>
/// A vector of float lanes the element-wise loops are written against once: <see cref="Lanes512"/> (AVX-512),
/// <see cref="Lanes256"/> (AVX2) and <see cref="Lane1"/> (one float, for the tail and machines without either).
/// The JIT specialises a loop for each struct, so the wrappers cost nothing. Every operation is the IEEE one applied
/// per lane (no fused multiply-add), so all three give bit-identical results.
/// </summary>
internal interface ILanes<TSelf> where TSelf : struct, ILanes<TSelf>
{
    static abstract int Count { get; }
    static abstract TSelf Load(ref float source, nuint index);
    static abstract void Store(TSelf value, ref float destination, nuint index);
    static abstract TSelf Splat(float value);
    static abstract TSelf Sqrt(TSelf x);
    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
}

/// <summary>A loop body over lanes: <see cref="Run{TLanes}"/> processes [start, end) in whole vectors and returns
/// where it stopped; <see cref="Lanes.ForEach"/> runs it with the widest lanes the machine has, then one lane at a time.</summary>
internal interface ILaneLoop
{
    int Run<TLanes>(int start, int end) where TLanes : struct, ILanes<TLanes>;
}

internal static class Lanes
{
    /// <summary>Runs <paramref name="loop"/> over [0, <paramref name="count"/>): the widest vectors <see cref="Gemm.Isa"/>
    /// allows, then the remainder one float at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ForEach<TLoop>(ref TLoop loop, int count) where TLoop : ILaneLoop, allows ref struct
    {
        int i = Gemm.Isa switch
        {
            KernelIsa.Vector512 => loop.Run<Lanes512>(0, count),
            KernelIsa.Vector256 => loop.Run<Lanes256>(0, count),
            _ => 0,
        };
        loop.Run<Lane1>(i, count);
    }
}

internal readonly struct Lanes512 : ILanes<Lanes512>
{
    private readonly Vector512<float> _v;

    private Lanes512(Vector512<float> v) => _v = v;

    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Load(ref float source, nuint index) => new(Vector512.LoadUnsafe(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes512 value, ref float destination, nuint index) => value._v.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Splat(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Sqrt(Lanes512 x) => new(Vector512.Sqrt(x._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 operator +(Lanes512 a, Lanes512 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 operator *(Lanes512 a, Lanes512 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 operator /(Lanes512 a, Lanes512 b) => new(a._v / b._v);
}

internal readonly struct Lanes256 : ILanes<Lanes256>
{
    private readonly Vector256<float> _v;

    private Lanes256(Vector256<float> v) => _v = v;

    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Load(ref float source, nuint index) => new(Vector256.LoadUnsafe(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes256 value, ref float destination, nuint index) => value._v.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Splat(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Sqrt(Lanes256 x) => new(Vector256.Sqrt(x._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 operator +(Lanes256 a, Lanes256 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 operator *(Lanes256 a, Lanes256 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 operator /(Lanes256 a, Lanes256 b) => new(a._v / b._v);
}

internal readonly struct Lane1 : ILanes<Lane1>
{
    private readonly float _v;

    private Lane1(float v) => _v = v;

    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 Load(ref float source, nuint index) => new(Unsafe.Add(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lane1 value, ref float destination, nuint index) => Unsafe.Add(ref destination, index) = value._v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 Splat(float value) => new(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 Sqrt(Lane1 x) => new(MathF.Sqrt(x._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 operator +(Lane1 a, Lane1 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 operator *(Lane1 a, Lane1 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lane1 operator /(Lane1 a, Lane1 b) => new(a._v / b._v);
}
