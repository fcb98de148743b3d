using Compiled;

namespace Compiled.Gpu.Tests.HandWritten;

// Both halves of each model come from the real generator: the CPU file, and the GPU twin it emits because this
// project references Compiled.Gpu (contract: src/Gpu/GENERATED.md; see obj/*/generated/ for the output).

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
