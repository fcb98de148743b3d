using System.Runtime.CompilerServices;
using ILGPU;

namespace Compiled.Gpu.CompilerServices;

/// <summary>
/// Loss kernels, the GPU forms of <c>Compiled.CompilerServices.Losses</c>: each takes the final layer's logits (or outputs), writes
/// the finished outputs and the gradient, and writes the batch-mean loss to <c>loss[0]</c> and, for the losses with an
/// accuracy, the number of samples classified right to <c>loss[1]</c> (as the CPU trainer counts them) — a two-float
/// slot in the twin's loss ring, so a whole run of steps' losses comes back in one small download.
/// </summary>
/// <remarks>
/// Each runs as one group of <see cref="GroupSize"/> threads (<see cref="Launch.Loss"/>): threads stride over rows
/// (or elements), then a shared-memory tree adds the per-thread sums in a fixed order, so the loss is deterministic and
/// no atomics or zeroing launch are needed. Fine for the outputs of a classifier (batch × classes in the thousands);
/// a vocabulary-sized output would want a warp per row.
/// </remarks>
public static class Losses
{
    /// <summary>Threads in the one group a loss kernel runs as.</summary>
    public const int GroupSize = 256;

    /// <summary>
    /// Softmax + cross-entropy against integer labels, fused and stable: probs = softmax(logits),
    /// loss = mean(−log p[label]), dlogits = (probs − onehot(label)) / batch. A label that is not a class gives NaN loss.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SoftmaxCrossEntropySparse(ArrayView<float> probs, ArrayView<float> dlogits, ArrayView<float> loss,
        ArrayView<float> logits, ArrayView<float> labels, int batch, int classes)
    {
        float invBatch = 1f / batch;
        float local = 0f, correct = 0f;
        for (int r = Group.IdxX; r < batch; r += GroupSize)
        {
            int o = r * classes;
            float lf = labels[r];
            int label = (int)lf;
            if (label != lf || label < 0 || label >= classes)
            {
                local = float.NaN;
                continue;
            }
            float max = float.NegativeInfinity;
            for (int i = 0; i < classes; i++) max = MathF.Max(max, logits[o + i]);
            float sum = 0f;
            for (int i = 0; i < classes; i++)
            {
                float e = GpuMath.Exp(logits[o + i] - max);
                probs[o + i] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int i = 0; i < classes; i++)
            {
                float p = probs[o + i] * inv;
                probs[o + i] = p;
                float d = p * invBatch;
                if (i == label) d -= invBatch;
                dlogits[o + i] = d;
            }
            local += GpuMath.Log(sum) + max - logits[o + label]; // −log softmax(z)[label], on logits
            if (ArgMax(probs, o, classes) == label) correct += 1f;
        }
        WriteStats(loss, local, invBatch, correct);
    }

    /// <summary>
    /// Softmax + cross-entropy against one-hot or probability targets, fused: loss = mean(−Σ t·log softmax(z)),
    /// dlogits = (p·Σt − t) / batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SoftmaxCrossEntropy(ArrayView<float> probs, ArrayView<float> dlogits, ArrayView<float> loss,
        ArrayView<float> logits, ArrayView<float> targets, int batch, int classes)
    {
        float invBatch = 1f / batch;
        float local = 0f, correct = 0f;
        for (int r = Group.IdxX; r < batch; r += GroupSize)
        {
            int o = r * classes;
            float max = float.NegativeInfinity;
            for (int i = 0; i < classes; i++) max = MathF.Max(max, logits[o + i]);
            float sum = 0f;
            for (int i = 0; i < classes; i++)
            {
                float e = GpuMath.Exp(logits[o + i] - max);
                probs[o + i] = e;
                sum += e;
            }
            float inv = 1f / sum, logSum = GpuMath.Log(sum) + max, tsum = 0f;
            for (int i = 0; i < classes; i++)
            {
                float t = targets[o + i];
                probs[o + i] *= inv;
                local -= t * (logits[o + i] - logSum);
                tsum += t;
            }
            for (int i = 0; i < classes; i++)
                dlogits[o + i] = (probs[o + i] * tsum - targets[o + i]) * invBatch;
            if (ArgMax(probs, o, classes) == ArgMax(targets, o, classes)) correct += 1f;
        }
        WriteStats(loss, local, invBatch, correct);
    }

    /// <summary>
    /// Sigmoid + binary cross-entropy on logits, fused and stable: loss = mean(max(z,0) − z·t + log(1 + e^−|z|)),
    /// probs = σ(z), dlogits = (σ(z) − t) / (batch·n); right = Σ [σ(z) &gt; 0.5 = t &gt; 0.5] / n.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SigmoidBinaryCrossEntropy(ArrayView<float> probs, ArrayView<float> dlogits, ArrayView<float> loss,
        ArrayView<float> logits, ArrayView<float> targets, int batch, int n)
    {
        int count = batch * n;
        float inv = 1f / count;
        float local = 0f, right = 0f;
        for (int i = Group.IdxX; i < count; i += GroupSize)
        {
            float z = logits[i], t = targets[i];
            float p = GpuMath.Sigmoid(z);
            probs[i] = p;
            dlogits[i] = (p - t) * inv;
            local += MathF.Max(z, 0f) - z * t + GpuMath.Log(1f + GpuMath.Exp(-MathF.Abs(z)));
            if (p > 0.5f == t > 0.5f) right += 1f;
        }
        // Element-wise, so a sample with several sigmoid outputs counts the fraction of them that are right.
        WriteStats(loss, local, inv, right / n);
    }

    /// <summary>Mean squared error over every element: loss = mean((y − t)²), dy = 2(y − t) / (batch·n). No accuracy: only <c>loss[0]</c> is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MeanSquaredError(ArrayView<float> dpredictions, ArrayView<float> loss, ArrayView<float> predictions,
        ArrayView<float> targets, int batch, int n)
    {
        int count = batch * n;
        float scale = 2f / count;
        float local = 0f;
        for (int i = Group.IdxX; i < count; i += GroupSize)
        {
            float e = predictions[i] - targets[i];
            local += e * e;
            dpredictions[i] = scale * e;
        }
        WriteMean(loss, local, 1f / count);
    }

    /// <summary>
    /// The L2 penalty of one weight tensor: dw += 2·λ·w, and λ·Σ w² added to <c>loss[0]</c> (run it after the loss
    /// kernel, on the same stream). One group, like the losses.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void L2(ArrayView<float> dw, ArrayView<float> loss, ArrayView<float> w, int count, float lambda)
    {
        float local = 0f;
        for (int i = Group.IdxX; i < count; i += GroupSize)
        {
            float v = w[i];
            local += v * v;
            dw[i] += 2f * lambda * v;
        }
        float total = GroupReduce.Sum(local);
        if (Group.IdxX == 0) loss[0] += lambda * total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteMean(ArrayView<float> loss, float local, float scale)
    {
        float total = GroupReduce.Sum(local);
        if (Group.IdxX == 0) loss[0] = total * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteStats(ArrayView<float> loss, float local, float scale, float correct)
    {
        float total = GroupReduce.Sum(local);
        float right = GroupReduce.Sum(correct);
        if (Group.IdxX == 0)
        {
            loss[0] = total * scale;
            loss[1] = right;
        }
    }

    /// <summary>The index of the largest of values[o .. o + n) (the first on ties, as the CPU's arg-max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ArgMax(ArrayView<float> values, int o, int n)
    {
        int best = 0;
        float max = values[o];
        for (int i = 1; i < n; i++)
        {
            float v = values[o + i];
            if (v > max)
            {
                max = v;
                best = i;
            }
        }
        return best;
    }
}

/// <summary>Block-wide reductions for groups of <see cref="Losses.GroupSize"/> threads.</summary>
internal static class GroupReduce
{
    /// <summary>The sum of <paramref name="value"/> over the group, in a fixed tree order; every thread gets it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float value)
    {
        var shared = SharedMemory.Allocate<float>(Losses.GroupSize);
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int s = Losses.GroupSize / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier();
        return total;
    }
}
