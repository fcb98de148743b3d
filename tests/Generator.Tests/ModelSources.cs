namespace Compiled.Generator.Tests;

/// <summary>The models whose generated code is kept as baselines: each exercises a different part of the op table.</summary>
internal static class ModelSources
{
    public static readonly IReadOnlyDictionary<string, string> All = new Dictionary<string, string>
    {
        // The MNIST MLP: ReLU hidden layer, softmax fused into sparse cross-entropy.
        ["MnistMlp"] = """
            using Compiled;

            namespace Demo;

            [Input(784)]
            [Dense(128, Activation.Relu)]
            [Dense(10, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class MnistMlp;
            """,

        // Linear regression: one linear layer, mean squared error, L2 on the weights; global namespace.
        ["LinearRegression"] = """
            using Compiled;

            [Input(13)]
            [Dense(1, Name = "linear", L2 = 0.001)]
            [Loss(Loss.MeanSquaredError)]
            public partial class LinearRegression;
            """,

        // Every activation: GELU keeps its pre-activation; tanh/leaky ReLU use the output; sigmoid fused into BCE;
        // nested in a partial class.
        ["DeepBinary"] = """
            using Compiled;

            namespace Demo.Nested;

            public static partial class Models
            {
                [Input(30)]
                [Dense(64, Activation.Gelu, Name = "encoder.fc1")]
                [Dense(32, Activation.Tanh)]
                [Dense(16, Activation.LeakyRelu, L2 = 1e-4)]
                [Dense(1, Activation.Sigmoid, Name = "head")]
                [Loss(Loss.BinaryCrossEntropy)]
                public partial class DeepBinary;
            }
            """,

        // Softmax that is not fused (MSE on probabilities) and one-hot cross-entropy's sibling path.
        ["SoftmaxRegression"] = """
            using Compiled;

            namespace Demo;

            [Input(4)]
            [Dense(8, Activation.Sigmoid)]
            [Dense(3, Activation.Softmax)]
            [Loss(Loss.MeanSquaredError)]
            internal partial class SoftmaxRegression { }
            """,

        // Dropout between two layers: a training-only mask buffer, the step's seed, the identity when predicting.
        ["DropoutMlp"] = """
            using Compiled;

            namespace Demo;

            [Input(784)]
            [Dense(256, Activation.Relu)]
            [Dropout(0.5)]
            [Dense(10, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class DropoutMlp;
            """,

        // The primer's MNIST CNN: convolutions, max pooling, Flatten to PyTorch's order, Dense.
        ["MnistCnn"] = """
            using Compiled;

            namespace Demo;

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
            """,

        // BatchNorm2d after a bias-free conv (ReLU on the BatchNorm), BatchNorm1d after a Dense (GELU, PyTorch momentum 0.01):
        // parameters γ/β, the buffer arena (running statistics, an int64 counter), batch statistics saved for backward.
        ["BatchNormCnn"] = """
            using Compiled;

            namespace Demo;

            [Input(28, 28, 1)]
            [Conv2D(8, 3, UseBias = false)]
            [BatchNorm(Activation.Relu)]
            [MaxPool2D(2)]
            [Flatten]
            [Dense(32)]
            [BatchNorm(Activation.Gelu, Momentum = 0.01)]
            [Dense(10, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class BatchNormCnn;
            """,

        // Categorical (one-hot) cross-entropy.
        ["OneHotClassifier"] = """
            using Compiled;

            namespace Demo;

            [Input(64)]
            [Dense(32, Activation.Relu)]
            [Dense(10, Activation.Softmax)]
            [Loss(Loss.CategoricalCrossEntropy)]
            public partial class OneHotClassifier;
            """,

        // Sequences: an LSTM over (T, F) (input projection and gradients as GEMMs over batch·T rows), its last hidden
        // state into Dense.
        ["SequenceLstm"] = """
            using Compiled;

            namespace Demo;

            [Input(5, 3)]
            [Lstm(4)]
            [Dense(2, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class SequenceLstm;
            """,

        // A character bigram model (samples/CharRnn before its recurrent layer): token ids → embedding → Dense at every
        // step → per-step sparse cross-entropy.
        ["CharBigram"] = """
            using Compiled;

            namespace Demo;

            [Input(64)]
            [Embedding(65, 64)]
            [Dense(65, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class CharBigram;
            """,

        // The character LSTM (samples/CharRnn): the LSTM reads the embedding's rows, so on the CPU its input projection
        // and that projection's backward run per token of the vocabulary (EmbeddedProjection), and the embedding's
        // backward step is empty there.
        ["CharLstm"] = """
            using Compiled;

            namespace Demo;

            [Input(64)]
            [Embedding(65, 64)]
            [Lstm(128, ReturnSequences = true)]
            [Dense(65, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class CharLstm;
            """,

        // An autoencoder: the loss compares the output with the model's own input (TargetSize = InputSize).
        ["Autoencoder"] = """
            using Compiled;

            namespace Demo;

            [Input(784)]
            [Dense(128, Activation.Relu)]
            [Dense(32, Activation.Relu)]
            [Dense(128, Activation.Relu)]
            [Dense(784, Activation.Sigmoid)]
            [Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
            public partial class Autoencoder;
            """,
    };
}
