namespace Compiled;

/// <summary>The loss a model is trained to minimise. Every loss is averaged over the batch.</summary>
/// <remarks>This file is linked into the generator, so the generator and the runtime share one list.</remarks>
public enum Loss
{
    /// <summary>Mean squared error over every output (PyTorch <c>MSELoss()</c>, Keras <c>mse</c>).</summary>
    MeanSquaredError = 0,
    /// <summary>Binary cross-entropy; needs a Sigmoid output, with which it is fused (stable on logits).</summary>
    BinaryCrossEntropy = 1,
    /// <summary>Cross-entropy against one-hot (or probability) targets; needs a Softmax output.</summary>
    CategoricalCrossEntropy = 2,
    /// <summary>Cross-entropy against integer class labels (one target per sample); needs a Softmax output.</summary>
    SparseCategoricalCrossEntropy = 3,
}
