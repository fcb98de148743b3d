using Compiled;

namespace Compiled.Samples.Autoencoder;

/// <summary>
/// A dense autoencoder for 28x28 digits: 784 → 128 → 32 (the code) → 128 → 784. The sigmoid output is a grey level in
/// [0, 1], and binary cross-entropy compares it with the input itself (<c>Target = LossTarget.Input</c>), pixel by pixel.
/// </summary>
[Input(784)]
[Dense(128, Activation.Relu, Name = "encoder.0")]
[Dense(32, Activation.Relu, Name = "encoder.1")]
[Dense(128, Activation.Relu, Name = "decoder.0")]
[Dense(784, Activation.Sigmoid, Name = "decoder.1")]
[Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
public partial class DigitAutoencoder;
