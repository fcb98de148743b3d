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
/// <para>Every pass sweeps the rows in order (sequential memory) and is vectorised across a row's channels
/// (<see cref="Gemm.Isa"/> picks 16 or 8 lanes, the remaining channels go one at a time), so a channel's sums see the
/// same additions in the same order whatever the instruction set or core count: the results are bit-identical everywhere (the activation, applied by
/// <see cref="Activations.Forward{TAct}"/>, is as exact as that kernel is). Single-threaded; nothing is allocated.</para>
/// <para>Forward passes save what the backward pass needs, as llm.c's layernorm: the batch mean and 1/√(var + eps) per
/// channel; the backward pass recomputes x̂ = (x − mean)·invStd from x rather than keeping a [rows, channels] copy.</para>
/// </remarks>
public static unsafe class BatchNorm
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
        fixed (float* pz = z, pm = mean, pi = invStd, prm = runningMean, prv = runningVar, px = x, pg = gamma, pb = beta)
            Training(pz, pm, pi, prm, prv, px, pg, pb, rows, channels, momentum, eps);
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
        fixed (float* py = y, px = x, pg = gamma, pb = beta, prm = runningMean, prv = runningVar)
            Inference(py, px, pg, pb, prm, prv, rows, channels, eps);
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
        fixed (float* pdx = dx, pdg = dgamma, pdb = dbeta, pdz = dz, px = x, pm = mean, pi = invStd, pg = gamma)
            Gradients(dx.IsEmpty ? null : pdx, pdg, pdb, pdz, px, pm, pi, pg, rows, channels);
    }

    // Every pass sweeps x row by row (sequential memory), and within a row the channels [c, c + TL.Count) at a time from
    // `c`, returning where it stopped (Lane1 finishes the row). Per-channel sums accumulate in an output that is written
    // anyway (mean, invStd, dgamma, dbeta), so nothing is allocated, and each channel still adds its rows in order.
    // Subtraction is written a + (−1·b), which is exactly a − b in IEEE arithmetic (the lanes have no operator −).

    private interface IRowOp
    {
        int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>;
    }

    private interface IChannelOp
    {
        int Run<TL>(int c) where TL : struct, ILanes<TL>;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EachRow<TOp>(TOp op, int rows) where TOp : struct, IRowOp
    {
        KernelIsa isa = Gemm.Isa;
        for (nint r = 0; r < rows; r++)
        {
            int c = isa switch
            {
                KernelIsa.Vector512 => op.Run<Lanes512>(r, 0),
                KernelIsa.Vector256 => op.Run<Lanes256>(r, 0),
                _ => 0,
            };
            op.Run<Lane1>(r, c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EachChannel<TOp>(TOp op) where TOp : struct, IChannelOp
    {
        int c = Gemm.Isa switch
        {
            KernelIsa.Vector512 => op.Run<Lanes512>(0),
            KernelIsa.Vector256 => op.Run<Lanes256>(0),
            _ => 0,
        };
        op.Run<Lane1>(c);
    }

    private static unsafe void Training(float* z, float* mean, float* invStd, float* runningMean, float* runningVar,
        float* x, float* gamma, float* beta, int rows, int channels, float momentum, float eps)
    {
        new Span<float>(mean, channels).Clear();   // Σ x
        new Span<float>(invStd, channels).Clear(); // Σ (x − mean)²
        EachRow(new AddRow { Acc = mean, X = x, Channels = channels }, rows);
        EachChannel(new DivideByRows { Acc = mean, Rows = rows, Channels = channels });
        EachRow(new AddSquaredDeviation { Acc = invStd, X = x, Mean = mean, Channels = channels }, rows);
        EachChannel(new FinishStatistics
        {
            Mean = mean, InvStd = invStd, RunningMean = runningMean, RunningVar = runningVar,
            Rows = rows, Channels = channels, Momentum = momentum, Eps = eps,
        });
        EachRow(new Normalise { Z = z, X = x, Mean = mean, InvStd = invStd, Gamma = gamma, Beta = beta, Channels = channels }, rows);
    }

    private unsafe struct AddRow : IRowOp
    {
        public float* Acc, X;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels;
            for (; c + TL.Count <= Channels; c += TL.Count)
                TL.Store(TL.Load(ref Acc[c], 0) + TL.Load(ref x[c], 0), ref Acc[c], 0);
            return c;
        }
    }

    private unsafe struct DivideByRows : IChannelOp
    {
        public float* Acc;
        public int Rows, Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(int c) where TL : struct, ILanes<TL>
        {
            TL n = TL.Splat(Rows);
            for (; c + TL.Count <= Channels; c += TL.Count) TL.Store(TL.Load(ref Acc[c], 0) / n, ref Acc[c], 0);
            return c;
        }
    }

    private unsafe struct AddSquaredDeviation : IRowOp
    {
        public float* Acc, X, Mean;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels;
            TL minusOne = TL.Splat(-1f);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL d = TL.Load(ref x[c], 0) + TL.Load(ref Mean[c], 0) * minusOne;
                TL.Store(TL.Load(ref Acc[c], 0) + d * d, ref Acc[c], 0);
            }
            return c;
        }
    }

    private unsafe struct FinishStatistics : IChannelOp
    {
        public float* Mean, InvStd, RunningMean, RunningVar;
        public int Rows, Channels;
        public float Momentum, Eps;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(int c) where TL : struct, ILanes<TL>
        {
            TL n = TL.Splat(Rows), n1 = TL.Splat(Rows - 1), one = TL.Splat(1f), eps = TL.Splat(Eps);
            TL mom = TL.Splat(Momentum), keep = TL.Splat(1f - Momentum);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL squares = TL.Load(ref InvStd[c], 0);
                TL.Store(mom * TL.Load(ref Mean[c], 0) + keep * TL.Load(ref RunningMean[c], 0), ref RunningMean[c], 0);
                TL.Store(mom * (squares / n1) + keep * TL.Load(ref RunningVar[c], 0), ref RunningVar[c], 0);
                TL.Store(one / TL.Sqrt(squares / n + eps), ref InvStd[c], 0);
            }
            return c;
        }
    }

    private unsafe struct Normalise : IRowOp
    {
        public float* Z, X, Mean, InvStd, Gamma, Beta;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels, z = Z + row * Channels;
            TL minusOne = TL.Splat(-1f);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL xhat = (TL.Load(ref x[c], 0) + TL.Load(ref Mean[c], 0) * minusOne) * TL.Load(ref InvStd[c], 0);
                TL.Store(xhat * TL.Load(ref Gamma[c], 0) + TL.Load(ref Beta[c], 0), ref z[c], 0);
            }
            return c;
        }
    }

    private static unsafe void Inference(float* y, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        int rows, int channels, float eps)
        => EachRow(new ScaleShift { Y = y, X = x, Gamma = gamma, Beta = beta, RunningMean = runningMean, RunningVar = runningVar,
            Channels = channels, Eps = eps }, rows);

    // scale and shift are recomputed per row (two loads, a square root and a division per lane) rather than kept in scratch
    // memory; inference is memory-bound and the channel vectors stay in L1.
    private unsafe struct ScaleShift : IRowOp
    {
        public float* Y, X, Gamma, Beta, RunningMean, RunningVar;
        public int Channels;
        public float Eps;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels, y = Y + row * Channels;
            TL minusOne = TL.Splat(-1f), eps = TL.Splat(Eps);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL scale = TL.Load(ref Gamma[c], 0) / TL.Sqrt(TL.Load(ref RunningVar[c], 0) + eps);
                TL shift = TL.Load(ref Beta[c], 0) + TL.Load(ref RunningMean[c], 0) * scale * minusOne;
                TL.Store(TL.Load(ref x[c], 0) * scale + shift, ref y[c], 0);
            }
            return c;
        }
    }

    private static unsafe void Gradients(float* dx, float* dgamma, float* dbeta, float* dz, float* x, float* mean, float* invStd,
        float* gamma, int rows, int channels)
    {
        new Span<float>(dgamma, channels).Clear();
        new Span<float>(dbeta, channels).Clear();
        EachRow(new AddGradients { DGamma = dgamma, DBeta = dbeta, Dz = dz, X = x, Mean = mean, InvStd = invStd, Channels = channels }, rows);
        if (dx != null)
            EachRow(new InputGradient { Dx = dx, DGamma = dgamma, DBeta = dbeta, Dz = dz, X = x, Mean = mean, InvStd = invStd, Gamma = gamma,
                Rows = rows, Channels = channels }, rows);
    }

    private unsafe struct AddGradients : IRowOp
    {
        public float* DGamma, DBeta, Dz, X, Mean, InvStd;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels, dz = Dz + row * Channels;
            TL minusOne = TL.Splat(-1f);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL d = TL.Load(ref dz[c], 0);
                TL xhat = (TL.Load(ref x[c], 0) + TL.Load(ref Mean[c], 0) * minusOne) * TL.Load(ref InvStd[c], 0);
                TL.Store(TL.Load(ref DBeta[c], 0) + d, ref DBeta[c], 0);
                TL.Store(TL.Load(ref DGamma[c], 0) + d * xhat, ref DGamma[c], 0);
            }
            return c;
        }
    }

    private unsafe struct InputGradient : IRowOp
    {
        public float* Dx, DGamma, DBeta, Dz, X, Mean, InvStd, Gamma;
        public int Rows, Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Run<TL>(nint row, int c) where TL : struct, ILanes<TL>
        {
            float* x = X + row * Channels, dz = Dz + row * Channels, dx = Dx + row * Channels;
            TL n = TL.Splat(Rows), minusOne = TL.Splat(-1f);
            for (; c + TL.Count <= Channels; c += TL.Count)
            {
                TL inv = TL.Load(ref InvStd[c], 0);
                TL xhat = (TL.Load(ref x[c], 0) + TL.Load(ref Mean[c], 0) * minusOne) * inv;
                TL k = TL.Load(ref Gamma[c], 0) * inv / n;
                TL.Store(k * (n * TL.Load(ref dz[c], 0) + TL.Load(ref DBeta[c], 0) * minusOne + xhat * (TL.Load(ref DGamma[c], 0) * minusOne)),
                    ref dx[c], 0);
            }
            return c;
        }
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
