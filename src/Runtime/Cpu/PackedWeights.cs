using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Compiled.CompilerServices;

/// <summary>
/// A model's weights packed once for prediction: for each dense layer (a slot), the panels of <c>wᵀ</c> that the GEMM
/// would otherwise pack from <c>w</c> on every call. Built lazily by the first prediction that needs a slot, and stale
/// after <see cref="Invalidate"/>, which the generated model calls from its <c>Parameters</c> getter (every write to the
/// weights from outside goes through a span it returns: optimizer steps, checkpoint loads, GPU downloads, user code) and
/// from <c>Initialize</c>. Training (<c>ComputeGradients</c>) never reads it.
/// </summary>
/// <remarks>
/// <para>Memory: about the size of the layers' weights (each slot rounds its columns up to whole 32-wide panels), in
/// native memory, allocated on the first prediction and freed with the model.</para>
/// <para>Threads: one prediction at a time packs (the others run as before, packing their own panels per call). A
/// packed slot is published with the stamp read before packing, and only if no <see cref="Invalidate"/> came while it
/// packed. Prediction while another thread writes the weights reads a mix of old and new weights, as it does without the
/// cache; training on another thread already makes prediction throw (<see cref="ModelSync"/>).</para>
/// <para>A span taken from <c>Parameters</c> before a prediction and written after it is not seen by later predictions:
/// get <c>Parameters</c> again to write (each get marks the cache stale).</para>
/// </remarks>
public sealed unsafe class PackedWeights
{
    private readonly Slot[] _slots;
    private long _stamp;
    private int _packing;

    private struct Slot
    {
        public float* Data;
        public long Floats;
        public long Stamp; // the stamp the data was packed at; -1: none
        public int K, N;
        public KernelIsa Isa;
    }

    /// <summary>Creates an empty cache of <paramref name="slots"/> weight matrices (one per dense layer).</summary>
    public PackedWeights(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slots);
        _slots = new Slot[slots];
        for (int i = 0; i < slots; i++) _slots[i].Stamp = -1;
    }

    /// <summary>Marks every slot stale: the next prediction repacks from the weights as they are then.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Invalidate() => Interlocked.Increment(ref _stamp);

    /// <summary>Weight matrices this cache holds.</summary>
    public int Slots => _slots.Length;

    /// <summary>Bytes of packed weights held now (0 before the first prediction).</summary>
    public long Bytes
    {
        get
        {
            long bytes = 0;
            foreach (Slot s in _slots) bytes += s.Floats * sizeof(float);
            return bytes;
        }
    }

    /// <summary>
    /// The packed <c>wᵀ</c> of <paramref name="slot"/> for the product <paramref name="g"/> describes (B = wᵀ, K × N) on
    /// <paramref name="isa"/>, packing it first when stale; null when another thread is packing (the caller then packs
    /// per call, as without a cache) or the slot was first packed for other sizes.
    /// </summary>
    internal float* Get(int slot, GemmArgs* g, KernelIsa isa)
    {
        ref Slot s = ref _slots[slot];
        long stamp = Volatile.Read(ref _stamp);
        if (Volatile.Read(ref s.Stamp) == stamp && s.Isa == isa && s.K == g->K && s.N == g->N) return s.Data;
        return Pack(slot, g, isa);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private float* Pack(int slot, GemmArgs* g, KernelIsa isa)
    {
        if (Interlocked.CompareExchange(ref _packing, 1, 0) != 0) return null;
        try
        {
            ref Slot s = ref _slots[slot];
            if (s.Data == null)
            {
                long floats = Gemm.PackedFloats(g->K, g->N);
                s.Data = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
                s.Floats = floats;
                s.K = g->K;
                s.N = g->N;
            }
            else if (s.K != g->K || s.N != g->N) return null; // never freed while a prediction may read it
            long stamp = Volatile.Read(ref _stamp);
            Volatile.Write(ref s.Stamp, -1);
            s.Isa = isa;
            Gemm.PackAllB(g, isa, s.Data);
            // Publish only if no write was announced while packing: a pack that raced a write stays stale.
            if (Interlocked.Read(ref _stamp) != stamp) return s.Data; // good for this call, not for the next
            Volatile.Write(ref s.Stamp, stamp);
            return s.Data;
        }
        finally { Volatile.Write(ref _packing, 0); }
    }

    /// <summary>Frees the packed panels.</summary>
    ~PackedWeights()
    {
        for (int i = 0; i < _slots.Length; i++)
            if (_slots[i].Data != null) NativeMemory.AlignedFree(_slots[i].Data);
    }
}
