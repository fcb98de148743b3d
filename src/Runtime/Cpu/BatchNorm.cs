using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Compiled.CompilerServices;

/// <summary>
/// Batch normalisation over activations <c>[rows, channels]</c>, channels innermost: rows is the batch after a Dense
/// layer, or batch·height·width after a Conv2D (NHWC), so one channel's statistics run down a column. PyTorch's
/// <c>BatchNorm1d</c>/<c>BatchNorm2d</c> semantics exactly: training normalises with the batch mean and the biased
/// variance and updates the running statistics with the unbiased one; inference uses the running statistics.
/// </summary>
/// <remarks>
/// <para>Every loop is vectorised across channels (<see cref="Gemm.Isa"/> picks 16 or 8 lanes, the remaining channels go
/// one at a time) and runs the rows in order, so a channel's sums see the same additions in the same order whatever the
/// instruction set or core count: the results are bit-identical everywhere (the activation, applied by
/// <see cref="Activations.Forward{TAct}"/>, is as exact as that kernel is). Single-threaded; nothing is allocated.</para>
/// <para>Forward passes save what the backward pass needs, as llm.c's layernorm: the batch mean and 1/√(var + eps) per
/// channel; the backward pass recomputes x̂ = (x − mean)·invStd from x rather than keeping a [rows, channels] copy.</para>
/// </remarks>
public static class BatchNorm
{
    /// <summary>PyTorch's default momentum for the running statistics.</summary>
    public const float DefaultMomentum = 0.1f;

    /// <summary>PyTorch's default epsilon added to the variance.</summary>
    public const float DefaultEpsilon = 1e-5f;

