using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Tests;

/// <summary>[BatchNorm]'s diagnostics, and the places it may go (first, after Flatten, after a conv or a Dense).</summary>
public class BatchNormDiagnosticTests
{
    [Theory]
    [InlineData("BatchNorm(Momentum = 1.5)", "Momentum of BatchNorm layer 1 must be in [0, 1]")]
    [InlineData("BatchNorm(Momentum = -0.1)", "but it is -0.1")]
    [InlineData("BatchNorm(Eps = 0)", "Eps of BatchNorm layer 1 must be a finite number > 0")]
    [InlineData("BatchNorm(Activation.Softmax)", "cannot end in Softmax")]
    [InlineData("BatchNorm(Activation = Activation.Softmax)", "cannot end in Softmax")]
    public void OutOfRangeArguments(string attribute, string message)
    {
        Diagnostic d = DiagnosticTests.Single($$"""
            using Compiled;
            [Input(4)] [Dense(3)] [{{attribute}}] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP015", attribute);
        Assert.Contains(message, d.GetMessage());
    }

    [Fact]
    public void SequenceInputIsAShapeError()
    {
        Diagnostic d = DiagnosticTests.Single("""
            using Compiled;
            [Input(5, 3)] [BatchNorm] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP013", "BatchNorm");
        Assert.Contains("BatchNorm needs a flat input (features, as BatchNorm1d) or an image (height, width, channels, as BatchNorm2d)", d.GetMessage());
        Assert.Contains("gets 5x3", d.GetMessage());
    }

    [Fact]
    public void AMemberNamedLikeTheBufferArenaClashes()
    {
        Diagnostic d = DiagnosticTests.Single("""
            using Compiled;
            [Input(4)] [Dense(3)] [BatchNorm] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net { public int Buffers => 0; }
            """, "CMP008", "Buffers");
        Assert.Contains("'Buffers'", d.GetMessage());
    }

    [Theory]
    [InlineData("[Input(6)] [BatchNorm] [Dense(2, Activation.Softmax)]")]                        // first: normalises the input (no dx)
    [InlineData("[Input(4, 4, 2)] [BatchNorm(Activation.Relu)] [Flatten] [Dense(2, Activation.Softmax)]")]
    [InlineData("[Input(4, 4, 2)] [Conv2D(3, 3, UseBias = false)] [Flatten] [BatchNorm] [Dense(2, Activation.Softmax)]")] // 1d after Flatten
    [InlineData("[Input(4)] [Dense(3)] [BatchNorm(Activation.Gelu)] [BatchNorm] [Dense(2, Activation.Softmax)]")]
    public void CompilesWherePyTorchWould(string layers)
    {
        var (result, output) = GeneratorHarness.Run($$"""
            using Compiled;
            {{layers}} [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """);
        Assert.Empty(result.Diagnostics);
        Assert.NotEmpty(result.GeneratedTrees);
        Assert.Empty(GeneratorHarness.Errors(output));
    }
}
