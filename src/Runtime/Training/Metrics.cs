using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Compiled;

/// <summary>Accuracy counting and the data checks shared by the trainer and the prediction helpers.</summary>
internal static class Metrics
{
    /// <summary>Whether the loss has classes to be right or wrong about (every loss but mean squared error).</summary>
    public static bool HasAccuracy(Loss loss) => loss != Loss.MeanSquaredError;

    /// <summary>
    /// The number of samples classified right in a batch of finished outputs: argmax against the label (sparse) or
    /// against the argmax of the one-hot target; for binary cross-entropy, output &gt; 0.5 against target &gt; 0.5
    /// (element-wise, so a sample with several sigmoid outputs counts the fraction of them that are right).
    /// </summary>
    public static double Correct(Loss loss, ReadOnlySpan<float> outputs, ReadOnlySpan<float> targets, int batch, int outputSize)
        => Correct(loss, outputs, targets, batch, outputSize, steps: 1);

    /// <summary>
    /// <see cref="Correct(Loss, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int)"/> for outputs of
    /// <paramref name="steps"/> time steps each ((steps, outputSize / steps) per sample): every step is scored as a
    /// sample of its own, and a sample counts the fraction of its steps that are right.
    /// </summary>
    public static double Correct(Loss loss, ReadOnlySpan<float> outputs, ReadOnlySpan<float> targets, int batch, int outputSize, int steps)
    {
        if (steps > 1) return Correct(loss, outputs, targets, batch * steps, outputSize / steps, 1) / steps;
        int correct = 0;
        switch (loss)
        {
            case Loss.SparseCategoricalCrossEntropy:
                for (int b = 0; b < batch; b++)
                    if (ArgMax(outputs.Slice(b * outputSize, outputSize)) == (int)targets[b]) correct++;
                return correct;
            case Loss.CategoricalCrossEntropy:
                for (int b = 0; b < batch; b++)
                    if (ArgMax(outputs.Slice(b * outputSize, outputSize)) == ArgMax(targets.Slice(b * outputSize, outputSize))) correct++;
                return correct;
            case Loss.BinaryCrossEntropy:
                int count = batch * outputSize;
                for (int i = 0; i < count; i++)
                    if (outputs[i] > 0.5f == targets[i] > 0.5f) correct++;
                return outputSize == 1 ? correct : (double)correct / outputSize;
            default:
                return 0;
        }
    }

    /// <summary>
    /// The summed per-sample loss of finished outputs (see <see cref="CompilerServices.Losses.Total"/>); for a sequence
    /// output the per-sample loss is the mean over its steps, as the training loss is the mean over batch·steps.
    /// </summary>
    public static double TotalLoss(IModel model, ReadOnlySpan<float> outputs, ReadOnlySpan<float> targets, int batch)
    {
        int steps = model.OutputSteps;
        return CompilerServices.Losses.Total(model.Loss, outputs, targets, batch * steps, model.OutputSize / steps) / steps;
    }

    /// <summary>The number of classes a sparse label or a per-step row chooses among: the output size over the steps.</summary>
    public static int Classes(IModel model) => model.OutputSize / model.OutputSteps;

    /// <summary>The index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => TensorPrimitives.IndexOfMax(values);

    /// <summary>
    /// The data a model trains and is scored on: <paramref name="data"/> itself, or for a model that reconstructs its
    /// input (<see cref="LossTarget.Input"/>) the same samples with their features as targets. Null stays null.
    /// </summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(data))]
    public static Dataset? TargetsFor(IModel model, Dataset? data)
        => data is not null && model.LossTarget == LossTarget.Input ? data.WithFeaturesAsTargets() : data;

    /// <summary>Checks that <paramref name="data"/> has the model's input size.</summary>
    public static void CheckFeatures(IModel model, Dataset data, string name)
    {
        if (data.FeatureSize != model.InputSize)
            throw new ArgumentException(
                $"{name} has {data.FeatureSize} features per sample, but the model takes {model.InputSize} inputs.", name);
    }

    /// <summary>
    /// <see cref="CheckFeatures"/>, then, for a model that starts with an Embedding, that every feature is a token id
    /// (a whole number in [0, vocabulary)); the message names the sample and the position.
    /// </summary>
    public static void CheckInputs(IModel model, Dataset data, string name)
    {
        CheckFeatures(model, data, name);
        CheckTokens(model.InputVocabulary, data, name);
    }

