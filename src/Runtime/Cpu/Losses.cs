using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compiled.CompilerServices;

/// <summary>
/// Loss kernels. The training forms take the final layer's pre-activation (logits) when the loss is fused
/// with the output activation, return the mean loss over the batch and write its gradient with respect to
/// their input. <see cref="Total"/> scores finished outputs for evaluation.
/// </summary>
public static unsafe class Losses
{
    /// <summary>Probabilities are clamped to [ε, 1−ε] before a log, as Keras does.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>
    /// Softmax + cross-entropy against integer labels, fused: probs = softmax(logits), loss = mean(−log p[label]),
    /// dlogits = (probs − onehot(label)) / batch. Stable for any logits.
    /// </summary>
    public static float SoftmaxCrossEntropySparse(Span<float> probs, Span<float> dlogits,
        ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, int batch, int classes)
    {
        if (Gemm.Isa == KernelIsa.Vector512) return SparseVector(logits, labels, probs, dlogits, batch, classes);
        double total = 0;
        float invBatch = 1f / batch;
        for (int b = 0; b < batch; b++)
        {
            int label = Label(labels[b], classes);
            ReadOnlySpan<float> z = logits.Slice(b * classes, classes);
            Span<float> p = probs.Slice(b * classes, classes);
            Span<float> d = dlogits.Slice(b * classes, classes);
            float max = float.NegativeInfinity;
            for (int i = 0; i < classes; i++) max = MathF.Max(max, z[i]);
            float sum = 0f;
            for (int i = 0; i < classes; i++) { float e = MathF.Exp(z[i] - max); p[i] = e; sum += e; }
            float inv = 1f / sum;
            for (int i = 0; i < classes; i++) { p[i] *= inv; d[i] = p[i] * invBatch; }
            d[label] -= invBatch;
            total += MathF.Log(sum) + max - z[label]; // −log softmax(z)[label], computed on logits
        }
        return (float)(total / batch);
    }

