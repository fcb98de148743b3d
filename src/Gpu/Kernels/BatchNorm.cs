using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Batch normalisation's device functions over activations [rows, channels] (rows = batch after Dense, batch·H·W after
/// Conv2D), the GPU forms of <c>Compiled.CompilerServices.BatchNorm</c> with the same arguments and PyTorch's semantics:
/// training normalises with the batch mean and biased variance and updates the running statistics with the unbiased
/// variance; inference uses the running statistics.
/// </summary>
/// <remarks>
/// Correctness first: the training passes give each channel a group of <see cref="GroupSize"/> threads (grid-stride over
/// channels, <see cref="ChannelsLaunch"/>); thread t takes rows t, t + 256, … in order and a shared-memory tree adds the
/// partial sums in a fixed order, so results are deterministic (not bit-equal to the CPU kernel, whose order differs) and
/// one launch does the whole step. A tuned version would give a group a block of channels, its threads laid out
/// [rows × channels] so the reads coalesce, and split very tall columns across groups (two launches). Inference is
/// element-wise (<see cref="InferenceLaunch"/>).
/// </remarks>
public static class BatchNorm
{
    /// <summary>Threads per group of the training passes.</summary>
    public const int GroupSize = GroupSums.GroupSize;

    /// <summary><see cref="ForwardTraining{TAct}"/> and <see cref="Backward"/>: a group per channel.</summary>
    public static KernelConfig ChannelsLaunch(int channels) => GroupSums.Launch(channels);

    /// <summary><see cref="CountBatch"/>: one thread.</summary>
    public static KernelConfig CountLaunch => new(1, 1);

    /// <summary>
    /// num_batches_tracked += 1 on a 64-bit counter viewed as two ints (low, high), little-endian as on the host, where it is
    /// a <c>long</c>. Launch: <see cref="CountLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CountBatch(ArrayView<int> count)
    {
        if (Grid.GlobalIndex.X != 0) return;
        uint low = unchecked((uint)count[0] + 1u);
        count[0] = unchecked((int)low);
        if (low == 0) count[1] += 1;
    }

    /// <summary><see cref="ForwardInference{TAct}"/>: a thread per element of [rows, channels].</summary>
    public static KernelConfig InferenceLaunch(int rows, int channels) => Launch.Elementwise((long)rows * channels);

