using System.Collections.Immutable;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Compiled.Generator.Tests;

/// <summary>
/// Declarations that crashed the generator or made code that did not compile (issue 9, and the cases
/// <see cref="PropertyTests"/> found, shrunk): each now compiles with no error and no warning at warning level 9999, or
/// gets a CMP error at the right place.
/// </summary>
public class DeclarationTests
{
    private const string Layers = "[Input(4)] [Dense(3, Activation.Relu)] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]";

    private static readonly CSharpCompilationOptions s_options = new(OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999);

    /// <summary>Runs the generator on a project referencing Compiled.Gpu (each model gets both files), one file per source.</summary>
    private static (GeneratorRunResult Run, Compilation Output) Run(params string[] sources) => Run(out _, sources);

    private static (GeneratorRunResult Run, Compilation Output) Run(out Compilation input, params string[] sources)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var trees = sources.Select((s, i) => CSharpSyntaxTree.ParseText("using Compiled;\n" + s, GeneratorHarness.ParseOptions, path: $"Model{i}.cs", cancellationToken: ct));
        input = CSharpCompilation.Create("Declarations", trees, GeneratorHarness.References(gpu: true), s_options);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new ModelGenerator().AsSourceGenerator() }, parseOptions: GeneratorHarness.ParseOptions)
            .RunGeneratorsAndUpdateCompilation(input, out Compilation output, out _, ct);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Null(run.Exception);
        foreach (Diagnostic d in run.Diagnostics) TestContext.Current.TestOutputHelper?.WriteLine($"{d.Id}: {d.GetMessage(CultureInfo.InvariantCulture)}");
        return (run, output);
    }

    /// <summary>
    /// No generator diagnostic; the project has no error, and the generated files add no error and no warning (a warning
    /// the user's code has by itself, such as CS8981 for a lower-case class name, stays); returns the hint names.
    /// </summary>
    private static string[] Clean(params string[] sources)
    {
        var (run, output) = Run(out Compilation input, sources);
        Assert.Empty(run.Diagnostics);
        CancellationToken ct = TestContext.Current.CancellationToken;
        var own = input.GetDiagnostics(ct).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.DoesNotContain(own, d => d.Severity == DiagnosticSeverity.Error);
        var problems = output.GetDiagnostics(ct).Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Where(d => !own.Any(o => o.Id == d.Id && o.Location == d.Location)).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(2 * sources.Length, run.GeneratedSources.Length);
        return run.GeneratedSources.Select(g => g.HintName).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Exactly one generator diagnostic, <paramref name="id"/>, at <paramref name="located"/>; no generated file.</summary>
    private static Diagnostic Diagnosed(string source, string id, string located)
    {
        var (run, output) = Run(source);
        Diagnostic d = Assert.Single(run.Diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(located, DiagnosticTests.LocatedText(output, d));
        Assert.Empty(run.GeneratedSources);
        return d;
    }

    // ── names ──

    [Fact]
    public void KeywordClassNameCompilesAndLeavesTheOtherModelsTheirCode()
    {
        // Was CS8785 (hint name '@class.g.cs'), and every model in the project lost its code.
        Assert.Equal(new[] { "Net.Gpu.g.cs", "Net.g.cs", "class.Gpu.g.cs", "class.g.cs" },
            Clean($"{Layers} public partial class @class;", $"{Layers} public partial class Net;"));
    }

    [Theory]
    [InlineData("namespace @class.@int { LAYERS public partial class @void; }", "class.int.void.g.cs")]
    [InlineData("public partial class @event { LAYERS public partial class @int; }", "event+int.g.cs")]
    [InlineData("LAYERS public partial class @record;", "record.g.cs")]
    [InlineData("LAYERS public partial class Résumé;", "Résumé.g.cs")]
    [InlineData("namespace Модели; LAYERS public partial class 模型;", "Модели.模型.g.cs")]
    [InlineData("LAYERS public partial class Net\\u0032;", "Net2.g.cs")]
    [InlineData("LAYERS public partial class net;", "net.g.cs")] // found by the property test: CS8981 in the generated files
    [InlineData("namespace A.B { LAYERS public partial class Net; }", "A.B.Net.g.cs")]
    [InlineData("namespace A.B; LAYERS public partial class Net;", "A.B.Net.g.cs")]
    [InlineData("public partial class Outer { LAYERS public partial class Inner; }", "Outer+Inner.g.cs")]
    [InlineData("public partial struct Box { LAYERS public partial class Inner; }", "Box+Inner.g.cs")]
    [InlineData("public partial record Rec { LAYERS public partial class Inner; }", "Rec+Inner.g.cs")]
    [InlineData("public partial record struct RecS { LAYERS public partial class Inner; }", "RecS+Inner.g.cs")]
    [InlineData("public partial interface IHolder { LAYERS public partial class Inner; }", "IHolder+Inner.g.cs")]
    [InlineData("public static partial class Holder { LAYERS public partial class Inner; }", "Holder+Inner.g.cs")]
    public void UnusualNamesAndPlacesCompile(string source, string hintName)
    {
        string[] names = Clean(source.Replace("LAYERS", Layers, StringComparison.Ordinal));
        Assert.Contains(hintName, names);
        Assert.Contains(hintName.Replace(".g.cs", ".Gpu.g.cs", StringComparison.Ordinal), names);
    }

    [Fact]
    public void SameNameInTwoNamespacesGetsTwoFiles()
    {
        Assert.Equal(new[] { "A.Net.Gpu.g.cs", "A.Net.g.cs", "B.Net.Gpu.g.cs", "B.Net.g.cs" },
            Clean($"namespace A {{ {Layers} public partial class Net; }}", $"namespace B {{ {Layers} public partial class Net; }}"));
    }

    [Fact]
    public void NestedTypeAndNamespaceOfTheSameDottedNameDoNotCrashTheGenerator()
    {
        // Class A.B and namespace A.B cannot coexist (CS0101), but the generator runs on broken code too: their models' files
        // were both A.B.Net.g.cs, and the duplicate hint name (an exception in the compiler) cost every model its code.
        var (run, _) = Run($"namespace A {{ public partial class B {{ {Layers} public partial class Net; }} }}", $"namespace A.B {{ {Layers} public partial class Net; }}");
        Assert.Equal(new[] { "A.B+Net.Gpu.g.cs", "A.B+Net.g.cs", "A.B.Net.Gpu.g.cs", "A.B.Net.g.cs" },
            run.GeneratedSources.Select(g => g.HintName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void NamesDifferingOnlyInCaseGetTwoFiles()
    {
        // Hint names are unique ignoring case: Net and NET (and a.Net's Gpu beside A.Net's twin) are told apart by a hash.
        string[] names = Clean($"{Layers} public partial class Net;", $"{Layers} public partial class NET;",
            $"namespace a.Net {{ {Layers} public partial class Gpu; }}", $"namespace A {{ {Layers} public partial class Net; }}");
        Assert.Equal(8, names.Length);
        Assert.Equal(8, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Contains(names, n => n.StartsWith("Net-", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("NET-", StringComparison.Ordinal));
    }

    [Fact]
    public void ATypeNamedVarDoesNotBreakTheOtherModels()
    {
        // Found by the property test: generated 'var model = new M()' bound 'var' to the user's type.
        Clean($"{Layers} public partial class @var;", $"namespace Demo {{ {Layers} public partial class Net; }}");
    }

    [Theory]
    [InlineData("", "System")]
    [InlineData("", "ILGPU")] // (a global type Compiled breaks 'using Compiled;' itself, which the compiler reports)
    [InlineData("Compiled", "Gpu")]
    [InlineData("Compiled", "CompilerServices")]
    [InlineData("System", "Diagnostics")]
    [InlineData("Compiled", "IModel")] // found by the long property run: a model Compiled.IModel was the IModel every model implemented
    [InlineData("Compiled.CompilerServices", "Dense")]
    public void ATypeNamedLikeANamespaceTheGeneratedCodeUsesIsReported(string ns, string name)
    {
        // Found by the property tests: a global class System (and, in the long run, a class Compiled.Gpu) made every
        // global::System (global::Compiled.Gpu) in the generated files bind to it.
        string type = ns.Length == 0 ? $"public class {name} {{ }}" : $"namespace {ns} {{ public class {name} {{ }} }}";
        var d = Diagnosed($"{type} namespace Demo {{ {Layers} public partial class Net; }}", "CMP045", "Net");
        Assert.Contains($"global::{(ns.Length == 0 ? name : ns + "." + name)}", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("Parameters", "one of the members every model has")]
    [InlineData("Forward", "one of the members every model has")]
    [InlineData("InputSize", "one of the members every model has")]
    [InlineData("GpuTwin", "one of the members every model has")]
    [InlineData("Output", "the view of layers.1 output")]
    [InlineData("Layers0Weight", "the view of layers.0.weight")]
    [InlineData("dLayers0Out", "the view of dL/d(Layers0Out)")]
    [InlineData("GpuLayers0Forward", "the GPU kernel of layers.0")]
    public void AClassNamedLikeAGeneratedMemberIsReported(string name, string what)
    {
        // Was CS0542 in the generated code.
        var d = Diagnosed($"{Layers} public partial class {name};", "CMP040", name);
        Assert.Contains(what, d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AClassNamedLossIsReported()
    {
        Diagnosed("[Input(4)] [Dense(1)] [Loss(Compiled.Loss.MeanSquaredError)] public partial class Loss;", "CMP040", "Loss");
    }

    // ── constructors and base classes ──

    [Fact]
    public void PrimaryConstructorWithParametersIsReported()
    {
        // Was CS8862 in the generated constructor.
        var d = Diagnosed($"{Layers} public partial class M(string name) {{ public string Name => name; }}", "CMP041", "(string name)");
        Assert.Contains("M(int seed = 0)", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void EmptyPrimaryConstructorIsCalled()
    {
        Clean($"{Layers} public partial class M();");
        var (_, output) = Run($"{Layers} public partial class M();");
        Assert.Contains(": this()", output.SyntaxTrees.Single(t => t.FilePath.EndsWith("M.g.cs", StringComparison.Ordinal)).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("public class B { public B(int a) { } }")]
    [InlineData("public class B { private B() { } public B(int a) { } }")]
    public void BaseWithoutAParameterlessConstructorIsReported(string baseClass)
    {
        // Was CS7036 (or CS0122) in the generated constructor.
        var d = Diagnosed($"{baseClass} {Layers} public partial class M : B {{ public M(string s) : base(1) {{ }} }}", "CMP042", "B");
        Assert.Contains("no accessible constructor that takes no arguments", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("public class B { protected B() { } }")]
    [InlineData("public class B { public B(int a = 0) { } }")]
    [InlineData("public class B { protected B(params int[] a) { } }")]
    [InlineData("public abstract class B<T> { private int _parameters; private void Forward() { } }")]
    public void BaseWithACallableConstructorAndNoVisibleClashCompiles(string baseClass)
    {
        string baseType = baseClass.Contains("<T>", StringComparison.Ordinal) ? "B<int>" : "B";
        Clean($"{baseClass} {Layers} public partial class M : {baseType};");
    }

    [Theory]
    [InlineData("namespace Demo; public class B { protected B(params int[] a) { } protected class Gpu { } } LAYERS internal partial class Gpu : B;")]
    [InlineData("public class B { public class Net { } } public partial class Outer { LAYERS public partial class Net : B; }")]
    public void BaseMemberWithTheModelsNameCompiles(string source)
    {
        // Found by the long property run: inside model Gpu, 'Gpu' meant the base class's nested Gpu (CS0050, CS1729 in Load).
        Clean(source.Replace("LAYERS", Layers, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("public int InputSize;", "InputSize")]                       // was CS0108 (a warning) in the generated code
    [InlineData("public void Forward() { }", "Forward")]
    [InlineData("public virtual void Initialize(int seed) { }", "Initialize")] // was CS0114
    [InlineData("protected int Layers0Weight;", "Layers0Weight")]
    [InlineData("protected class GpuKernels { }", "GpuKernels")]
    public void BaseMemberAGeneratedOneWouldHideIsReported(string member, string name)
    {
        var d = Diagnosed($"public class B {{ {member} }} {Layers} public partial class M : B;", "CMP043", "B");
        Assert.Contains($"'{name}'", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("public int Forward;", "Forward")]
    [InlineData("void Layers0Out() { }", "Layers0Out")]
    [InlineData("private static int s_layers0Shape;", "s_layers0Shape")]
    public void OwnMemberAGeneratedOneWouldClashWithIsReported(string member, string located)
    {
        string layers = located == "s_layers0Shape"
            ? "[Input(4, 4, 1)] [Conv2D(2, 3)] [Flatten] [Dense(1)] [Loss(Loss.MeanSquaredError)]" : Layers;
        Diagnosed($"{layers} public partial class M {{ {member} }}", "CMP008", located);
    }

    [Fact]
    public void GenericOuterClassIsReportedOnce()
    {
        var d = Diagnosed($"public partial class Outer<T> {{ {Layers} public partial class Inner; }}", "CMP008", "Inner");
        Assert.Contains("nested in 'Outer': it is generic", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("LAYERS file partial class M { static void U() { M m = new(1); } }", "M", "it is file-local")]
    [InlineData("file partial class O { LAYERS public partial class M; }", "M", "nested in 'O': it is file-local")]
    public void FileLocalModelIsReported(string source, string located, string expected)
    {
        // The generated part of a file-local class would be another class, in another file: the user's 'new M(1)' failed.
        var (run, output) = Run(source.Replace("LAYERS", Layers, StringComparison.Ordinal));
        Diagnostic d = Assert.Single(run.Diagnostics);
        Assert.Equal("CMP008", d.Id);
        Assert.Equal(located, DiagnosticTests.LocatedText(output, d));
        Assert.Contains(expected, d.GetMessage(CultureInfo.InvariantCulture));
        Assert.Empty(run.GeneratedSources);
    }

    // ── layer names ──

    [Theory]
    [InlineData("[Dense(3, Name = \"x\")] [Dense(2, Name = \"dX\")]")]
    [InlineData("[Dense(3)] [Dense(2, Name = \"dLayers.0\")]")]
    [InlineData("[Dense(3, Name = \"loss\")] [Dense(2, Name = \"seed\")]")]
    [InlineData("[Dense(3, Name = \"output\")] [Dense(2, Name = \"t\")]")]
    public void LayerNamesThatLookAlikeCompile(string layers)
    {
        // Views are PascalCase and gradients d + PascalCase, so x/dX and layers.0/dLayers.0 make different identifiers.
        Clean($"[Input(4)] {layers} [Loss(Loss.MeanSquaredError)] public partial class M;");
    }

    [Fact]
    public void LayerNamesWhoseGeneratedIdentifiersCollideAreReported()
    {
        // Conv2D "a"'s GPU kernel AActivationBackward is Dense "aActivation"'s Backward kernel: the twin launched the wrong one.
        var d = Diagnosed("""
            [Input(4, 4, 1)] [Conv2D(2, 3, Activation.Relu, Name = "a")] [Flatten] [Dense(2, Name = "aActivation")] [Loss(Loss.MeanSquaredError)]
            public partial class M;
            """, "CMP044", "Dense(2, Name = \"aActivation\")");
        Assert.Contains("GpuAActivationBackward", d.GetMessage(CultureInfo.InvariantCulture));
        Assert.Contains("layer 'a'", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void TwinMembersListMatchesTheGpuTwinClass()
    {
        // The checker keeps the GPU twin base class's member names (the generator cannot see Compiled.Gpu): keep them in step.
        var actual = typeof(Compiled.Gpu.GpuTwin).GetMembers(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic
                | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static)
            .Where(m => m is System.Reflection.MethodBase { IsPrivate: false, IsAssembly: false } and not System.Reflection.ConstructorInfo
                || m is System.Reflection.FieldInfo { IsPrivate: false, IsAssembly: false }
                || m is System.Reflection.PropertyInfo p && (p.GetMethod ?? p.SetMethod) is { IsPrivate: false, IsAssembly: false })
            .Select(m => m.Name).Where(n => !n.Contains('_', StringComparison.Ordinal) && !n.Contains('.', StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Empty(actual.Except(Checker.TwinMembers));
    }
}