    /// <summary>Softmax + cross-entropy against one-hot or probability targets, fused; dlogits = (p − t) / batch.</summary>
    public static float SoftmaxCrossEntropy(Span<float> probs, Span<float> dlogits,
        ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int batch, int classes)
    {
        if (Gemm.Isa == KernelIsa.Vector512) return DenseVector(logits, targets, probs, dlogits, batch, classes);
        double total = 0;
        float invBatch = 1f / batch;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> z = logits.Slice(b * classes, classes);
            ReadOnlySpan<float> t = targets.Slice(b * classes, classes);
            Span<float> p = probs.Slice(b * classes, classes);
            Span<float> d = dlogits.Slice(b * classes, classes);
            float max = float.NegativeInfinity;
            for (int i = 0; i < classes; i++) max = MathF.Max(max, z[i]);
            float sum = 0f;
            for (int i = 0; i < classes; i++) { float e = MathF.Exp(z[i] - max); p[i] = e; sum += e; }
            float inv = 1f / sum, logSum = MathF.Log(sum) + max, tsum = 0f;
            for (int i = 0; i < classes; i++)
            {
                p[i] *= inv;
                total -= t[i] * (z[i] - logSum);
                tsum += t[i];
            }
            // d/dz of −Σ t·log softmax(z) is p·Σt − t (p − t for targets that sum to one).
            for (int i = 0; i < classes; i++) d[i] = (p[i] * tsum - t[i]) * invBatch;
        }
        return (float)(total / batch);
    }

    /// <summary>
    /// Sigmoid + binary cross-entropy on logits, fused and stable: loss = mean(max(z,0) − z·t + log(1 + e^−|z|)),
    /// probs = σ(z), dlogits = (σ(z) − t) / (batch·n).
    /// </summary>
    public static float SigmoidBinaryCrossEntropy(Span<float> probs, Span<float> dlogits,
        ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int batch, int n)
    {
        int count = batch * n;
        float inv = 1f / count;
        if (Gemm.Isa == KernelIsa.Vector512) return SigmoidVector(logits, targets, probs, dlogits, count, inv);
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            float z = logits[i], t = targets[i];
            float p = 1f / (1f + MathF.Exp(-z));
            probs[i] = p;
            dlogits[i] = (p - t) * inv;
            total += MathF.Max(z, 0f) - z * t + MathF.Log(1f + MathF.Exp(-MathF.Abs(z)));
        }
        return (float)(total / count);
    }

    /// <summary>Mean squared error over every element: loss = mean((y − t)²), dy = 2(y − t) / (batch·n).</summary>
    public static float MeanSquaredError(Span<float> dpredictions, ReadOnlySpan<float> predictions,
        ReadOnlySpan<float> targets, int batch, int n)
    {
        int count = batch * n;
        float scale = 2f / count;
        if (Gemm.Isa == KernelIsa.Vector512) return SquaredVector(predictions, targets, dpredictions, count, scale);
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            float e = predictions[i] - targets[i];
            total += e * e;
            dpredictions[i] = scale * e;
        }
        return (float)(total / count);
    }

    /// <summary>
    /// The summed per-sample loss of finished outputs (probabilities after softmax or sigmoid), for evaluation.
    /// Divide by the sample count for the mean. Matches the training losses up to the ε clamp.
    /// </summary>
    public static double Total(Loss loss, ReadOnlySpan<float> outputs, ReadOnlySpan<float> targets, int batch, int outputSize)
    {
        double total = 0;
        switch (loss)
        {
            case Loss.SparseCategoricalCrossEntropy:
                for (int b = 0; b < batch; b++)
                    total -= Math.Log(Clamp(outputs[b * outputSize + Label(targets[b], outputSize)]));
                return total;
            case Loss.CategoricalCrossEntropy:
                for (int i = 0; i < batch * outputSize; i++)
                    total -= targets[i] * Math.Log(Clamp(outputs[i]));
                return total;
            case Loss.BinaryCrossEntropy:
                for (int i = 0; i < batch * outputSize; i++)
                {
                    float p = Clamp(outputs[i]);
                    total -= targets[i] * Math.Log(p) + (1 - targets[i]) * Math.Log(1 - p);
                }
                return total / outputSize;
            case Loss.MeanSquaredError:
                for (int i = 0; i < batch * outputSize; i++)
                {
                    double e = outputs[i] - targets[i];
                    total += e * e;
                }
                return total / outputSize;
            default:
                throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss.");
        }
    }

    // AVX-512 forms of the training losses. Per-element work is vectorised with masked tails; the loss total is
    // accumulated in double per row (per 1024 elements for the element-wise losses), in a fixed order.

    private static void Check(int length, long count, string name)
    {
        if (length < count) Activations.ThrowShort(name);
    }

    /// <summary>Rows (batch · classes elements) from which the sparse loss splits its rows into two fixed halves, run
    /// on both cores when the worker is free: the halves' totals are added in order, so the bits never depend on it.</summary>
    private const int SparseSplitWork = 1 << 15;

    private struct SparseArgs
    {
        public float* Z, P, D, Labels;
        public double* Totals;
        public int Batch, Classes, Chunks;
        public float InvBatch;
    }

    private static float SparseVector(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels,
        Span<float> probs, Span<float> dlogits, int batch, int classes)
    {
        long count = (long)batch * classes;
        Check(logits.Length, count, nameof(logits)); Check(labels.Length, batch, nameof(labels));
        Check(probs.Length, count, nameof(probs)); Check(dlogits.Length, count, nameof(dlogits));
        for (int b = 0; b < batch; b++) Label(labels[b], classes); // throws here, on the caller's thread
        double* totals = stackalloc double[2];
        fixed (float* pz = logits, pp = probs, pd = dlogits, pl = labels)
        {
            var a = new SparseArgs
            {
                Z = pz, P = pp, D = pd, Labels = pl, Totals = totals, Batch = batch, Classes = classes,
                Chunks = count >= SparseSplitWork && batch >= 2 ? 2 : 1, InvBatch = 1f / batch,
            };
            if (a.Chunks == 2 && Worker.TryEnter())
            {
                try { Worker.Run(&SparseRows, &a, 2); }
                finally { Worker.Exit(); }
            }
            else
                for (int c = 0; c < a.Chunks; c++) SparseRows(&a, c);
            double total = totals[0];
            if (a.Chunks == 2) total += totals[1];
            return (float)(total / batch);
        }
    }

    /// <summary>Rows of chunk <paramref name="chunk"/>: p = softmax(z) (max-shifted, e^x inlined), d = (p − onehot) / batch;
    /// the chunk's loss total, accumulated in double in row order, goes to Totals[chunk].</summary>
    private static void SparseRows(void* argument, int chunk)
    {
        ref SparseArgs a = ref *(SparseArgs*)argument;
        int classes = a.Classes;
        int first = (int)((long)a.Batch * chunk / a.Chunks), last = (int)((long)a.Batch * (chunk + 1) / a.Chunks);
        double total = 0;
        Vector512<float> vib = Vector512.Create(a.InvBatch);
        for (int b = first; b < last; b++)
        {
            int label = (int)a.Labels[b]; // checked by the caller
            float* z = a.Z + (nint)b * classes, p = a.P + (nint)b * classes, d = a.D + (nint)b * classes;
            float sum = Rows.ExpShifted(z, p, classes, out float max); // its AVX-512 branch: e^(z − max) by the inlined exp
            Vector512<float> inv = Vector512.Create(1f / sum);
            for (int i = 0; i < classes; i += 16)
            {
                Vector512<float> m = Kernel512.Mask(classes - i);
                Vector512<float> pv = Avx512F.MaskLoad(p + i, m, Vector512<float>.Zero) * inv;
                Avx512F.MaskStore(p + i, m, pv);
                Avx512F.MaskStore(d + i, m, pv * vib);
            }
            d[label] -= a.InvBatch;
            total += MathF.Log(sum) + max - z[label];
        }
        a.Totals[chunk] = total;
    }

    private static float DenseVector(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets,
        Span<float> probs, Span<float> dlogits, int batch, int classes)
    {
        long count = (long)batch * classes;
        Check(logits.Length, count, nameof(logits)); Check(targets.Length, count, nameof(targets));
        Check(probs.Length, count, nameof(probs)); Check(dlogits.Length, count, nameof(dlogits));
        double total = 0;
        float invBatch = 1f / batch;
        fixed (float* pz = logits, pt = targets, pp = probs, pd = dlogits)
        {
            for (int b = 0; b < batch; b++)
            {
                nint row = (nint)b * classes;
                float* z = pz + row, t = pt + row, p = pp + row, d = pd + row;
                float sum = Rows.ExpShifted(z, p, classes, out float max);
                Vector512<float> inv = Vector512.Create(1f / sum), logSum = Vector512.Create(MathF.Log(sum) + max);
                Vector512<float> loss = default, tsum = default;
                for (int i = 0; i < classes; i += 16)
                {
                    Vector512<float> m = Kernel512.Mask(classes - i);
                    Vector512<float> tv = Avx512F.MaskLoad(t + i, m, Vector512<float>.Zero);
                    Avx512F.MaskStore(p + i, m, Avx512F.MaskLoad(p + i, m, Vector512<float>.Zero) * inv);
                    loss += tv * (Avx512F.MaskLoad(z + i, m, Vector512<float>.Zero) - logSum);
                    tsum += tv;
                }
                total -= Vector512.Sum(loss);
                // d/dz of −Σ t·log softmax(z) is p·Σt − t (p − t for targets that sum to one).
                Vector512<float> ts = Vector512.Create(Vector512.Sum(tsum)), vib = Vector512.Create(invBatch);
                for (int i = 0; i < classes; i += 16)
                {
                    Vector512<float> m = Kernel512.Mask(classes - i);
                    Vector512<float> pv = Avx512F.MaskLoad(p + i, m, Vector512<float>.Zero);
                    Vector512<float> tv = Avx512F.MaskLoad(t + i, m, Vector512<float>.Zero);
                    Avx512F.MaskStore(d + i, m, (pv * ts - tv) * vib);
                }
            }
        }
        return (float)(total / batch);
    }

    private static float SigmoidVector(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets,
        Span<float> probs, Span<float> dlogits, int count, float inv)
    {
        Check(logits.Length, count, nameof(logits)); Check(targets.Length, count, nameof(targets));
        Check(probs.Length, count, nameof(probs)); Check(dlogits.Length, count, nameof(dlogits));
        double total = 0;
        fixed (float* pz = logits, pt = targets, pp = probs, pd = dlogits)
        {
            Vector512<float> one = Vector512<float>.One, vinv = Vector512.Create(inv);
            for (int start = 0; start < count; start += 1024)
            {
                int end = Math.Min(count, start + 1024);
                Vector512<float> acc = default;
                for (int i = start; i < end; i += 16)
                {
                    Vector512<float> m = Kernel512.Mask(end - i);
                    Vector512<float> z = Avx512F.MaskLoad(pz + i, m, Vector512<float>.Zero);
                    Vector512<float> t = Avx512F.MaskLoad(pt + i, m, Vector512<float>.Zero);
                    Vector512<float> p = one / (one + Vector512.Exp(-z));
                    Avx512F.MaskStore(pp + i, m, p);
                    Avx512F.MaskStore(pd + i, m, (p - t) * vinv);
                    Vector512<float> l = Vector512.MaxNative(z, Vector512<float>.Zero) - z * t
                        + Vector512.Log(one + Vector512.Exp(-Vector512.Abs(z)));
                    acc += l & m;
                }
                total += Vector512.Sum(acc);
            }
        }
        return (float)(total / count);
    }

    private static float SquaredVector(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets,
        Span<float> dpredictions, int count, float scale)
    {
        Check(predictions.Length, count, nameof(predictions)); Check(targets.Length, count, nameof(targets));
        Check(dpredictions.Length, count, nameof(dpredictions));
        double total = 0;
        fixed (float* py = predictions, pt = targets, pd = dpredictions)
        {
            Vector512<float> vs = Vector512.Create(scale);
            for (int start = 0; start < count; start += 1024)
            {
                int end = Math.Min(count, start + 1024);
                Vector512<float> acc = default;
                for (int i = start; i < end; i += 16)
                {
                    Vector512<float> m = Kernel512.Mask(end - i);
                    Vector512<float> e = Avx512F.MaskLoad(py + i, m, Vector512<float>.Zero) - Avx512F.MaskLoad(pt + i, m, Vector512<float>.Zero);
                    Avx512F.MaskStore(pd + i, m, vs * e);
                    acc += e * e;
                }
                total += Vector512.Sum(acc);
            }
        }
        return (float)(total / count);
    }

    private static float Clamp(float p) => Math.Clamp(p, Epsilon, 1f - Epsilon);

    /// <summary>Reads a class label stored as a float, and checks it names a class.</summary>
    public static int Label(float value, int classes)
    {
        int label = (int)value;
        if (label != value || (uint)label >= (uint)classes)
            ThrowBadLabel(value, classes);
        return label;
    }

    private static void ThrowBadLabel(float value, int classes) =>
        throw new ArgumentOutOfRangeException("targets", value,
            $"A class label must be a whole number in [0, {classes - 1}]; the model has {classes} outputs.");
}
