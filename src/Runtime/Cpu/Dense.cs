using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// The fully connected layer's kernels. Weights are stored PyTorch-style as [units, inputs], row-major;
/// activations as [batch, features], row-major.
/// </summary>
/// <remarks>
/// All three products run on one internal GEMM (<see cref="Gemm"/>): packed A and B panels, an 8 × 32 AVX-512
/// micro-kernel (6 × 16 AVX2, scalar loops otherwise) and, for large products, both cores. Few-row forward passes
/// (batch-1 inference) take a dot-product path that packs nothing. Outputs must not overlap inputs. The kernels
/// allocate nothing per call and are safe to call from any thread.
/// </remarks>
public static unsafe class Dense
{
    /// <summary>
    /// y[batch, units] = f(x[batch, inputs] · w[units, inputs]ᵀ + b[units]), with the bias and activation fused
    /// into the GEMM's epilogue. When <paramref name="preActivation"/> is not empty it receives z = x·wᵀ + b.
    /// </summary>
    public static void Forward<TAct>(Span<float> y, Span<float> preActivation,
        ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int batch, int inputs, int units) where TAct : struct, IActivation
    {
        CheckForward(y, preActivation, x, w, b, batch, inputs, units);
        fixed (float* px = x, pw = w, pb = b, py = y, pz = preActivation)
        {
            GemmArgs g = ForwardArgs(px, pw, pb, py, preActivation.IsEmpty ? null : pz, batch, inputs, units);
            Gemm.Run<TAct>(ref g);
        }
    }

    /// <summary>
    /// The same product for prediction, over the weights packed once in <paramref name="packed"/> (slot
    /// <paramref name="slot"/>, this layer's): where the GEMM would pack <c>wᵀ</c> on every call it reads the packed
    /// panels instead, (re)packing them first when the model's weights changed since. Same results, bit for bit.
    /// </summary>
    public static void Forward<TAct>(Span<float> y, Span<float> preActivation,
        ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int batch, int inputs, int units,
        PackedWeights packed, int slot) where TAct : struct, IActivation
    {
        ArgumentNullException.ThrowIfNull(packed);
        if ((uint)slot >= (uint)packed.Slots) throw new ArgumentOutOfRangeException(nameof(slot), slot, "No such slot in the packed weights.");
        CheckForward(y, preActivation, x, w, b, batch, inputs, units);
        fixed (float* px = x, pw = w, pb = b, py = y, pz = preActivation)
        {
            GemmArgs g = ForwardArgs(px, pw, pb, py, preActivation.IsEmpty ? null : pz, batch, inputs, units);
            KernelIsa isa = Gemm.Isa;
            float* bp = Gemm.UsePrepacked && Gemm.PacksB(ref g, isa) ? packed.Get(slot, &g, isa) : null;
            if (bp != null) Gemm.RunPrepacked<TAct>(ref g, isa, bp);
            else Gemm.Run<TAct>(ref g);
        }
        GC.KeepAlive(packed); // its finalizer frees the panels the kernels just read
    }

    /// <summary>
    /// Given dz[batch, units] (the gradient at the pre-activation), writes dw = dzᵀ · x, db = Σ_batch dz (unless
    /// <paramref name="db"/> is empty: a caller that has the sum already) and, unless <paramref name="dx"/> is empty
    /// (the first layer needs no input gradient), dx = dz · w.
    /// dw, db and dx are overwritten, not accumulated.
    /// </summary>
    public static void Backward(Span<float> dx, Span<float> dw, Span<float> db, ReadOnlySpan<float> dz,
        ReadOnlySpan<float> x, ReadOnlySpan<float> w, int batch, int inputs, int units)
    {
        CheckSizes(batch, inputs, units);
        Need(dw, (long)units * inputs, nameof(dw));
        if (!db.IsEmpty) Need(db, units, nameof(db));
        Need(dz, (long)batch * units, nameof(dz));
        Need(x, (long)batch * inputs, nameof(x));
        if (!dx.IsEmpty)
        {
            Need(dx, (long)batch * inputs, nameof(dx));
            Need(w, (long)units * inputs, nameof(w));
        }
        fixed (float* pdx = dx, pdw = dw, pdb = db, pdz = dz, px = x, pw = w)
        {
            // dw[units, inputs] = dzᵀ · x: A(u, b) = dz[b, u] (column-major A), B = x [batch, inputs].
            var g = new GemmArgs
            {
                A = pdz, RsA = 1, CsA = units,
                B = px, RsB = inputs, CsB = 1,
                C = pdw, LdC = inputs,
                M = units, N = inputs, K = batch,
            };
            Gemm.Run<Identity>(ref g);

            if (!db.IsEmpty) ColumnSum(pdz, pdb, batch, units);

            if (!dx.IsEmpty)
            {
                // dx[batch, inputs] = dz · w: A = dz [batch, units], B = w [units, inputs].
                g = new GemmArgs
                {
                    A = pdz, RsA = units, CsA = 1,
                    B = pw, RsB = inputs, CsB = 1,
                    C = pdx, LdC = inputs,
                    M = batch, N = inputs, K = units,
                };
                Gemm.Run<Identity>(ref g);
            }
        }
    }

