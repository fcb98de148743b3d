using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Compiled.Generator.Tests;

/// <summary>
/// The pipeline caches: re-running on a cloned compilation, or after an unrelated edit, reuses every step, and
/// no step's output holds a symbol, syntax node or compilation (which would defeat caching and leak memory).
/// </summary>
public class IncrementalityTests
{
    private const string Model = """
        using Compiled;
        namespace Demo;
        [Input(784)] [Dense(128, Activation.Relu)] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
        public partial class MnistMlp;
        """;

    [Fact]
    public void RerunOnClonedCompilationIsCached()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Model);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);
        GeneratorRunResult first = driver.GetRunResult().Results.Single();
        Assert.Single(first.GeneratedSources);

        driver = driver.RunGenerators(compilation.Clone(), TestContext.Current.CancellationToken);
        GeneratorRunResult second = driver.GetRunResult().Results.Single();

        AssertAllCached(second);
        AssertNoCompilerObjects(first);
    }

    [Fact]
    public void UnrelatedEditIsCached()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Model);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Demo; public class Unrelated { public int X => 42; }", GeneratorHarness.ParseOptions, path: "Other.cs", cancellationToken: TestContext.Current.CancellationToken));
        driver = driver.RunGenerators(edited, TestContext.Current.CancellationToken);

        AssertAllCached(driver.GetRunResult().Results.Single());
    }

    [Fact]
    public void ChangingALayerRegenerates()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Model);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        var changed = compilation.ReplaceSyntaxTree(old,
            CSharpSyntaxTree.ParseText(Model.Replace("Dense(128", "Dense(64"), GeneratorHarness.ParseOptions, path: old.FilePath, cancellationToken: TestContext.Current.CancellationToken));

        driver = driver.RunGenerators(changed, TestContext.Current.CancellationToken);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        var reasons = result.TrackedSteps[ModelGenerator.ParseStep].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, reasons);
        Assert.Contains("ParameterCount = 50890", result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void BlankLineAboveTheModelKeepsTheModelAndTheEmitCached()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Model);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(
            Model.Replace("namespace Demo;\n", "namespace Demo;\n\n"), GeneratorHarness.ParseOptions, path: old.FilePath,
            cancellationToken: TestContext.Current.CancellationToken));

        driver = driver.RunGenerators(edited, TestContext.Current.CancellationToken);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        // Whether or not the parse re-ran on the edited tree, its result (no location in the model) is the same, so the model
        // and the emitted source stay cached.
        AssertAllCached(result);
    }

    [Fact]
    public void DiagnosticsFollowTheAttributeAfterABlankLine()
    {
        string broken = Model.Replace("Dense(128", "Dense(0");
        CSharpCompilation compilation = GeneratorHarness.Compile(broken);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);
        Diagnostic before = Assert.Single(driver.GetRunResult().Diagnostics);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(
            broken.Replace("namespace Demo;\n", "namespace Demo;\n\n"), GeneratorHarness.ParseOptions, path: old.FilePath,
            cancellationToken: TestContext.Current.CancellationToken));

        driver = driver.RunGenerators(edited, TestContext.Current.CancellationToken);
        Diagnostic after = Assert.Single(driver.GetRunResult().Diagnostics);

        Assert.Equal("CMP005", after.Id);
        Assert.Equal(before.Location.GetLineSpan().StartLinePosition.Line + 1, after.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal("Dense(0, Activation.Relu)", edited.SyntaxTrees.Single().GetText(TestContext.Current.CancellationToken).ToString(after.Location.SourceSpan));
    }

    private static void AssertAllCached(GeneratorRunResult result)
    {
        Assert.NotEmpty(result.TrackedSteps[ModelGenerator.ParseStep]);
        // Our own steps (Roslyn's built-in ones, such as 'Compilation', change with every edit by design).
        foreach (var (name, steps) in result.TrackedSteps.Where(s => s.Key.StartsWith("Compiled.", StringComparison.Ordinal)))
        foreach (IncrementalGeneratorRunStep step in steps)
        foreach (var (_, reason) in step.Outputs)
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                $"step '{name}' ran again ({reason})");
        foreach (var (name, steps) in result.TrackedOutputSteps)
        foreach (IncrementalGeneratorRunStep step in steps)
        foreach (var (_, reason) in step.Outputs)
            Assert.True(reason is IncrementalStepRunReason.Cached, $"output step '{name}' ran again ({reason})");
    }

    /// <summary>Walks every tracked step's output and rejects Roslyn objects held in the models.</summary>
    private static void AssertNoCompilerObjects(GeneratorRunResult result)
    {
        foreach (var (name, steps) in result.TrackedSteps.Where(s => s.Key.StartsWith("Compiled.", StringComparison.Ordinal)))
        foreach (IncrementalGeneratorRunStep step in steps)
        foreach (var (value, _) in step.Outputs)
            Visit(value, name, new HashSet<object>(ReferenceEqualityComparer.Instance));
    }

    private static void Visit(object? node, string step, HashSet<object> seen)
    {
        if (node is null || node is string || node.GetType().IsPrimitive || node.GetType().IsEnum) return;
        if (!seen.Add(node)) return;
        Assert.False(node is ISymbol or SyntaxNode or Compilation or SemanticModel or Location,
            $"step '{step}' holds a {node.GetType().Name}");
        if (node is IEnumerable items)
        {
            foreach (object? item in items) Visit(item, step, seen);
            return;
        }
        if (node.GetType().Namespace?.StartsWith("Compiled", StringComparison.Ordinal) != true) return;
        foreach (FieldInfo field in node.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            Visit(field.GetValue(node), step, seen);
    }
}
