using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Compiled.Generator.Tests;

/// <summary>Runs the real generator through <see cref="CSharpGeneratorDriver"/> on source text.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    {
        // The framework's reference set plus the Compiled runtime.
        string trusted = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var references = trusted.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("System.", StringComparison.Ordinal) || f is "mscorlib.dll" or "netstandard.dll"))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
        references.Add(MetadataReference.CreateFromFile(typeof(IModel).Assembly.Location));
        return references.ToImmutableArray();
    });

    /// <summary>The same, plus Compiled.Gpu and ILGPU: a project that references the GPU package.</summary>
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_gpuReferences = new(() => s_references.Value.AddRange(new[]
    {
        MetadataReference.CreateFromFile(typeof(Compiled.Gpu.GpuDevice).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(ILGPU.Context).Assembly.Location),
    }));

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Preview);

    /// <summary>The reference set of a project (with <paramref name="gpu"/>, one that also references Compiled.Gpu).</summary>
    public static ImmutableArray<MetadataReference> References(bool gpu) => gpu ? s_gpuReferences.Value : s_references.Value;

    public static CSharpCompilation Compile(params string[] sources) => Compile(gpu: false, sources);

    public static CSharpCompilation Compile(bool gpu, params string[] sources) => CSharpCompilation.Create(
        "TestAssembly",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Model{i}.cs")),
        gpu ? s_gpuReferences.Value : s_references.Value,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver() => CSharpGeneratorDriver.Create(
        new[] { new ModelGenerator().AsSourceGenerator() },
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns its result and the compilation with the generated files added.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(params string[] sources) => Run(gpu: false, sources);

    /// <summary>As <see cref="Run(string[])"/>; with <paramref name="gpu"/>, the project references Compiled.Gpu.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(bool gpu, params string[] sources)
    {
        CSharpCompilation input = Compile(gpu, sources);
        GeneratorDriver driver = CreateDriver().RunGeneratorsAndUpdateCompilation(input, out Compilation output, out _, TestContext.Current.CancellationToken);
        GeneratorDriverRunResult result = driver.GetRunResult();
        foreach (GeneratorRunResult run in result.Results)
            Assert.Null(run.Exception); // the generator never throws
        return (result, output);
    }

    /// <summary>Errors in the output compilation (the user's code and the generated code together).</summary>
    public static IReadOnlyList<Diagnostic> Errors(Compilation output) =>
        output.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
}