    /// <summary>Adds the L2 penalty's gradient (dw += 2·λ·w) and returns the penalty λ·Σ w².</summary>
    public static float L2(Span<float> dw, ReadOnlySpan<float> w, float lambda)
    {
        if (dw.Length < w.Length) Activations.ThrowShort(nameof(dw));
        float sum = TensorPrimitives.SumOfSquares(w);
        TensorPrimitives.MultiplyAdd(w, 2f * lambda, dw.Slice(0, w.Length), dw);
        return lambda * sum;
    }

    /// <summary>db[u] = Σ_b dz[b, u], rows added in order (so the result does not depend on the machine's width).</summary>
    private static void ColumnSum(float* dz, float* db, int batch, int units)
    {
        if (Gemm.Isa == KernelIsa.Vector512)
        {
            for (int u = 0; u < units; u += 64)
            {
                int count = Math.Min(64, units - u);
                Vector512<float> m0 = Kernel512.Mask(count), m1 = Kernel512.Mask(count - 16);
                Vector512<float> m2 = Kernel512.Mask(count - 32), m3 = Kernel512.Mask(count - 48);
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* row = dz + u;
                for (int r = 0; r < batch; r++, row += units)
                {
                    s0 += Avx512F.MaskLoad(row, m0, Vector512<float>.Zero);
                    s1 += Avx512F.MaskLoad(row + 16, m1, Vector512<float>.Zero);
                    s2 += Avx512F.MaskLoad(row + 32, m2, Vector512<float>.Zero);
                    s3 += Avx512F.MaskLoad(row + 48, m3, Vector512<float>.Zero);
                }
                Avx512F.MaskStore(db + u, m0, s0);
                Avx512F.MaskStore(db + u + 16, m1, s1);
                Avx512F.MaskStore(db + u + 32, m2, s2);
                Avx512F.MaskStore(db + u + 48, m3, s3);
            }
            return;
        }
        var sum = new Span<float>(db, units);
        sum.Clear();
        for (int r = 0; r < batch; r++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(dz + (nint)r * units, units), sum);
    }

    /// <summary>The forward's argument checks, shared by both overloads: each span long enough for its tensor.</summary>
    private static void CheckForward(ReadOnlySpan<float> y, ReadOnlySpan<float> preActivation, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> b, int batch, int inputs, int units)
    {
        CheckSizes(batch, inputs, units);
        Need(x, (long)batch * inputs, nameof(x));
        Need(w, (long)units * inputs, nameof(w));
        Need(b, units, nameof(b));
        Need(y, (long)batch * units, nameof(y));
        if (!preActivation.IsEmpty) Need(preActivation, (long)batch * units, nameof(preActivation));
    }

    /// <summary>The forward's product: A = x [batch, inputs]; B(k, n) = w[n, k] (wᵀ, read down w's contiguous rows);
    /// C = y, with the bias and, when <paramref name="pz"/> is not null, z kept.</summary>
    private static GemmArgs ForwardArgs(float* px, float* pw, float* pb, float* py, float* pz, int batch, int inputs, int units) => new()
    {
        A = px, RsA = inputs, CsA = 1,
        B = pw, RsB = 1, CsB = inputs,
        C = py, LdC = units, Bias = pb, Pre = pz,
        M = batch, N = units, K = inputs,
    };

    private static void CheckSizes(int batch, int inputs, int units)
    {
        if (batch < 0 || inputs < 0 || units < 0)
            throw new ArgumentOutOfRangeException(batch < 0 ? nameof(batch) : inputs < 0 ? nameof(inputs) : nameof(units),
                "Sizes must not be negative.");
    }

    private static void Need(ReadOnlySpan<float> span, long length, string name)
    {
        if (span.Length < length) Activations.ThrowShort(name);
    }
}
