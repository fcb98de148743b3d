using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Tests;

/// <summary>The generator never throws and never emits code that fails to compile, whatever the user typed.</summary>
public class RobustnessTests
{
    public static TheoryData<string> Broken => new()
    {
        // Arguments the compiler itself rejects: it reports them, we stay silent and emit nothing broken.
        "[Input(\"784\")] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)] public partial class Net;",
        "[Input(784)] [Dense] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Dense(10, 3.5)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Dense(10)] [Loss] public partial class Net;",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Input(10)] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input()] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Dense(int.MaxValue)] [Dense(int.MaxValue)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Dense(10, Name = null)] [Loss(Loss.MeanSquaredError)] public partial class Net;",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial class Net { public Net(int seed = 0) { } }",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial class Net : System.IDisposable;",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial struct Net;",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] public partial class",
        "[Input(784)] [Dense(10)] [Loss(Loss.MeanSquaredError)] partial class Net { void M() { var m = new Net(); m.Forward(null, null, 0); } }",
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void GeneratedCodeNeverHasErrors(string source)
    {
        // GeneratorHarness.Run asserts the generator did not throw.
        var (result, output) = GeneratorHarness.Run("using Compiled;\n" + source);
        var generatedErrors = output.GetDiagnostics(TestContext.Current.CancellationToken)
            .Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath.EndsWith(".g.cs") == true)
            .ToList();
        foreach (Diagnostic d in result.Diagnostics.Concat(output.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity == DiagnosticSeverity.Error)))
            TestContext.Current.TestOutputHelper?.WriteLine($"{d.Id}: {d.GetMessage()}");
        Assert.True(generatedErrors.Count == 0 || result.Diagnostics.Any(), string.Join("\n", generatedErrors));
        Assert.Empty(generatedErrors);
    }
}
