using Compiled;

namespace Compiled.Benchmarks;

// The benchmarked models, compiled by the real generator. peer.py builds the same layers in PyTorch.

/// <summary>The MNIST MLP: 784 → 128 (ReLU) → 10 (softmax), 101,770 parameters.</summary>
[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class Mlp784x128;

/// <summary>A wide MLP whose step is GEMM-bound: 784 → 1024 → 1024 → 10, 1.86 M parameters.</summary>
[Input(784)]
[Dense(1024, Activation.Relu)]
[Dense(1024, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class Mlp784x1024x1024;

/// <summary>One linear layer, 1024 → 1024: its forward pass at batch 1024 is a 1024³ GEMM with a bias epilogue.</summary>
[Input(1024)]
[Dense(1024)]
[Loss(Loss.MeanSquaredError)]
public partial class Linear1024;

/// <summary>The primers' MNIST CNN: conv 32 (3x3) → pool → conv 64 (3x3) → pool → 128 → 10, 225,034 parameters.</summary>
[Input(28, 28, 1)]
[Conv2D(32, 3, Activation.Relu)]
[MaxPool2D(2)]
[Conv2D(64, 3, Activation.Relu)]
[MaxPool2D(2)]
[Flatten]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistCnn;

/// <summary>The primers' CIFAR-10 CNN: 3 × (conv 3x3 + pool 2), 512, 10.</summary>
[Input(32, 32, 3)]
[Conv2D(32, 3, Activation.Relu)]
[MaxPool2D(2)]
[Conv2D(64, 3, Activation.Relu)]
[MaxPool2D(2)]
[Conv2D(128, 3, Activation.Relu)]
[MaxPool2D(2)]
[Flatten]
[Dense(512, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CifarCnn;

/// <summary>LeNet-5 on 28x28 digits (same padding first, ReLU, max pooling), 61,706 parameters.</summary>
[Input(28, 28, 1)]
[Conv2D(6, 5, Activation.Relu, Padding = Padding.Same)]
[MaxPool2D(2)]
[Conv2D(16, 5, Activation.Relu)]
[MaxPool2D(2)]
[Flatten]
[Dense(120, Activation.Relu)]
[Dense(84, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class LeNet5;

/// <summary>The character LSTM (samples/CharRnn): 64 token ids, embedding 65x64, LSTM 128 over every step, softmax at
/// every step.</summary>
[Input(64)]
[Embedding(65, 64)]
[Lstm(128, ReturnSequences = true)]
[Dense(65, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CharLstm;