    private static void CheckTokens(int vocabulary, Dataset data, string name)
    {
        if (vocabulary > 0) CompilerServices.Embedding.CheckIds(data.Features, data.Count, data.FeatureSize, vocabulary, name);
    }

    /// <summary>
    /// Checks that <paramref name="data"/> fits the model (input size, target size, at least one sample) and holds
    /// nothing that would silently poison training: every feature and target finite; for
    /// <see cref="Loss.SparseCategoricalCrossEntropy"/> every label a whole number in [0, classes); for
    /// <see cref="Loss.BinaryCrossEntropy"/> every target in [0, 1]; for <see cref="Loss.CategoricalCrossEntropy"/> every
    /// target row a probability distribution (values in [0, 1] summing to 1, as one-hot rows do). The scans are
    /// vectorised; a data set that owns its arrays (<see cref="Dataset.Owned"/>) is scanned once per loss and class count.
    /// </summary>
    /// <exception cref="ArgumentException">The message names the data set (<paramref name="name"/>, e.g. "train" or
    /// "validation"), the sample index and the value.</exception>
    public static void CheckData(IModel model, Dataset data, string name)
    {
        ArgumentNullException.ThrowIfNull(data, name);
        if (data.Count == 0) throw new ArgumentException($"{name} holds no samples.", name);
        CheckFeatures(model, data, name);
        CheckTargetSize(model, data, name);
        var key = (model.Loss, model.OutputSize, model.TargetSize, model.InputVocabulary);
        if (data.Owned && data.Checked is ValueTuple<Loss, int, int, int> done && done == key) return;
        CheckValues(model.Loss, Classes(model), data, name);
        CheckTokens(model.InputVocabulary, data, name);
        if (data.Owned) data.Checked = key;
    }

    private static void CheckTargetSize(IModel model, Dataset data, string name)
    {
        if (data.TargetSize == model.TargetSize) return;
        if (data.TargetSize == 1 && model.TargetSize == model.OutputSize)
            throw new ArgumentException(
                $"{name} holds class labels (1 target per sample), but the model's loss {model.Loss} expects " +
                $"{model.TargetSize} targets per sample: call {name}.OneHot({model.OutputSize}) first, " +
                $"or train with Loss.SparseCategoricalCrossEntropy.", name);
        if (model.TargetSize == 1 && data.TargetSize == model.OutputSize)
            throw new ArgumentException(
                $"{name} holds {data.TargetSize} targets per sample (one-hot?), but the model expects one class label per " +
                $"sample ({model.Loss}): pass the labels, or train with Loss.CategoricalCrossEntropy.", name);
        throw new ArgumentException(
            $"{name} has {data.TargetSize} targets per sample, but the model expects {model.TargetSize}.", name);
    }

