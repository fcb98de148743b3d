namespace Compiled;

/// <summary>
/// What the loss compares the model's output with: the data set's targets (the default), or the model's own input,
/// which makes the model an autoencoder (<c>[Loss(Loss.MeanSquaredError, Target = LossTarget.Input)]</c>).
/// </summary>
/// <remarks>This file is linked into the generator, so the generator and the runtime share one list.</remarks>
public enum LossTarget
{
    /// <summary>The data set's targets (labels, one-hot rows or values), as <c>model.fit(x, y)</c>.</summary>
    Targets = 0,
    /// <summary>
    /// The input itself, as Keras' <c>autoencoder.fit(x, x)</c>: the output must have the input's size, <c>Fit</c> and
    /// <c>Evaluate</c> use each sample's features as its targets and ignore the data set's own targets (MNIST's labels).
    /// </summary>
    Input = 1,
}
