namespace Compiled.Onnx.Tests;

// Every activation in a chain of Dense layers, with Dropout (the identity when predicting) in the middle.
[Input(20)]
[Dense(16, Activation.Gelu)]
[Dense(16, Activation.Tanh)]
[Dropout(0.3)]
[Dense(16, Activation.LeakyRelu)]
[Dense(16, Activation.Sigmoid)]
[Dense(16, Activation.Relu)]
[Dense(12)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class EveryActivationMlp;

// The primers' MNIST CNN (samples/Mnist --model cnn).
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

// Same padding that splits unevenly (1 before, 2 after), strides, average pooling over a padded border (count_include_pad
// = 0 matters), a bias-free convolution, max pooling with padding, global average pooling.
[Input(13, 11, 3)]
[Conv2D(8, 4, Activation.Relu, Stride = 2, Padding = Padding.Same)]
[AvgPool2D(3, Stride = 2, Padding = Padding.Same)]
[Conv2D(16, 3, Activation.LeakyRelu, Padding = Padding.Same, UseBias = false)]
[MaxPool2D(2, Padding = Padding.Same)]
[GlobalAveragePool2D]
[Dense(4, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class PaddedCnn;

// An image output: the graph must transpose NCHW back to the (H, W, C) order Forward writes.
[Input(6, 5, 2)]
[Conv2D(3, 3, 2, Activation.Gelu, Padding = Padding.Same)]
[Loss(Loss.MeanSquaredError)]
public partial class ConvHead;

// Flatten of the input image itself (no convolution before it): (C, H, W) order straight from NHWC.
[Input(4, 3, 2)]
[Flatten]
[Dense(5, Activation.Sigmoid)]
[Loss(Loss.MeanSquaredError)]
public partial class FlattenFirst;

// BatchNorm after a bias-free convolution (BatchNorm2d, NCHW channel axis) and after a Dense (BatchNorm1d), with the
// activations on the BatchNorm layers; exported with the running statistics.
[Input(8, 8, 2)]
[Conv2D(4, 3, UseBias = false)]
[BatchNorm(Activation.Relu)]
[Flatten]
[Dense(6)]
[BatchNorm(Activation.Tanh, Eps = 1e-3)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class BatchNormNet;

// Token ids → Embedding → Dense at every step (MatMul + Add over (T, F)) → softmax per step.
[Input(6)]
[Embedding(7, 4)]
[Dense(5, Activation.Tanh)]
[Dense(7, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TokenBigram;

// Recurrent layers, stacked: every step's h (ReturnSequences) into the next layer, the last step's h into Dense. PyTorch's
// gate orders must be reordered to ONNX's (LSTM i, f, g, o → i, o, f, c; GRU r, z, n → z, r, h).
[Input(5, 3)]
[Lstm(6, ReturnSequences = true)]
[Gru(4, ReturnSequences = true)]
[SimpleRnn(5)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class RecurrentStack;

// An LSTM whose every step goes through a Dense (per-step softmax).
[Input(4, 2)]
[Lstm(3, ReturnSequences = true)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class LstmPerStep;
