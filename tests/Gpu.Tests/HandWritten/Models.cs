using Compiled;

namespace Compiled.Gpu.Tests.HandWritten;

// The CPU half of each model comes from the real generator; the GPU half (*.Gpu.cs next to this file) is written by
// hand exactly as src/Gpu/GENERATED.md says the generator will emit it.

/// <summary>The MNIST MLP: 784 → 128 ReLU → 10 softmax, sparse cross-entropy (softmax fused into the loss).</summary>
[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistMlp;

/// <summary>4 → 8 tanh → 3 softmax under mean squared error: softmax is not fused, so its backward runs on its own.</summary>
[Input(4)]
[Dense(8, Activation.Tanh)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.MeanSquaredError)]
public partial class TinySoftmaxMse;

/// <summary>6 → 5 GELU (L2 0.01) → 1 sigmoid, binary cross-entropy: a kept pre-activation, L2, sigmoid fused into BCE.</summary>
[Input(6)]
[Dense(5, Activation.Gelu, L2 = 0.01)]
[Dense(1, Activation.Sigmoid, Name = "head")]
[Loss(Loss.BinaryCrossEntropy)]
public partial class TinyGeluBinary;
