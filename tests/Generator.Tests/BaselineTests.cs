using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Tests;

/// <summary>
/// Snapshot tests: the generated file for each model is compared with a checked-in baseline under
/// Baselines/&lt;Test&gt;/&lt;HintName&gt;. Set UPDATE_BASELINES=1 to rewrite them, then review the diff.
/// </summary>
public class BaselineTests
{
    public static TheoryData<string> Models => new(ModelSources.All.Keys);

    [Theory]
    [MemberData(nameof(Models))]
    public void GeneratedCodeMatchesBaseline(string model) => MatchesBaseline(model, gpu: false);

    /// <summary>In a project that references Compiled.Gpu, each model also gets its GPU twin (Baselines/&lt;Model&gt;.Gpu/).</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void GpuTwinMatchesBaseline(string model) => MatchesBaseline(model, gpu: true);

    [Fact]
    public void GpuTwinIsEmittedOnlyWhenTheProjectReferencesCompiledGpu()
    {
        string source = ModelSources.All["MnistMlp"];
        Assert.Equal(new[] { "Demo.MnistMlp.g.cs" },
            GeneratorHarness.Run(gpu: false, source).Result.Results.Single().GeneratedSources.Select(g => g.HintName));
        Assert.Equal(new[] { "Demo.MnistMlp.Gpu.g.cs", "Demo.MnistMlp.g.cs" },
            GeneratorHarness.Run(gpu: true, source).Result.Results.Single().GeneratedSources.Select(g => g.HintName).Order(StringComparer.Ordinal));
    }

    private static void MatchesBaseline(string model, bool gpu)
    {
        var (result, output) = GeneratorHarness.Run(gpu, ModelSources.All[model]);

        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Errors(output));
        var generated = result.Results.Single().GeneratedSources;
        Assert.NotEmpty(generated);
        if (gpu)
        {
            // The CPU file does not change when Compiled.Gpu is referenced: it matches the CPU baseline, which
            // GeneratedCodeMatchesBaseline keeps; the GPU folder holds only the twin.
            GeneratedSourceResult cpu = generated.Single(g => !g.HintName.EndsWith(".Gpu.g.cs", StringComparison.Ordinal));
            string cpuBaseline = Path.Combine(SourceDirectory(), "Baselines", model, cpu.HintName);
            if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") != "1")
                Assert.Equal(Normalize(File.ReadAllText(cpuBaseline)), Normalize(cpu.SourceText.ToString()));
            generated = generated.Where(g => g.HintName.EndsWith(".Gpu.g.cs", StringComparison.Ordinal)).ToImmutableArray();
        }

        string directory = Path.Combine(SourceDirectory(), "Baselines", gpu ? model + ".Gpu" : model);
        bool update = Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1";
        if (update)
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            Directory.CreateDirectory(directory);
        }

        var expectedFiles = Directory.Exists(directory)
            ? Directory.GetFiles(directory).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList()
            : new List<string>();
        var actualFiles = generated.Select(g => g.HintName).Order(StringComparer.Ordinal).ToList();
        foreach (GeneratedSourceResult source in generated)
        {
            string path = Path.Combine(directory, source.HintName);
            string actual = Normalize(source.SourceText.ToString());
            if (update)
            {
                File.WriteAllText(path, actual);
                continue;
            }
            Assert.True(File.Exists(path),
                $"No baseline for {source.HintName} at {path}. Run the tests with UPDATE_BASELINES=1 and review the new file.");
            string expected = Normalize(File.ReadAllText(path));
            if (expected != actual)
            {
                int line = FirstDifferentLine(expected, actual);
                Assert.Fail($"{source.HintName} differs from its baseline at line {line}.\n" +
                    $"expected: {Line(expected, line)}\nactual:   {Line(actual, line)}\n" +
                    "If the change is intended, run with UPDATE_BASELINES=1 and review the diff.");
            }
        }
        if (!update) Assert.Equal(expectedFiles, actualFiles);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void GenerationIsDeterministic(string model)
    {
        string first = GeneratorHarness.Run(ModelSources.All[model]).Result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        string second = GeneratorHarness.Run(ModelSources.All[model]).Result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        Assert.Equal(first, second);
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimEnd('\n') + "\n";

    private static int FirstDifferentLine(string a, string b)
    {
        string[] x = a.Split('\n'), y = b.Split('\n');
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
            if (x[i] != y[i]) return i + 1;
        return Math.Min(x.Length, y.Length) + 1;
    }

    private static string Line(string text, int line)
    {
        string[] lines = text.Split('\n');
        return line <= lines.Length ? lines[line - 1] : "<end of file>";
    }

    /// <summary>The test project's source folder, where baselines are checked in.</summary>
    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "")
        => Path.GetDirectoryName(path)!;
}