    /// <summary>
    /// Training forward. Per channel c over the <paramref name="rows"/> rows of x[rows, channels]:
    /// mean = Σx/n, var = Σ(x − mean)²/n (biased), invStd = 1/√(var + eps), z = (x − mean)·invStd·γ + β, y = f(z);
    /// runningMean ← (1 − momentum)·runningMean + momentum·mean and
    /// runningVar ← (1 − momentum)·runningVar + momentum·Σ(x − mean)²/(n − 1) (unbiased), as PyTorch.
    /// </summary>
    /// <param name="y">[rows, channels]: f(z).</param>
    /// <param name="preActivation">[rows, channels]: receives z when not empty (activations whose derivative reads z);
    /// empty otherwise.</param>
    /// <param name="mean">[channels]: the batch mean, saved for <see cref="Backward"/>.</param>
    /// <param name="invStd">[channels]: 1/√(var + eps) with the biased batch variance, saved for <see cref="Backward"/>.</param>
    /// <param name="runningMean">[channels]: updated in place.</param>
    /// <param name="runningVar">[channels]: updated in place.</param>
    /// <param name="x">[rows, channels].</param>
    /// <param name="gamma">[channels]: the scale (PyTorch's <c>weight</c>).</param>
    /// <param name="beta">[channels]: the shift (PyTorch's <c>bias</c>).</param>
    /// <param name="rows">Values per channel (n); at least 2, as PyTorch requires in training.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="momentum">The running statistics' momentum (<see cref="DefaultMomentum"/>).</param>
    /// <param name="eps">Added to the variance (<see cref="DefaultEpsilon"/>).</param>
    public static void ForwardTraining<TAct>(Span<float> y, Span<float> preActivation, Span<float> mean, Span<float> invStd,
        Span<float> runningMean, Span<float> runningVar, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        int rows, int channels, float momentum, float eps) where TAct : struct, IActivation
    {
        if (rows < 2) throw new ArgumentOutOfRangeException(nameof(rows), rows, "Batch normalisation needs more than one value per channel when training.");
        CheckChannels(channels);
        long size = (long)rows * channels;
        Need(x, size, nameof(x)); Need(y, size, nameof(y));
        if (!preActivation.IsEmpty) Need(preActivation, size, nameof(preActivation));
        Need(mean, channels, nameof(mean)); Need(invStd, channels, nameof(invStd));
        Need(runningMean, channels, nameof(runningMean)); Need(runningVar, channels, nameof(runningVar));
        Need(gamma, channels, nameof(gamma)); Need(beta, channels, nameof(beta));

        Span<float> z = preActivation.IsEmpty ? y : preActivation;
        int c = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Training<Lanes512>(z, mean, invStd, runningMean, runningVar, x, gamma, beta, rows, channels, momentum, eps, 0),
            KernelIsa.Vector256 => Training<Lanes256>(z, mean, invStd, runningMean, runningVar, x, gamma, beta, rows, channels, momentum, eps, 0),
            _ => 0,
        };
        Training<Lane1>(z, mean, invStd, runningMean, runningVar, x, gamma, beta, rows, channels, momentum, eps, c);
        Activate<TAct>(y, z, (int)size);
    }

    /// <summary>
    /// Inference forward with the running statistics: y = f(x·scale + shift), scale = γ/√(runningVar + eps),
    /// shift = β − runningMean·scale (PyTorch's CPU form).
    /// </summary>
    /// <param name="y">[rows, channels]. May be the same memory as <paramref name="x"/>.</param>
    /// <param name="x">[rows, channels].</param>
    /// <param name="gamma">[channels].</param>
    /// <param name="beta">[channels].</param>
    /// <param name="runningMean">[channels].</param>
    /// <param name="runningVar">[channels].</param>
    /// <param name="rows">Rows (any number, 1 included).</param>
    /// <param name="channels">Channels.</param>
    /// <param name="eps">Added to the variance.</param>
    public static void ForwardInference<TAct>(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, int rows, int channels, float eps) where TAct : struct, IActivation
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows));
        CheckChannels(channels);
        long size = (long)rows * channels;
        Need(x, size, nameof(x)); Need(y, size, nameof(y));
        Need(gamma, channels, nameof(gamma)); Need(beta, channels, nameof(beta));
        Need(runningMean, channels, nameof(runningMean)); Need(runningVar, channels, nameof(runningVar));
        int c = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Inference<Lanes512>(y, x, gamma, beta, runningMean, runningVar, rows, channels, eps, 0),
            KernelIsa.Vector256 => Inference<Lanes256>(y, x, gamma, beta, runningMean, runningVar, rows, channels, eps, 0),
            _ => 0,
        };
        Inference<Lane1>(y, x, gamma, beta, runningMean, runningVar, rows, channels, eps, c);
        Activate<TAct>(y, y, (int)size);
    }

    /// <summary>
    /// Training backward, given dz[rows, channels], the gradient at the normalised output z = x̂·γ + β (the caller has
    /// already multiplied by the activation's derivative, e.g. with <see cref="Activations.Backward{TAct}"/>):
    /// dβ = Σ dz, dγ = Σ dz·x̂, and, unless <paramref name="dx"/> is empty,
    /// dx = γ·invStd/n · (n·dz − dβ − x̂·dγ) (the batch statistics' own gradient included).
    /// dx, dγ and dβ are overwritten, not accumulated.
    /// </summary>
    /// <param name="dx">[rows, channels], or empty when nothing needs the input gradient.</param>
    /// <param name="dgamma">[channels].</param>
    /// <param name="dbeta">[channels].</param>
    /// <param name="dz">[rows, channels].</param>
    /// <param name="x">[rows, channels]: the forward pass's input.</param>
    /// <param name="mean">[channels]: saved by <see cref="ForwardTraining{TAct}"/>.</param>
    /// <param name="invStd">[channels]: saved by <see cref="ForwardTraining{TAct}"/>.</param>
    /// <param name="gamma">[channels].</param>
    /// <param name="rows">Rows (n).</param>
    /// <param name="channels">Channels.</param>
    public static void Backward(Span<float> dx, Span<float> dgamma, Span<float> dbeta, ReadOnlySpan<float> dz,
        ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, int rows, int channels)
    {
        if (rows < 1) throw new ArgumentOutOfRangeException(nameof(rows));
        CheckChannels(channels);
        long size = (long)rows * channels;
        Need(dz, size, nameof(dz)); Need(x, size, nameof(x));
        if (!dx.IsEmpty) Need(dx, size, nameof(dx));
        Need(dgamma, channels, nameof(dgamma)); Need(dbeta, channels, nameof(dbeta));
        Need(mean, channels, nameof(mean)); Need(invStd, channels, nameof(invStd)); Need(gamma, channels, nameof(gamma));
        int c = Gemm.Isa switch
        {
            KernelIsa.Vector512 => Gradients<Lanes512>(dx, dgamma, dbeta, dz, x, mean, invStd, gamma, rows, channels, 0),
            KernelIsa.Vector256 => Gradients<Lanes256>(dx, dgamma, dbeta, dz, x, mean, invStd, gamma, rows, channels, 0),
            _ => 0,
        };
        Gradients<Lane1>(dx, dgamma, dbeta, dz, x, mean, invStd, gamma, rows, channels, c);
    }

    // The loops below take channels [c, c + TL.Count) at a time from `c` and return where they stopped; Lane1 finishes.
    // Subtraction is written a + (−1·b), which is exactly a − b in IEEE arithmetic (the lanes have no operator −).

    private static int Training<TL>(Span<float> z, Span<float> mean, Span<float> invStd, Span<float> runningMean, Span<float> runningVar,
        ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int rows, int channels, float momentum, float eps, int c)
        where TL : struct, ILanes<TL>
    {
        ref float px = ref MemoryMarshal.GetReference(x), pz = ref MemoryMarshal.GetReference(z);
        TL n = TL.Splat(rows), n1 = TL.Splat(rows - 1), minusOne = TL.Splat(-1f), one = TL.Splat(1f), epsV = TL.Splat(eps);
        TL mom = TL.Splat(momentum), keep = TL.Splat(1f - momentum);
        for (; c + TL.Count <= channels; c += TL.Count)
        {
            TL sum = TL.Splat(0f);
            for (int r = 0; r < rows; r++) sum += TL.Load(ref px, (nuint)((long)r * channels + c));
            TL mu = sum / n, negMu = mu * minusOne;
            TL squares = TL.Splat(0f);
            for (int r = 0; r < rows; r++)
            {
                TL d = TL.Load(ref px, (nuint)((long)r * channels + c)) + negMu;
                squares += d * d;
            }
            TL inv = one / TL.Sqrt(squares / n + epsV);
            TL.Store(mu, ref MemoryMarshal.GetReference(mean), (nuint)c);
            TL.Store(inv, ref MemoryMarshal.GetReference(invStd), (nuint)c);
            ref float rm = ref MemoryMarshal.GetReference(runningMean), rv = ref MemoryMarshal.GetReference(runningVar);
            TL.Store(mom * mu + keep * TL.Load(ref rm, (nuint)c), ref rm, (nuint)c);
            TL.Store(mom * (squares / n1) + keep * TL.Load(ref rv, (nuint)c), ref rv, (nuint)c);

            TL g = TL.Load(ref MemoryMarshal.GetReference(gamma), (nuint)c), b = TL.Load(ref MemoryMarshal.GetReference(beta), (nuint)c);
            for (int r = 0; r < rows; r++)
            {
                nuint i = (nuint)((long)r * channels + c);
                TL.Store((TL.Load(ref px, i) + negMu) * inv * g + b, ref pz, i);
            }
        }
        return c;
    }

    private static int Inference<TL>(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, int rows, int channels, float eps, int c) where TL : struct, ILanes<TL>
    {
        ref float px = ref MemoryMarshal.GetReference(x), py = ref MemoryMarshal.GetReference(y);
        TL minusOne = TL.Splat(-1f), epsV = TL.Splat(eps);
        for (; c + TL.Count <= channels; c += TL.Count)
        {
            TL scale = TL.Load(ref MemoryMarshal.GetReference(gamma), (nuint)c)
                / TL.Sqrt(TL.Load(ref MemoryMarshal.GetReference(runningVar), (nuint)c) + epsV);
            TL shift = TL.Load(ref MemoryMarshal.GetReference(beta), (nuint)c)
                + TL.Load(ref MemoryMarshal.GetReference(runningMean), (nuint)c) * scale * minusOne;
            for (int r = 0; r < rows; r++)
            {
                nuint i = (nuint)((long)r * channels + c);
                TL.Store(TL.Load(ref px, i) * scale + shift, ref py, i);
            }
        }
        return c;
    }

    private static int Gradients<TL>(Span<float> dx, Span<float> dgamma, Span<float> dbeta, ReadOnlySpan<float> dz, ReadOnlySpan<float> x,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, int rows, int channels, int c) where TL : struct, ILanes<TL>
    {
        ref float px = ref MemoryMarshal.GetReference(x), pdz = ref MemoryMarshal.GetReference(dz), pdx = ref MemoryMarshal.GetReference(dx);
        bool wantDx = !dx.IsEmpty;
        TL n = TL.Splat(rows), minusOne = TL.Splat(-1f);
        for (; c + TL.Count <= channels; c += TL.Count)
        {
            TL negMu = TL.Load(ref MemoryMarshal.GetReference(mean), (nuint)c) * minusOne;
            TL inv = TL.Load(ref MemoryMarshal.GetReference(invStd), (nuint)c);
            TL db = TL.Splat(0f), dg = TL.Splat(0f);
            for (int r = 0; r < rows; r++)
            {
                nuint i = (nuint)((long)r * channels + c);
                TL d = TL.Load(ref pdz, i);
                db += d;
                dg += d * ((TL.Load(ref px, i) + negMu) * inv);
            }
            TL.Store(db, ref MemoryMarshal.GetReference(dbeta), (nuint)c);
            TL.Store(dg, ref MemoryMarshal.GetReference(dgamma), (nuint)c);
            if (!wantDx) continue;

            TL k = TL.Load(ref MemoryMarshal.GetReference(gamma), (nuint)c) * inv / n;
            TL negDb = db * minusOne, negDg = dg * minusOne;
            for (int r = 0; r < rows; r++)
            {
                nuint i = (nuint)((long)r * channels + c);
                TL xhat = (TL.Load(ref px, i) + negMu) * inv;
                TL.Store(k * (n * TL.Load(ref pdz, i) + negDb + xhat * negDg), ref pdx, i);
            }
        }
        return c;
    }

    /// <summary>y = f(z) over the first <paramref name="count"/> values (z may be y itself); nothing to do for the identity in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Activate<TAct>(Span<float> y, Span<float> z, int count) where TAct : struct, IActivation
    {
        if (typeof(TAct) == typeof(Identity) && Unsafe.AreSame(ref MemoryMarshal.GetReference(y), ref MemoryMarshal.GetReference(z))) return;
        Activations.Forward<TAct>(y.Slice(0, count), z.Slice(0, count));
    }

    private static void CheckChannels(int channels)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be positive.");
    }

    private static void Need(ReadOnlySpan<float> span, long length, string name)
    {
        if (span.Length < length) throw new ArgumentException($"{name} holds {span.Length} floats; {length} are needed.", name);
    }
}