    /// <summary>The value checks of <see cref="CheckData"/>, without the cache.</summary>
    internal static void CheckValues(Loss loss, int classes, Dataset data, string name)
    {
        ReadOnlySpan<float> features = data.Features;
        int bad = FloatChecks.IndexOfNonFinite(features);
        if (bad >= 0)
            throw new ArgumentException(
                $"{name} sample {bad / data.FeatureSize} has feature {bad % data.FeatureSize} = {FloatChecks.Describe(features[bad])}; " +
                "every feature must be finite (one NaN or infinity turns every weight it reaches into NaN).", name);

        ReadOnlySpan<float> targets = data.Targets;
        int t = data.TargetSize;
        bad = FloatChecks.IndexOfNonFinite(targets);
        if (bad >= 0)
            throw new ArgumentException(
                $"{name} sample {bad / t} has target {FloatChecks.Describe(targets[bad])}" + (t > 1 ? $" at position {bad % t}" : "") +
                "; every target must be finite.", name);

        switch (loss)
        {
            case Loss.SparseCategoricalCrossEntropy:
                bad = IndexOfNonLabel(targets, classes);
                if (bad >= 0)
                    throw new ArgumentException(
                        $"{name} sample {bad / t} has label {FloatChecks.Describe(targets[bad])}" + (t > 1 ? $" at step {bad % t}" : "") +
                        $", but {loss} needs a whole-number class label in [0, {classes - 1}] (the model has {classes} " +
                        (t > 1 ? "classes per step)." : "outputs)."), name);
                break;
            case Loss.BinaryCrossEntropy:
                bad = IndexOfOutside(targets, 0f, 1f);
                if (bad >= 0 && data.TargetsAreFeatures)
                    throw new ArgumentException(
                        $"{name} sample {bad / t} has feature {bad % t} = {FloatChecks.Describe(targets[bad])}, but a model that reconstructs " +
                        $"its input with {loss} needs every feature in [0, 1]: scale the inputs, or use Loss.MeanSquaredError.", name);
                if (bad >= 0)
                    throw new ArgumentException(
                        $"{name} sample {bad / t} has target {FloatChecks.Describe(targets[bad])}" + (t > 1 ? $" at position {bad % t}" : "") +
                        $", but {loss} needs targets in [0, 1].", name);
                break;
            case Loss.CategoricalCrossEntropy:
                bad = IndexOfOutside(targets, 0f, 1f);
                if (bad >= 0)
                    throw new ArgumentException(
                        $"{name} sample {bad / t} has target {FloatChecks.Describe(targets[bad])} at position {bad % t}, but {loss} needs " +
                        "one-hot (or probability) rows: every value in [0, 1], each row summing to 1.", name);
                for (int i = 0; i < data.Count; i++)
                {
                    float sum = TensorPrimitives.Sum(targets.Slice(i * t, t));
                    if (MathF.Abs(sum - 1f) > 1e-3f)
                        throw new ArgumentException(
                            $"{name} sample {i} has a target row summing to {FloatChecks.Describe(sum)}, but {loss} needs one-hot " +
                            "(or probability) rows summing to 1.", name);
                }
                break;
        }
    }

    /// <summary>The index of the first value that is not a whole number in [0, classes), or -1.</summary>
    internal static int IndexOfNonLabel(ReadOnlySpan<float> labels, int classes)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> top = Vector512.Create((float)classes);
            for (; i + Vector512<float>.Count <= labels.Length; i += Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.Create(labels.Slice(i, Vector512<float>.Count));
                Vector512<float> ok = Vector512.GreaterThanOrEqual(v, Vector512<float>.Zero) & Vector512.LessThan(v, top) &
                    Vector512.Equals(Vector512.Floor(v), v);
                if (!Vector512.EqualsAll(ok.AsUInt32(), Vector512<uint>.AllBitsSet)) break;
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> top = Vector256.Create((float)classes);
            for (; i + Vector256<float>.Count <= labels.Length; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.Create(labels.Slice(i, Vector256<float>.Count));
                Vector256<float> ok = Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero) & Vector256.LessThan(v, top) &
                    Vector256.Equals(Vector256.Floor(v), v);
                if (!Vector256.EqualsAll(ok.AsUInt32(), Vector256<uint>.AllBitsSet)) break;
            }
        }
        for (; i < labels.Length; i++)
        {
            float v = labels[i];
            if (!(v >= 0 && v < classes && MathF.Floor(v) == v)) return i;
        }
        return -1;
    }

    /// <summary>The index of the first value outside [low, high] (NaN included), or -1.</summary>
    private static int IndexOfOutside(ReadOnlySpan<float> values, float low, float high)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> lo = Vector512.Create(low), hi = Vector512.Create(high);
            for (; i + Vector512<float>.Count <= values.Length; i += Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.Create(values.Slice(i, Vector512<float>.Count));
                if (!Vector512.GreaterThanOrEqualAll(v, lo) || !Vector512.LessThanOrEqualAll(v, hi)) break;
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> lo = Vector256.Create(low), hi = Vector256.Create(high);
            for (; i + Vector256<float>.Count <= values.Length; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.Create(values.Slice(i, Vector256<float>.Count));
                if (!Vector256.GreaterThanOrEqualAll(v, lo) || !Vector256.LessThanOrEqualAll(v, hi)) break;
            }
        }
        for (; i < values.Length; i++)
            if (!(values[i] >= low && values[i] <= high)) return i;
        return -1;
    }
}
