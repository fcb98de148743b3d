namespace Compiled;

/// <summary>A model's score on a data set: <c>var (loss, accuracy) = model.Evaluate(test);</c></summary>
/// <param name="Loss">The mean per-sample loss of the model's outputs (without any L2 penalty).</param>
/// <param name="Accuracy">The fraction of samples classified right, in [0, 1]; <see cref="double.NaN"/> for
/// <see cref="Compiled.Loss.MeanSquaredError"/>, which has no classes.</param>
public readonly record struct Evaluation(double Loss, double Accuracy);
