namespace Compiled;

/// <summary>A per-epoch training metric, as recorded in <see cref="History"/> and watched by <see cref="EarlyStopping"/>.</summary>
public enum Metric
{
    /// <summary>The mean training loss over the epoch (Keras <c>loss</c>).</summary>
    Loss = 0,
    /// <summary>The training accuracy over the epoch (Keras <c>accuracy</c>).</summary>
    Accuracy = 1,
    /// <summary>The loss on the validation data after the epoch (Keras <c>val_loss</c>).</summary>
    ValidationLoss = 2,
    /// <summary>The accuracy on the validation data after the epoch (Keras <c>val_accuracy</c>).</summary>
    ValidationAccuracy = 3,
}
