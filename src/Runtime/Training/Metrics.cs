using System.Numerics.Tensors;

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
    {
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

    /// <summary>The index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => TensorPrimitives.IndexOfMax(values);

    /// <summary>Checks that <paramref name="data"/> has the model's input size.</summary>
    public static void CheckFeatures(IModel model, Dataset data, string name)
    {
        if (data.FeatureSize != model.InputSize)
            throw new ArgumentException(
                $"{name} has {data.FeatureSize} features per sample, but the model takes {model.InputSize} inputs.", name);
    }

    /// <summary>Checks that <paramref name="data"/> fits the model: input size, target size, at least one sample.</summary>
    public static void CheckData(IModel model, Dataset data, string name)
    {
        ArgumentNullException.ThrowIfNull(data, name);
        if (data.Count == 0) throw new ArgumentException($"{name} holds no samples.", name);
        CheckFeatures(model, data, name);
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
}
