using Compiled;

namespace Compiled.Samples.Regression;

/// <summary>Linear regression: one Dense layer without activation, trained on mean squared error.</summary>
[Input(RegressionParts.LinearFeatures)]
[Dense(1)]
[Loss(Loss.MeanSquaredError)]
public partial class LinearModel;

/// <summary>Logistic regression on the 30 breast-cancer features: one sigmoid unit, binary cross-entropy, and an L2 penalty
/// of 1e-3 · Σ w² (about scikit-learn's default C = 1 for 455 training rows).</summary>
[Input(30)]
[Dense(1, Activation.Sigmoid, L2 = 1e-3)]
[Loss(Loss.BinaryCrossEntropy)]
public partial class LogisticModel;

/// <summary>Softmax (multinomial logistic) regression on the 4 iris measurements: 3 softmax units.</summary>
[Input(4)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class SoftmaxModel;
