// The sample's networks. samples/AotInference compiles this same file, so it reads the checkpoints written here with
// --save exactly (same tensors, same shapes).
using Compiled;

/// <summary>The primers' MNIST CNN (Keras: Conv2D(32, (3, 3), relu), MaxPooling2D((2, 2)), ...): images as (H, W, C).</summary>
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

/// <summary>The network: every shape here is known at build time.</summary>
[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistMlp;
