using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.CompilerServices;

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
/// where it stopped; <see cref="Lanes.ForEach"/> runs it with the widest lanes the machine has, then one lane at a time.
/// It must only read its own fields (both cores run it at once on different ranges).</summary>
internal interface ILaneLoop
{
    int Run<TLanes>(int start, int end) where TLanes : struct, ILanes<TLanes>;
}

internal static unsafe class Lanes
{
    /// <summary>Elements from which a loop shares its range with the <see cref="Worker"/>. An optimizer step of the
    /// MNIST MLP (101,770 parameters) streams its four arrays from L3 or the other core, just written by the backward
    /// pass; two cores halve that.</summary>
    public const int ParallelMinCount = 1 << 15;

    private const int Chunks = 8, Unit = 64;

    /// <summary>Runs <paramref name="loop"/> over [0, <paramref name="count"/>): the widest vectors <see cref="Gemm.Isa"/>
    /// allows, then the remainder one float at a time; large ranges are cut into chunks shared with the worker.
    /// Every element sees the same operations whichever thread and lane width runs it, so the result is the same.</summary>
    public static void ForEach<TLoop>(ref TLoop loop, int count) where TLoop : unmanaged, ILaneLoop
    {
        if (count >= ParallelMinCount && Worker.TryEnter())
        {
            var job = new Job<TLoop> { Loop = loop, Count = count };
            try { Worker.Run(&RunChunk<TLoop>, &job, Chunks); }
            finally { Worker.Exit(); }
            return;
        }
        RunRange(ref loop, 0, count);
    }

    private struct Job<TLoop> where TLoop : unmanaged
    {
        public TLoop Loop;
        public int Count;
    }

    private static void RunChunk<TLoop>(void* argument, int chunk) where TLoop : unmanaged, ILaneLoop
    {
        var job = (Job<TLoop>*)argument;
        int units = (job->Count + Unit - 1) / Unit;
        int start = (int)((long)units * chunk / Chunks) * Unit;
        int end = Math.Min(job->Count, (int)((long)units * (chunk + 1) / Chunks) * Unit);
        if (start < end) RunRange(ref job->Loop, start, end);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunRange<TLoop>(ref TLoop loop, int start, int end) where TLoop : unmanaged, ILaneLoop
    {
        int i = Gemm.Isa switch
        {
            KernelIsa.Vector512 => loop.Run<Lanes512>(start, end),
            KernelIsa.Vector256 => loop.Run<Lanes256>(start, end),
            _ => start,
        };
        loop.Run<Lane1>(i, end);
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