    /// <summary>
    /// Per channel c: mean = Σx/n, var = Σ(x − mean)²/n, invStd = 1/√(var + eps), z = (x − mean)·invStd·γ + β, y = f(z)
    /// (z stored when <paramref name="storePreActivation"/> is set); runningMean ← (1 − momentum)·runningMean + momentum·mean,
    /// runningVar ← (1 − momentum)·runningVar + momentum·Σ(x − mean)²/(n − 1). mean and invStd are saved for
    /// <see cref="Backward"/>. Needs rows ≥ 2 (the caller checks, as PyTorch). Launch: <see cref="ChannelsLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ForwardTraining<TAct>(ArrayView<float> y, ArrayView<float> z, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta,
        int rows, int channels, float momentum, float eps, bool storePreActivation) where TAct : struct, IGpuActivation
    {
        var shared = SharedMemory.Allocate<float>(GroupSize);
        int t = Group.IdxX;
        for (int c = Grid.IdxX; c < channels; c += Grid.DimX)
        {
            float sum = 0f;
            for (int r = t; r < rows; r += GroupSize) sum += x[r * channels + c];
            float mu = GroupSums.Sum(shared, sum) / rows;
            float squares = 0f;
            for (int r = t; r < rows; r += GroupSize)
            {
                float d = x[r * channels + c] - mu;
                squares += d * d;
            }
            squares = GroupSums.Sum(shared, squares);
            float inv = 1f / MathF.Sqrt(squares / rows + eps);
            if (t == 0)
            {
                mean[c] = mu;
                invStd[c] = inv;
                runningMean[c] = momentum * mu + (1f - momentum) * runningMean[c];
                runningVar[c] = momentum * (squares / (rows - 1)) + (1f - momentum) * runningVar[c];
            }
            float g = gamma[c], b = beta[c];
            for (int r = t; r < rows; r += GroupSize)
            {
                int i = r * channels + c;
                float v = (x[i] - mu) * inv * g + b;
                if (storePreActivation) z[i] = v;
                y[i] = default(TAct).Apply(v);
            }
        }
    }

    /// <summary>
    /// y = f(x·scale + shift) with scale = γ/√(runningVar + eps) and shift = β − runningMean·scale, element-wise.
    /// y may be x. Launch: <see cref="InferenceLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ForwardInference<TAct>(ArrayView<float> y, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, int rows, int channels, float eps) where TAct : struct, IGpuActivation
    {
        int total = rows * channels;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.GlobalIndex.X; e < total; e += stride)
        {
            int c = e % channels;
            float scale = gamma[c] / MathF.Sqrt(runningVar[c] + eps);
            float shift = beta[c] - runningMean[c] * scale;
            y[e] = default(TAct).Apply(x[e] * scale + shift);
        }
    }

    /// <summary>
    /// Given dz[rows, channels] at the normalised output (the activation's derivative already applied): dβ = Σ dz,
    /// dγ = Σ dz·x̂ with x̂ = (x − mean)·invStd, and, when <paramref name="wantInputGradient"/> is set,
    /// dx = γ·invStd/n · (n·dz − dβ − x̂·dγ). Overwritten, not accumulated. A group per channel, as
    /// <see cref="ForwardTraining{TAct}"/>. Launch: <see cref="ChannelsLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(ArrayView<float> dx, ArrayView<float> dgamma, ArrayView<float> dbeta, ArrayView<float> dz,
        ArrayView<float> x, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> gamma, int rows, int channels,
        bool wantInputGradient)
    {
        var shared = SharedMemory.Allocate<float>(GroupSize);
        int t = Group.IdxX;
        for (int c = Grid.IdxX; c < channels; c += Grid.DimX)
        {
            float mu = mean[c], inv = invStd[c];
            float db = 0f, dg = 0f;
            for (int r = t; r < rows; r += GroupSize)
            {
                int i = r * channels + c;
                float d = dz[i];
                db += d;
                dg += d * ((x[i] - mu) * inv);
            }
            db = GroupSums.Sum(shared, db);
            dg = GroupSums.Sum(shared, dg);
            if (t == 0)
            {
                dbeta[c] = db;
                dgamma[c] = dg;
            }
            if (!wantInputGradient) continue;
            float k = gamma[c] * inv / rows;
            for (int r = t; r < rows; r += GroupSize)
            {
                int i = r * channels + c;
                float xhat = (x[i] - mu) * inv;
                dx[i] = k * (rows * dz[i] - db - xhat * dg);
            }
        }
    }
}

/// <summary>
/// The fixed-order sum of one value per thread of a group of <see cref="GroupSize"/> threads, for the kernels that give a
/// group to each sum (batch-norm statistics, convolution weight gradients): deterministic on any device. (Losses.cs has a
/// similar helper for its one-group kernels; this one takes its shared memory from the caller, so a kernel that sums
/// several times allocates once, and carries the launch shape.)
/// </summary>
internal static class GroupSums
{
    /// <summary>Threads per group; the kernels that call <see cref="Sum"/> must be launched with exactly this many.</summary>
    public const int GroupSize = 256;

    /// <summary>A group per item for <paramref name="items"/> items, grid-stride past <see cref="Launch.MaxElementwiseGroups"/>.</summary>
    public static KernelConfig Launch(int items) =>
        new(Math.Clamp(items, 1, CompilerServices.Launch.MaxElementwiseGroups), GroupSize);

    /// <summary>
    /// Σ value over the group's threads, as a tree in <paramref name="shared"/> (<see cref="GroupSize"/> floats): every
    /// thread gets the total. All threads of the group must call it (it has barriers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(ArrayView<float> shared, float value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int half = GroupSize / 2; half > 0; half >>= 1)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier(); // everyone has read the total before the next call overwrites it
        return total;
    }
}
