namespace Compiled.Runtime.Tests.Training;

/// <summary>Iris: 4 features → 3 classes, trained on class labels.</summary>
[Input(4)] [Dense(16, Activation.Tanh)] [Dense(3, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class IrisNet;

/// <summary>Iris with one-hot targets.</summary>
[Input(4)] [Dense(16, Activation.Tanh)] [Dense(3, Activation.Softmax)] [Loss(Loss.CategoricalCrossEntropy)]
public partial class IrisOneHotNet;

/// <summary>Iris, setosa or not: one sigmoid output.</summary>
[Input(4)] [Dense(8, Activation.Relu)] [Dense(1, Activation.Sigmoid)] [Loss(Loss.BinaryCrossEntropy)]
public partial class SetosaNet;

/// <summary>Iris petal width from the four features (itself among them): a regression, which has no accuracy.</summary>
[Input(4)] [Dense(8, Activation.Tanh)] [Dense(1)] [Loss(Loss.MeanSquaredError)]
public partial class IrisRegression;
