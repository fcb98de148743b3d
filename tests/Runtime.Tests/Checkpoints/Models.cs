namespace Compiled.Runtime.Tests.Checkpoints;

/// <summary>The MNIST MLP of the samples: 784 → 128 (ReLU) → 10 (softmax).</summary>
[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CheckpointMlp;

/// <summary>Same layers as <see cref="CheckpointMlp"/> but 64 hidden units, so its first weight is [64, 784].</summary>
[Input(784)]
[Dense(64, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class NarrowMlp;

/// <summary>The smallest two-layer model, 4 → 3 (ReLU) → 2 (softmax): small enough to check a file byte by byte.</summary>
[Input(4)]
[Dense(3, Activation.Relu)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyMlp;

/// <summary>4 → 3 → 3 → 2: the tensors of <see cref="TinyMlp"/> except the last layer's, plus one more layer.</summary>
[Input(4)]
[Dense(3, Activation.Relu)]
[Dense(3, Activation.Relu)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class DeeperMlp;
