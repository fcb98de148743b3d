namespace Compiled;

/// <summary>A data set's training and test parts, as its publisher split them.</summary>
/// <param name="Train">The training samples.</param>
/// <param name="Test">The held-out test samples.</param>
/// <example><code>var (train, test) = Mnist.Load("data/mnist");</code></example>
public sealed record TrainTestSplit(Dataset Train, Dataset Test);
