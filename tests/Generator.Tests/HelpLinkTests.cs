using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Compiled.Generator.Tests;

/// <summary>
/// Every diagnostic links to its section of the README (<c>README.md#cmpNNN</c>): each descriptor's anchor is a heading
/// there, the base comes from the build's properties (<c>CompiledHelpBase</c>, else <c>CompiledReadmePath</c> as a
/// <c>file://</c> URI, else <c>README.md</c>), a change of base does not re-run the parse, and the README's examples give
/// the ids they document.
/// </summary>
public partial class HelpLinkTests
{
    private const string Broken = """
        using Compiled;
        namespace Demo;
        [Input(4)] [Dense(0)] [Loss(Loss.MeanSquaredError)]
        public partial class Net;
        """;

    private static string Readme { get; } = File.ReadAllText(Path.Combine(FindRoot(), "README.md"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Compiled.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Compiled.sln not found above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^#{1,6}[ \t]+(.+?)[ \t#]*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    /// <summary>The anchor GitHub (and most Markdown renderers) give a heading: lower case, punctuation dropped, spaces to '-'.</summary>
    private static string Anchor(string heading)
    {
        var anchor = new StringBuilder();
        foreach (char c in heading.Trim().ToLowerInvariant())
            if (char.IsLetterOrDigit(c) || c is '-' or '_') anchor.Append(c);
            else if (c == ' ') anchor.Append('-');
        return anchor.ToString();
    }

    private static HashSet<string> ReadmeAnchors() =>
        Heading().Matches(Readme.Replace("\r\n", "\n")).Select(m => Anchor(m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void EveryDescriptorLinksToAHeadingOfTheReadme()
    {
        HashSet<string> anchors = ReadmeAnchors();
        var ids = DiagnosticDescriptors.All.Select(d => d.Id).ToList();
        Assert.True(ids.Count >= 25, $"only {ids.Count} descriptors");
        foreach (DiagnosticDescriptor descriptor in DiagnosticDescriptors.All)
        {
            string link = DiagnosticDescriptors.WithHelpLink(descriptor, HelpLinks.DefaultBase).HelpLinkUri;
            Assert.Equal("README.md#" + descriptor.Id.ToLowerInvariant(), link);
            Assert.True(anchors.Contains(link[(link.IndexOf('#') + 1)..]), $"README.md has no heading '{descriptor.Id}' for {link}");
        }

        // And no section for an id that no longer exists: the README's CMP headings are exactly the descriptors.
        var documented = anchors.Where(a => Regex.IsMatch(a, "^cmp[0-9]{3}$")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(ids.Select(i => i.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList(), documented);
        // The summary table's links land on those headings too.
        foreach (Match link in Regex.Matches(Readme, @"\]\(#(cmp[0-9]{3})\)"))
            Assert.Contains(link.Groups[1].Value, anchors);
        TestContext.Current.TestOutputHelper?.WriteLine($"{ids.Count} descriptors, each with a README heading: {string.Join(", ", ids)}");
    }

    [Fact]
    public void ReportedDiagnosticsLinkToTheReadmeWhenTheBuildNamesNone()
    {
        var (result, _) = GeneratorHarness.Run(Broken);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("CMP005", diagnostic.Id);
        Assert.Equal("README.md#cmp005", diagnostic.Descriptor.HelpLinkUri);
    }

    [Theory]
    [InlineData("https://example.invalid/compiled/blob/0123abcd/README.md", null, "https://example.invalid/compiled/blob/0123abcd/README.md#cmp005")]
    [InlineData(" https://example.invalid/docs/README.md ", "/pkgs/compiled/0.1.0/README.md", "https://example.invalid/docs/README.md#cmp005")]
    [InlineData(null, "/home/me/.nuget/packages/compiled/0.1.0/README.md", "file:///home/me/.nuget/packages/compiled/0.1.0/README.md#cmp005")]
    [InlineData("", "/home/a user/compiled/README.md", "file:///home/a%20user/compiled/README.md#cmp005")]
    // Not an absolute path (no MSBuild would pass one, but the generator must not throw): the default.
    [InlineData(null, "docs/README.md", "README.md#cmp005")]
    [InlineData(null, null, "README.md#cmp005")]
    public void TheBuildsBaseIsUsed(string? helpBase, string? readmePath, string expected)
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Broken);
        GeneratorDriver driver = CreateDriver(Options(helpBase, readmePath)).RunGenerators(compilation, TestContext.Current.CancellationToken);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(expected, diagnostic.Descriptor.HelpLinkUri);
    }

    [Fact]
    public void AWindowsPathBecomesAFileUri()
    {
        // Uri parses a drive-letter path the same on every OS, so this runs everywhere.
        Assert.Equal("file:///C:/Users/me/.nuget/packages/compiled/0.1.0/README.md",
            HelpLinks.FileUri(@"C:\Users\me\.nuget\packages\compiled\0.1.0\README.md"));
    }

    [Fact]
    public void ChangingTheBaseRelinksTheDiagnosticsWithoutReparsing()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(Broken);
        GeneratorDriver driver = CreateDriver(Options("https://example.invalid/a/README.md", null))
            .RunGenerators(compilation, TestContext.Current.CancellationToken);
        Assert.Equal("https://example.invalid/a/README.md#cmp005", driver.GetRunResult().Diagnostics.Single().Descriptor.HelpLinkUri);

        driver = driver.WithUpdatedAnalyzerConfigOptions(Options("https://example.invalid/b/README.md", null))
            .RunGenerators(compilation, TestContext.Current.CancellationToken);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Equal("https://example.invalid/b/README.md#cmp005", result.Diagnostics.Single().Descriptor.HelpLinkUri);
        foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[ModelGenerator.ParseStep])
        foreach (var (_, reason) in step.Outputs)
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"the parse ran again ({reason})");

        // The same base again: the help-link step and the diagnostics output stay cached.
        driver = driver.WithUpdatedAnalyzerConfigOptions(Options("https://example.invalid/b/README.md", null))
            .RunGenerators(compilation.Clone(), TestContext.Current.CancellationToken);
        result = driver.GetRunResult().Results.Single();
        foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[ModelGenerator.HelpLinkStep])
        foreach (var (_, reason) in step.Outputs)
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"the help link changed ({reason})");
    }

    /// <summary>
    /// The README's example for each id, completed into a class, gives that id (so the documentation cannot drift from
    /// the checks).
    /// </summary>
    [Theory]
    [InlineData("CMP001", "[Input(4)] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)] public class Net { }")]
    [InlineData("CMP002", "[Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)] public partial class Net;")]
    [InlineData("CMP003", "[Input(4)] [Dense(1)] public partial class Net;")]
    [InlineData("CMP004", "[Input(4)] [Dense(10)] [Loss(Loss.SparseCategoricalCrossEntropy)] public partial class Net;")]
    [InlineData("CMP005", "[Input(0)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP005", "[Input(8, 8, 1)] [Conv2D(32, 0)] [Flatten] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP005", "[Input(5, 3)] [Lstm(-1)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP006", "[Input(4)] [Dense(8, Activation.Relu)] [Loss(Loss.MeanSquaredError)] partial class Net; [Dense(1)] partial class Net;")]
    [InlineData("CMP008", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public static partial class Net;")]
    [InlineData("CMP008", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net<T>;")]
    [InlineData("CMP008", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial record Net;")]
    [InlineData("CMP008", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public abstract partial class Net;")]
    [InlineData("CMP009", "[Input(4)] [Dense(1, (Activation)42)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP010", "[Input(4)] [Dense(1, Name = \"enc oder\")] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP011", "[Dense(10)] [Input(4)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP012", "[Input(4)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP013", "[Input(28, 28, 1)] [Dense(10, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)] public partial class Net;")]
    [InlineData("CMP013", "[Input(784)] [Lstm(64)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP013", "[Input(4, 4, 1)] [MaxPool2D(8)] [Flatten] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP014", "[Input(100000)] [Dense(100000)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP015", "[Input(4)] [Dense(10, L2 = -1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP015", "[Input(4)] [Dense(10)] [Dropout(1.5)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP015", "[Input(4)] [Dense(10)] [BatchNorm(Momentum = 2)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP015", "[Input(4)] [Dense(10)] [BatchNorm(Eps = 0)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP025", "[Input(64)] [Dense(64)] [Embedding(65, 32)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP026", "[Input(64, 2)] [Embedding(65, 32)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    [InlineData("CMP030", "[Input(784)] [Dense(32)] [Dense(10, Activation.Sigmoid)] [Loss(Loss.MeanSquaredError, Target = LossTarget.Input)] public partial class Net;")]
    [InlineData("CMP031", "[Input(4)] [Dense(4, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy, Target = LossTarget.Input)] public partial class Net;")]
    [InlineData("CMP040", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Forward;")]
    [InlineData("CMP041", "[Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net(int size);")]
    [InlineData("CMP042", "public class Base { public Base(int x) { } } [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net : Base;")]
    [InlineData("CMP043", "public class Base { public int InputSize => 3; } [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net : Base;")]
    [InlineData("CMP044", "[Input(4, 4, 1)] [Conv2D(2, 3, Activation.Relu, Name = \"a\")] [Flatten] [Dense(2, Name = \"aActivation\")] [Loss(Loss.MeanSquaredError)] public partial class Net;")]
    public void ReadmeExamplesGiveTheirIds(string id, string declaration)
    {
        var (result, _) = GeneratorHarness.Run("using Compiled;\nnamespace Demo;\n" + declaration);
        Assert.Contains(id, result.Diagnostics.Select(d => d.Id));
        Assert.All(result.Diagnostics, d => Assert.Equal("README.md#" + d.Id.ToLowerInvariant(), d.Descriptor.HelpLinkUri));
    }

    [Theory]
    [InlineData("public class System { } namespace Demo { [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net; }")]
    [InlineData("namespace Compiled { public class Gpu { } } namespace Demo { [Input(4)] [Dense(1)] [Loss(Loss.MeanSquaredError)] public partial class Net; }")]
    public void ReadmeExamplesOfCmp045GiveIt(string source)
    {
        var (result, _) = GeneratorHarness.Run("using Compiled;\n" + source);
        Assert.Contains("CMP045", result.Diagnostics.Select(d => d.Id));
    }

    private static GeneratorDriver CreateDriver(AnalyzerConfigOptionsProvider options) => CSharpGeneratorDriver.Create(
        [new ModelGenerator().AsSourceGenerator()],
        parseOptions: GeneratorHarness.ParseOptions,
        optionsProvider: options,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    private static TestOptionsProvider Options(string? helpBase, string? readmePath)
    {
        var values = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.OrdinalIgnoreCase);
        if (helpBase is not null) values[HelpLinks.BaseProperty] = helpBase;
        if (readmePath is not null) values[HelpLinks.ReadmePathProperty] = readmePath;
        return new TestOptionsProvider(new TestOptions(values.ToImmutable()));
    }

    /// <summary>What MSBuild hands the generator: <c>build_property.*</c> in the global options.</summary>
    private sealed class TestOptions(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
            => values.TryGetValue(key, out value);
    }

    private sealed class TestOptionsProvider(AnalyzerConfigOptions global) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions => global;
        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => global;
        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => global;
    }
}
