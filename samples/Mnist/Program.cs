using Compiled;

var m = new MnistMlp(seed: 1);
Console.WriteLine(m.Parameters.Length);

[Input(784)]
[Dense(128, Activation.Relu)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class MnistMlp;
