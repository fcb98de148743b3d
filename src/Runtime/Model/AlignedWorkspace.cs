using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Compiled.CompilerServices;

/// <summary>
/// Workspaces whose buffers start on 64-byte cache lines. A generated model lays buffer k out at
/// <c>origin + offset_k · capacity</c>: the array is pinned (it never moves, so its alignment never changes),
/// <c>origin</c> is the first element on a cache line, and a capacity of 16 samples or more is a multiple of 16, so
/// every buffer starts on a line, and so does every row of a buffer whose width is a multiple of 16.
/// </summary>
/// <remarks>Why it matters: a dense layer's forward on two cores cuts each row of its output between them at a
/// 32-column panel boundary. With the rows 16 bytes off a line (where the runtime happens to put an array's first
/// element), the line across that boundary is written by both cores in every row, and it travels between their caches:
/// the batch-64 784 → 128 → 10 prediction took 42.4 µs against 36.1 with the same output aligned
/// (<c>FWD_REPORT=64 … --step-report</c>).</remarks>
public static unsafe class AlignedWorkspace
{
    /// <summary>Floats in a cache line.</summary>
    public const int LineFloats = 16;

    /// <summary>The capacity to allocate for <paramref name="batch"/> samples: the batch itself below 16 (a single
    /// prediction of a large model should not pay for 16 samples), else rounded up to a multiple of 16.</summary>
    public static int Capacity(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        return batch < LineFloats ? batch : checked((batch + LineFloats - 1) / LineFloats * LineFloats);
    }

    /// <summary>The largest capacity the rule of <see cref="Capacity"/> allows within <paramref name="samples"/> (a
    /// workspace allocated for another layout holds that many samples of this one).</summary>
    public static int CapacityWithin(int samples) => samples < LineFloats ? samples : samples / LineFloats * LineFloats;

    /// <summary>A pinned array with room for <paramref name="floats"/> floats from <paramref name="origin"/>, the first
    /// index whose address is a multiple of 64 bytes.</summary>
    public static float[] Allocate(int floats, out int origin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(floats);
        float[] array = GC.AllocateArray<float>(checked(floats + LineFloats - 1), pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        origin = (int)((64 - (address & 63)) & 63) / sizeof(float);
        return array;
    }

    /// <summary>
    /// Whether a generated <c>Forward</c> writes its last layer straight into <paramref name="outputs"/> instead of into
    /// its workspace and then copying (a 1024 × 1024 output is 4 MB: the copy cost 7% of a 1024³ linear layer's
    /// prediction). Not when the outputs overlap the inputs (the last layer may still be reading them), and only where
    /// the rows' alignment cannot matter: outputs on a 64-byte line, or a batch the kernels split by rows
    /// (<see cref="Gemm.SharedMinRows"/> or more), since a split by columns into rows that start off a line would have
    /// both cores write the line across the boundary (see the remarks above).
    /// </summary>
    public static bool DirectOutput(ReadOnlySpan<float> inputs, Span<float> outputs, int batch) =>
        !inputs.Overlaps(outputs)
        && (batch >= Gemm.SharedMinRows || ((nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(outputs)) & 63) == 0);
}
