using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;

namespace Compiled.Integration.Tests.Packaging;

/// <summary>
/// The package as a user gets it: <c>dotnet pack src/Runtime</c> into a temporary feed, then a fresh console
/// project outside the repository references package <c>Compiled</c>, declares a model with the attributes,
/// trains it with <c>Fit</c> and prints its loss before and after. Slow (a pack, a restore and two builds), so
/// it is the only test of its kind. It needs the package registry for the runtime's own dependencies.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private const string PackageVersion = "0.1.0";

    /// <summary>
    /// What a publisher passes as <c>-p:RepositoryUrl=</c>: a reserved, never-resolving name (RFC 2606), because this
    /// repository knows no public address; the test checks that the property reaches the nuspec.
    /// </summary>
    private const string PublisherRepositoryUrl = "https://example.invalid/compiled.git";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(8);

    private readonly string _work = Path.Combine(Path.GetTempPath(), "compiled-package-test-" + Guid.NewGuid().ToString("N")[..12]);

    public PackageTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // A build server may still hold a file for a moment; the temp folder is cleaned by the OS.
        }
    }

    [Fact(Timeout = 20 * 60 * 1000)]
    public async Task Package_carries_runtime_and_generator_and_a_fresh_project_trains_with_it()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        string feed = Path.Combine(_work, "feed");
        string consumer = Path.Combine(_work, "consumer");
        // A private package folder: a Compiled 0.1.0 cached by an earlier pack is never used.
        string packages = Path.Combine(_work, "packages");

        // 1. Pack the runtime (the generator rides along as an analyzer).
        await Dotnet(RepoPaths.Root, cancel, "pack", Path.Combine("src", "Runtime"), "-c", "Release", "-o", feed, $"-p:RepositoryUrl={PublisherRepositoryUrl}");
        string nupkg = Path.Combine(feed, $"Compiled.{PackageVersion}.nupkg");
        Assert.True(File.Exists(nupkg), $"dotnet pack made no {nupkg}; the feed holds: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");

        // 2. The package's layout and its dependencies.
        string commit;
        using (ZipArchive zip = ZipFile.OpenRead(nupkg))
        {
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains("lib/net10.0/Compiled.dll", entries);
            Assert.Contains("analyzers/dotnet/cs/Compiled.Generator.dll", entries);
            Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.EndsWith("Compiled.Generator.dll", StringComparison.Ordinal));
            // What makes it look maintained: its README, its license text, the XML docs for IntelliSense.
            Assert.Contains("README.md", entries);
            Assert.Contains("LICENSE", entries);
            Assert.Contains("lib/net10.0/Compiled.xml", entries);
            using (var licenseText = new StreamReader(zip.GetEntry("LICENSE")!.Open()))
                Assert.StartsWith("MIT License", licenseText.ReadToEnd(), StringComparison.Ordinal);
            using (var docs = zip.GetEntry("lib/net10.0/Compiled.xml")!.Open())
            {
                XDocument xml = XDocument.Load(docs);
                int members = xml.Descendants("member").Count();
                Assert.True(members > 200, $"Compiled.xml documents only {members} members.");
                Assert.Contains(xml.Descendants("member"), m => (string?)m.Attribute("name") == "T:Compiled.ModelExtensions");
            }

            ZipArchiveEntry nuspecEntry = Assert.Single(zip.Entries, e => e.FullName == "Compiled.nuspec");
            XDocument nuspec;
            using (Stream s = nuspecEntry.Open()) nuspec = XDocument.Load(s);
            XNamespace ns = nuspec.Root!.Name.Namespace;
            XElement metadata = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal("Compiled", metadata.Element(ns + "id")?.Value);
            Assert.Equal(PackageVersion, metadata.Element(ns + "version")?.Value);
            string[] dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToArray();
            // The generator is inside the package, not a dependency a consumer would fail to find.
            Assert.DoesNotContain("Compiled.Generator", dependencies);
            Assert.Contains("System.Numerics.Tensors", dependencies);
            // SourceLink tooling is a build-time dependency only.
            Assert.DoesNotContain(dependencies, d => d.StartsWith("Microsoft.SourceLink", StringComparison.Ordinal));

            XElement license = metadata.Element(ns + "license")!;
            Assert.Equal(("expression", "MIT"), ((string?)license?.Attribute("type"), license?.Value));
            Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
            Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
            Assert.Contains("source-generator", metadata.Element(ns + "tags")?.Value.Split(' ') ?? []);
            XElement repository = metadata.Element(ns + "repository")!;
            Assert.NotNull(repository);
            Assert.Equal("git", (string?)repository.Attribute("type"));
            Assert.Equal(PublisherRepositoryUrl, (string?)repository.Attribute("url"));
            // The commit the package was built from (SourceLink reads it from git).
            Assert.Matches("^[0-9a-f]{40}$", (string?)repository.Attribute("commit") ?? "");
            commit = (string)repository.Attribute("commit")!;

            // The diagnostics' help links: that commit's README on the repository's site, beside build/Compiled.targets,
            // and the README itself (inside the package, the links' fallback) with a heading per id.
            foreach (string folder in new[] { "build", "buildTransitive" })
            {
                using var helpLink = new StreamReader(zip.GetEntry($"{folder}/Compiled.HelpLink.targets")!.Open());
                Assert.Contains($"<CompiledPackageHelpBase>{PublisherRepositoryUrl[..^".git".Length]}/blob/{commit}/README.md</CompiledPackageHelpBase>",
                    helpLink.ReadToEnd(), StringComparison.Ordinal);
                using var targets = new StreamReader(zip.GetEntry($"{folder}/Compiled.targets")!.Open());
                Assert.Contains("<CompilerVisibleProperty Include=\"CompiledHelpBase\" />", targets.ReadToEnd(), StringComparison.Ordinal);
            }
            using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
                Assert.Contains("\n### CMP005\n", readme.ReadToEnd().Replace("\r\n", "\n"), StringComparison.Ordinal);
        }

        // 2b. The symbol package: the runtime's portable pdb, beside the package.
        string snupkg = Path.Combine(feed, $"Compiled.{PackageVersion}.snupkg");
        Assert.True(File.Exists(snupkg), $"dotnet pack made no {snupkg}; the feed holds: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
        using (ZipArchive symbols = ZipFile.OpenRead(snupkg))
        {
            ZipArchiveEntry pdb = Assert.Single(symbols.Entries, e => e.FullName == "lib/net10.0/Compiled.pdb");
            using var stream = new MemoryStream();
            using (Stream s = pdb.Open()) s.CopyTo(stream);
            stream.Position = 0;
            using var provider = System.Reflection.Metadata.MetadataReaderProvider.FromPortablePdbStream(stream);
            System.Reflection.Metadata.MetadataReader reader = provider.GetMetadataReader();
            Assert.True(reader.Documents.Count > 50, $"the pdb lists {reader.Documents.Count} source documents");
        }

        // 3. A fresh console project outside the repository (no Directory.Build.props, no project references).
        Directory.CreateDirectory(consumer);
        // No <clear/>: the machine's configured sources (the registry) stay, for the package's own dependencies.
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="compiled-test-feed" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Compiled" Version="{PackageVersion}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);

        // 4. Restore, build and run it; it prints the loss before and after training.
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packages };
        string build = await Dotnet(consumer, cancel, environment, "build", "-c", "Release");
        // The generated code compiles cleanly in a user's project (nullable on, implicit usings).
        string[] warnings = build.Split('\n').Where(l => l.Contains("warning CS", StringComparison.Ordinal) || l.Contains("warning CMP", StringComparison.Ordinal))
            .Select(l => l.Trim()).Distinct().ToArray();
        Assert.True(warnings.Length == 0, $"Building the consumer warned:{Environment.NewLine}{string.Join(Environment.NewLine, warnings)}");
        string output = await Dotnet(consumer, cancel, environment, "run", "-c", "Release", "--no-build");

        Assert.True(File.Exists(Path.Combine(packages, "compiled", PackageVersion, $"compiled.{PackageVersion}.nupkg")),
            "The consumer did not restore Compiled from the test feed into its private package folder.");
        float before = ReadNumber(output, "loss-before");
        float after = ReadNumber(output, "loss-after");
        float accuracy = ReadNumber(output, "accuracy");
        Assert.True(float.IsFinite(before) && float.IsFinite(after), output);
        // Three separable classes: 40 epochs of Adam must cut the loss at least in half and classify most samples.
        Assert.True(after < 0.5f * before, $"The loss did not decrease enough: {before} → {after}.{Environment.NewLine}{output}");
        Assert.True(accuracy >= 0.9f, $"Accuracy after training is {accuracy}.{Environment.NewLine}{output}");

        // 5. A bad definition in the consumer: the error carries the help link the package set (the compiler prints it
        //    after the message), to the README of the commit the package was packed from.
        File.WriteAllText(Path.Combine(consumer, "Broken.cs"), """
            using Compiled;
            [Input(4)] [Dense(0)] [Loss(Loss.MeanSquaredError)]
            public partial class Broken;
            """);
        (int exitCode, string broken) = await RunDotnet(consumer, cancel, environment, "build", "-c", "Release");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error CMP005: ", broken, StringComparison.Ordinal);
        Assert.Contains($"({PublisherRepositoryUrl[..^".git".Length]}/blob/{commit}/README.md#cmp005)", broken, StringComparison.Ordinal);
    }

    /// <summary>The consumer: a small model from the attributes, trained with Fit on three separable classes.</summary>
    private const string ConsumerProgram = """
        using System.Globalization;
        using Compiled;

        // 3 classes of 4 features: class c has feature c near 1, the others near 0, plus noise.
        const int count = 120;
        var random = new Random(3);
        var features = new float[count * 4];
        var labels = new float[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % 3;
            labels[i] = c;
            for (int j = 0; j < 4; j++) features[i * 4 + j] = (j == c ? 1f : 0f) + 0.3f * (random.NextSingle() - 0.5f);
        }
        var data = new Dataset(features, labels, featureSize: 4, targetSize: 1);

        var model = new Tiny(seed: 1);
        var (before, _) = model.Evaluate(data);
        model.Fit(data, epochs: 40, batchSize: 16, optimizer: new Adam(0.01));
        var (after, accuracy) = model.Evaluate(data);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss-before {before}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss-after {after}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy {accuracy}"));

        [Input(4)]
        [Dense(8, Activation.Relu)]
        [Dense(3, Activation.Softmax)]
        [Loss(Loss.SparseCategoricalCrossEntropy)]
        public partial class Tiny;
        """;

    private static float ReadNumber(string output, string key)
    {
        string? line = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"The consumer printed no '{key}' line:{Environment.NewLine}{output}");
        return float.Parse(line![(key.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    private static Task<string> Dotnet(string directory, CancellationToken cancel, params string[] args) =>
        Dotnet(directory, cancel, new Dictionary<string, string>(), args);

    /// <summary>Runs the dotnet CLI in <paramref name="directory"/>; fails the test with its output if it fails.</summary>
    private static async Task<string> Dotnet(string directory, CancellationToken cancel, Dictionary<string, string> environment, params string[] args)
    {
        (int exitCode, string text) = await RunDotnet(directory, cancel, environment, args);
        Assert.True(exitCode == 0,
            $"'dotnet {string.Join(' ', args)}' in {directory} exited with {exitCode}:{Environment.NewLine}{Tail(text)}");
        return text;
    }

    /// <summary>Runs the dotnet CLI in <paramref name="directory"/>: its exit code and output (stdout and stderr).</summary>
    private static async Task<(int ExitCode, string Output)> RunDotnet(string directory, CancellationToken cancel,
        Dictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) info.ArgumentList.Add(arg);
        // The test host may run under MSBuild (dotnet test): its variables would steer the child build.
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(name);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        foreach ((string name, string value) in environment) info.Environment[name] = value;

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet.");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            string partial;
            lock (output) partial = output.ToString();
            throw new TimeoutException($"'dotnet {string.Join(' ', args)}' did not finish within {CommandTimeout.TotalMinutes} minutes:{Environment.NewLine}{Tail(partial)}");
        }
        process.WaitForExit(); // drains the output readers
        string text;
        lock (output) text = output.ToString();
        return (process.ExitCode, text);
    }

    /// <summary>The dotnet that runs this test (DOTNET_HOST_PATH under the SDK), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];
}
