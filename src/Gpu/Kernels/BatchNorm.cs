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
/// Correctness first: the training passes give each channel to one thread (grid-stride over channels,
/// <see cref="ChannelsLaunch"/>), which sums its column in row order and then writes it, so results are deterministic
/// and one launch does the whole step. Fine for the small channel counts of a CNN; a tuned version would give each
/// channel block a group that reduces rows with a shared-memory tree and writes coalesced rows (or run a statistics
/// launch then an element-wise one). Inference is element-wise (<see cref="InferenceLaunch"/>).
/// </remarks>
public static class BatchNorm
{
    /// <summary><see cref="ForwardTraining{TAct}"/> and <see cref="Backward"/>: a thread per channel.</summary>
    public static KernelConfig ChannelsLaunch(int channels) => Launch.Rows(channels);

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
        int stride = Grid.DimX * Group.DimX;
        for (int c = Grid.GlobalIndex.X; c < channels; c += stride)
        {
            float sum = 0f;
            for (int r = 0; r < rows; r++) sum += x[r * channels + c];
            float mu = sum / rows;
            float squares = 0f;
            for (int r = 0; r < rows; r++)
            {
                float d = x[r * channels + c] - mu;
                squares += d * d;
            }
            float inv = 1f / MathF.Sqrt(squares / rows + eps);
            mean[c] = mu;
            invStd[c] = inv;
            runningMean[c] = momentum * mu + (1f - momentum) * runningMean[c];
            runningVar[c] = momentum * (squares / (rows - 1)) + (1f - momentum) * runningVar[c];
            float g = gamma[c], b = beta[c];
            for (int r = 0; r < rows; r++)
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
    /// dx = γ·invStd/n · (n·dz − dβ − x̂·dγ). Overwritten, not accumulated. Launch: <see cref="ChannelsLaunch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(ArrayView<float> dx, ArrayView<float> dgamma, ArrayView<float> dbeta, ArrayView<float> dz,
        ArrayView<float> x, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> gamma, int rows, int channels,
        bool wantInputGradient)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int c = Grid.GlobalIndex.X; c < channels; c += stride)
        {
            float mu = mean[c], inv = invStd[c];
            float db = 0f, dg = 0f;
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                float d = dz[i];
                db += d;
                dg += d * ((x[i] - mu) * inv);
            }
            dbeta[c] = db;
            dgamma[c] = dg;
            if (!wantInputGradient) continue;
            float k = gamma[c] * inv / rows;
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                float xhat = (x[i] - mu) * inv;
                dx[i] = k * (rows * dz[i] - db - xhat * dg);
            }
        }
    }
}
