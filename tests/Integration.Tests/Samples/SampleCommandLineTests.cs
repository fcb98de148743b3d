namespace Compiled.Integration.Tests.Samples;

/// <summary>
/// The samples' command lines (System.CommandLine, samples/Shared/SampleCli.cs): <c>--help</c> lists the options and
/// exits 0; a bad value or a missing data directory is one line on standard error and a non-zero exit code, with no
/// stack trace. Each test runs the built sample's dll with <c>dotnet</c>.
/// </summary>
public sealed class SampleCommandLineTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("compiled-sample-cli-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static void Log(string text) => TestContext.Current.TestOutputHelper?.WriteLine(text);

    [Theory]
    [InlineData("Mnist", new[] { "--model", "--epochs", "--batch-size", "--data", "--limit", "--seed", "--save", "--device", "--plot", "--no-plot" })]
    [InlineData("Cifar10", new[] { "--data", "--epochs", "--batch-size", "--limit", "--seed", "--plot", "--no-plot" })]
    [InlineData("AotInference", new[] { "--checkpoint", "--model", "--take" })]
    public async Task HelpExitsZeroAndListsEveryOption(string sample, string[] options)
    {
        var (exit, output, error) = await SampleProcess.Run(sample, _work, "--help");
        Log(output);
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        foreach (string option in options)
            Assert.Matches($@"(?m)^\s+{option}\b", output);
        Assert.Contains("Usage:", output);
    }

    [Theory]
    [InlineData("Mnist", new[] { "--epochs", "0" }, "--epochs takes a whole number above zero, not 0.")]
    [InlineData("Mnist", new[] { "--batch-size", "-64" }, "--batch-size takes a whole number above zero, not -64.")]
    [InlineData("Mnist", new[] { "--model", "resnet" }, "resnet")]
    [InlineData("Mnist", new[] { "--epochs", "five" }, "five")]
    [InlineData("Mnist", new[] { "--frobnicate" }, "--frobnicate")]
    [InlineData("Cifar10", new[] { "--data", ".", "--epochs", "0" }, "--epochs takes a whole number above zero, not 0.")]
    [InlineData("Cifar10", new string[0], "--data DIR is required")]
    [InlineData("AotInference", new[] { "--take", "0", "x.png" }, "--take takes a whole number above zero, not 0.")]
    [InlineData("AotInference", new string[0], "images")]
    public async Task BadValueIsOneLineAndAUsageExitCode(string sample, string[] args, string expected)
    {
        var (exit, output, error) = await SampleProcess.Run(sample, _work, args);
        Log($"{sample} {string.Join(' ', args)} → exit {exit}: {error}");
        Assert.Equal(2, exit);
        AssertOneLineError(error, expected);
        Assert.DoesNotContain("Epoch", output, StringComparison.Ordinal); // it stopped before training
    }

    [Theory]
    [InlineData("Mnist")]
    [InlineData("Cifar10")]
    public async Task MissingDataDirectoryIsOneLineAndNonZero(string sample)
    {
        string missing = Path.Combine(_work, "no-such-directory");
        var (exit, _, error) = await SampleProcess.Run(sample, _work, "--data", missing, "--epochs", "1");
        Log($"{sample} --data {missing} → exit {exit}: {error}");
        Assert.NotEqual(0, exit);
        AssertOneLineError(error, $"there is no directory '{missing}'");
    }

    [Theory]
    [InlineData("Mnist", "train-images-idx3-ubyte")]
    [InlineData("Cifar10", "data_batch_1.bin")]
    public async Task DataDirectoryWithoutTheFilesIsOneLineAndNonZero(string sample, string named)
    {
        string empty = Directory.CreateDirectory(Path.Combine(_work, "empty")).FullName;
        var (exit, _, error) = await SampleProcess.Run(sample, _work, "--data", empty, "--epochs", "1");
        Log($"{sample} --data {empty} → exit {exit}: {error}");
        Assert.Equal(1, exit);
        AssertOneLineError(error, named);
    }

    private static void AssertOneLineError(string error, string expected)
    {
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"Expected one line on standard error, got {lines.Length}:{Environment.NewLine}{error}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }
}
