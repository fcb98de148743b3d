using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Tests;

/// <summary>Each bad definition gets one diagnostic, with a stable id, at the offending attribute or class name.</summary>
public class DiagnosticTests
{
    /// <summary>Runs the generator and returns its single diagnostic, checking where it points.</summary>
    internal static Diagnostic Single(string source, string id, string locatedText)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(locatedText, LocatedText(output, diagnostic));
        // A bad model generates no code, so nothing generated can fail to compile.
        Assert.Empty(result.GeneratedTrees);
        Assert.DoesNotContain(output.GetDiagnostics(TestContext.Current.CancellationToken), d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath.EndsWith(".g.cs") == true);
        TestContext.Current.TestOutputHelper?.WriteLine($"{diagnostic.Id}: {diagnostic.GetMessage()}");
        return diagnostic;
    }

    /// <summary>The source text a diagnostic points at (generator diagnostics carry file locations).</summary>
    internal static string LocatedText(Compilation compilation, Diagnostic diagnostic)
    {
        FileLinePositionSpan span = diagnostic.Location.GetLineSpan();
        Assert.True(span.IsValid, $"{diagnostic.Id} has no location");
        SyntaxTree tree = compilation.SyntaxTrees.Single(t => t.FilePath == span.Path);
        return tree.GetText().ToString(diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void ClassNotPartial()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public class Net { }
            """, "CMP001", "Net");
        Assert.Contains("add the 'partial' modifier", d.GetMessage());
    }

    [Fact]
    public void NoInput()
    {
        var d = Single("""
            using Compiled;
            [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP002", "Net");
        Assert.Contains("[Input(784)]", d.GetMessage());
    }

    [Fact]
    public void NoInputOnlyLayers()
    {
        Single("""
            using Compiled;
            [Dense(2)]
            public partial class Net;
            """, "CMP002", "Net");
    }

    [Fact]
    public void NoLoss()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Dense(2, Activation.Softmax)]
            public partial class Net;
            """, "CMP003", "Net");
        Assert.Contains("[Loss(Loss.SparseCategoricalCrossEntropy)]", d.GetMessage());
    }

    [Theory]
    [InlineData("Loss.SparseCategoricalCrossEntropy", "Activation.Relu", 10, "needs a Softmax output")]
    [InlineData("Loss.CategoricalCrossEntropy", "Activation.None", 10, "needs a Softmax output")]
    [InlineData("Loss.SparseCategoricalCrossEntropy", "Activation.Softmax", 1, "at least 2 classes")]
    [InlineData("Loss.BinaryCrossEntropy", "Activation.Softmax", 2, "needs a Sigmoid output")]
    public void LossDoesNotFitOutput(string loss, string activation, int units, string expected)
    {
        var d = Single($$"""
            using Compiled;
            [Input(4)] [Dense({{units}}, {{activation}})] [Loss({{loss}})]
            public partial class Net;
            """, "CMP004", $"Loss({loss})");
        Assert.Contains(expected, d.GetMessage());
    }

    [Theory]
    [InlineData("[Input(0)] [Dense(2)]", "Input(0)", "Dimension 0 of [Input]")]
    [InlineData("[Input(4, -2)] [Dense(2)]", "Input(4, -2)", "Dimension 1 of [Input]")]
    [InlineData("[Input(4)] [Dense(0)]", "Dense(0)", "units of Dense layer 0")]
    [InlineData("[Input(4)] [Dense(3)] [Dense(-1)]", "Dense(-1)", "units of Dense layer 1")]
    public void NonPositiveSizes(string layers, string located, string expected)
    {
        var d = Single($$"""
            using Compiled;
            {{layers}} [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP005", located);
        Assert.Contains(expected, d.GetMessage());
    }

    [Fact]
    public void LayersSpreadOverPartialDeclarations()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Dense(8, Activation.Relu)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;

            [Dense(1)]
            public partial class Net;
            """, "CMP006", "Net");
        Assert.Contains("move them all onto one declaration", d.GetMessage());
        // It points at the second declaration.
        Assert.Equal(5, d.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void LossOnAnotherPartialDeclarationIsFine()
    {
        var (result, output) = GeneratorHarness.Run("""
            using Compiled;
            [Input(4)] [Dense(1)]
            public partial class Net;

            [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Errors(output));
        Assert.Single(result.GeneratedTrees);
    }

    [Theory]
    [InlineData("[Input(8)] [Embedding(0, 4)]", "Embedding(0, 4)", "vocabulary of Embedding layer 0")]
    [InlineData("[Input(8)] [Embedding(10, -3)]", "Embedding(10, -3)", "width of Embedding layer 0")]
    public void EmbeddingSizesMustBePositive(string layers, string located, string expected)
    {
        var d = Single($$"""
            using Compiled;
            {{layers}} [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP005", located);
        Assert.Contains(expected, d.GetMessage());
    }

    [Fact]
    public void EmbeddingMustComeRightAfterTheInput()
    {
        var d = Single("""
            using Compiled;
            [Input(8)] [Dense(8)] [Embedding(10, 4)] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP025", "Embedding(10, 4)");
        Assert.Contains("Embedding layer 1 gets 8", d.GetMessage());
        Assert.Contains("right after [Input(T)]", d.GetMessage());
    }

    [Fact]
    public void EmbeddingNeedsOneDimensionalTokenIds()
    {
        var d = Single("""
            using Compiled;
            [Input(8, 2)] [Embedding(10, 4)] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP026", "Embedding(10, 4)");
        Assert.Contains("the input is 8x2", d.GetMessage());
        Assert.Contains("[Input(16)]", d.GetMessage());
    }

    [Fact]
    public void DenseAppliesPerStepOnASequenceButNotOnAnImage()
    {
        var (result, output) = GeneratorHarness.Run("""
            using Compiled;
            [Input(5, 3)] [Dense(4, Activation.Relu)] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Errors(output));
        string code = result.GeneratedTrees.Single().ToString();
        Assert.Contains("public const int OutputSize = 10;", code);
        Assert.Contains("public const int TargetSize = 5;", code);
        Assert.Contains("batch * 5, 3, 4", code); // one GEMM over batch·T rows
    }

    [Fact]
    public void PerStepCrossEntropyNeedsTwoClassesPerStep()
    {
        var d = Single("""
            using Compiled;
            [Input(8)] [Embedding(10, 4)] [Dense(1, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP004", "Loss(Loss.SparseCategoricalCrossEntropy)");
        Assert.Contains("at least 2 classes", d.GetMessage());
    }

    [Fact]
    public void DenseOnAShapedInputNeedsAFlatInput()
    {
        var d = Single("""
            using Compiled;
            [Input(28, 28, 1)] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP013", "Dense(10, Activation.Softmax)");
        Assert.Contains("gets 28x28x1", d.GetMessage());
        Assert.Contains("add [Flatten]", d.GetMessage());
        Assert.Contains("[Input(784)]", d.GetMessage());
    }

    [Fact]
    public void InputAfterALayer()
    {
        Single("""
            using Compiled;
            [Dense(10)] [Input(4)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP011", "Input(4)");
    }

    [Fact]
    public void NoLayers()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP012", "Net");
        Assert.Contains("has no layers", d.GetMessage());
    }

    [Fact]
    public void NegativeL2()
    {
        Single("""
            using Compiled;
            [Input(4)] [Dense(1, L2 = -0.5)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP015", "Dense(1, L2 = -0.5)");
    }

    [Theory]
    [InlineData("public partial record Net;", "it is a record")]
    [InlineData("public static partial class Net;", "it is static")]
    [InlineData("public abstract partial class Net;", "it is abstract")]
    [InlineData("public partial class Net<T>;", "it is generic")]
    public void UnsupportedTypes(string declaration, string expected)
    {
        var (result, _) = GeneratorHarness.Run($$"""
            using Compiled;
            [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)]
            {{declaration}}
            """);
        Diagnostic d = Assert.Single(result.Diagnostics, d => d.Id.StartsWith("CMP"));
        Assert.Equal("CMP008", d.Id);
        Assert.Contains(expected, d.GetMessage());
        Assert.Empty(result.GeneratedTrees);
    }

    [Fact]
    public void NestedInANonPartialClass()
    {
        var d = Single("""
            using Compiled;
            public class Outer
            {
                [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)]
                public partial class Net;
            }
            """, "CMP008", "Net");
        Assert.Contains("make 'Outer' a partial class", d.GetMessage());
    }

    [Fact]
    public void UnknownActivationValue()
    {
        Single("""
            using Compiled;
            [Input(4)] [Dense(1, (Activation)42)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP009", "Dense(1, (Activation)42)");
    }

    [Fact]
    public void UnknownLossValue()
    {
        Single("""
            using Compiled;
            [Input(4)] [Dense(1)] [Loss((Loss)7)]
            public partial class Net;
            """, "CMP009", "Loss((Loss)7)");
    }

    [Theory]
    [InlineData("\"\"", "is empty")]
    [InlineData("\"9lives\"", "must start with a letter")]
    [InlineData("\"enc oder\"", "contains ' '")]
    [InlineData("\"enc..oder\"", "empty part between dots")]
    public void InvalidLayerNames(string name, string expected)
    {
        var d = Single($$"""
            using Compiled;
            [Input(4)] [Dense(1, Name = {{name}})] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP010", $"Dense(1, Name = {name})");
        Assert.Contains(expected, d.GetMessage());
    }

    [Fact]
    public void DuplicateLayerNames()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Dense(3, Name = "fc")] [Dense(1, Name = "fc")] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP010", "Dense(1, Name = \"fc\")");
        Assert.Contains("more than one layer", d.GetMessage());
    }

    [Fact]
    public void SeveralProblemsAreAllReported()
    {
        var (result, _) = GeneratorHarness.Run("""
            using Compiled;
            [Input(0)] [Dense(0)] [Dense(2, Activation.Relu)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public class Net { }
            """);
        Assert.Equal(new[] { "CMP001", "CMP004", "CMP005", "CMP005" }, result.Diagnostics.Select(d => d.Id).Order());
        Assert.Empty(result.GeneratedTrees);
    }

    [Theory]
    [InlineData("[Input(8)] [Lstm(4)]", "Lstm(4)", "Lstm needs a sequence input (steps, features), but layer 0 gets a flat input (8)", "[Input(steps, 8)]")]
    [InlineData("[Input(6, 6, 1)] [Gru(4)]", "Gru(4)", "Gru needs a sequence input (steps, features), but layer 0 gets a 6x6x1 input", "[Input(steps, features)]")]
    [InlineData("[Input(5, 3)] [Lstm(4)] [SimpleRnn(3)]", "SimpleRnn(3)", "SimpleRnn needs a sequence input (steps, features), but layer 1 gets a flat input (4)", "ReturnSequences = true")]
    public void RecurrentLayerNeedsASequenceInput(string layers, string located, string expected, string fix)
    {
        var d = Single($$"""
            using Compiled;
            {{layers}} [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
            public partial class Net;
            """, "CMP013", located);
        Assert.Contains(expected, d.GetMessage());
        Assert.Contains(fix, d.GetMessage());
    }

    [Theory]
    [InlineData("[Lstm(0)]", "Lstm(0)", "The units of Lstm layer 0 must be positive, but it is 0")]
    [InlineData("[Gru(-3, ReturnSequences = true)]", "Gru(-3, ReturnSequences = true)", "The units of Gru layer 0 must be positive, but it is -3")]
    [InlineData("[SimpleRnn(0, Name = \"rnn\")]", "SimpleRnn(0, Name = \"rnn\")", "The units of SimpleRnn layer 0 must be positive, but it is 0")]
    public void RecurrentUnitsMustBePositive(string layer, string located, string expected)
    {
        var d = Single($$"""
            using Compiled;
            [Input(5, 3)] {{layer}} [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """, "CMP005", located);
        Assert.Equal(expected, d.GetMessage());
    }

    [Fact]
    public void AutoencoderOutputMustHaveTheInputsSize()
    {
        var d = Single("""
            using Compiled;
            [Input(784)] [Dense(32, Activation.Relu)] [Dense(748, Activation.Sigmoid)]
            [Loss(Loss.MeanSquaredError, Target = LossTarget.Input)]
            public partial class Net;
            """, "CMP030", "Loss(Loss.MeanSquaredError, Target = LossTarget.Input)");
        Assert.Contains("the input has 784 floats ([784]) and the output 748 ([748])", d.GetMessage());
        Assert.Contains("[Dense(784, Activation.Sigmoid)]", d.GetMessage());
    }

    [Fact]
    public void AutoencoderOfAnImageNamesBothShapes()
    {
        var d = Single("""
            using Compiled;
            [Input(28, 28, 1)] [Flatten] [Dense(10, Activation.Sigmoid)]
            [Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
            public partial class Net;
            """, "CMP030", "Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)");
        Assert.Contains("the input has 784 floats ([28, 28, 1]) and the output 10 ([10])", d.GetMessage());
    }

    [Fact]
    public void AutoencoderCannotReconstructWithClassLabels()
    {
        var d = Single("""
            using Compiled;
            [Input(4)] [Dense(4, Activation.Softmax)]
            [Loss(Loss.SparseCategoricalCrossEntropy, Target = LossTarget.Input)]
            public partial class Net;
            """, "CMP031", "Loss(Loss.SparseCategoricalCrossEntropy, Target = LossTarget.Input)");
        Assert.Contains("one class label per sample", d.GetMessage());
    }

    [Fact]
    public void UndefinedLossTargetIsReported()
    {
        Single("""
            using Compiled;
            [Input(4)] [Dense(4)] [Loss(Loss.MeanSquaredError, Target = (LossTarget)7)]
            public partial class Net;
            """, "CMP009", "Loss(Loss.MeanSquaredError, Target = (LossTarget)7)");
    }

    [Fact]
    public void AutoencoderWhoseOutputMatchesCompiles()
    {
        var (result, output) = GeneratorHarness.Run("""
            using Compiled;
            [Input(28, 28, 1)] [Flatten] [Dense(16, Activation.Relu)] [Dense(784, Activation.Sigmoid)]
            [Loss(Loss.BinaryCrossEntropy, Target = LossTarget.Input)]
            public partial class Net;
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Errors(output));
        Assert.Contains("global::Compiled.IModel.LossTarget => global::Compiled.LossTarget.Input",
            Assert.Single(result.GeneratedTrees).ToString());
    }

    [Fact]
    public void ExplicitTargetsTargetGeneratesTheSameCodeAsNone()
    {
        const string plain = """
            using Compiled;
            [Input(4)] [Dense(4)] [Loss(Loss.MeanSquaredError)]
            public partial class Net;
            """;
        var (a, _) = GeneratorHarness.Run(plain);
        var (b, _) = GeneratorHarness.Run(plain.Replace("[Loss(Loss.MeanSquaredError)]", "[Loss(Loss.MeanSquaredError, Target = LossTarget.Targets)]"));
        Assert.Empty(b.Diagnostics);
        string code = Assert.Single(a.GeneratedTrees).ToString();
        Assert.Equal(code, Assert.Single(b.GeneratedTrees).ToString());
        Assert.DoesNotContain("LossTarget", code);
    }
}
