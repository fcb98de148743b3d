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
    [InlineData("CharRnn", new[] { "--epochs", "--minutes", "--seed", "--temperature", "--prompt", "--length", "--batch-size", "--data", "--limit", "--plot", "--no-plot" })]
    [InlineData("Autoencoder", new[] { "--epochs", "--batch-size", "--limit", "--seed", "--data", "--output", "--plot", "--no-plot" })]
    [InlineData("Regression", new[] { "--epochs", "--seed", "--data", "--plot", "--no-plot", "<all|linear|logistic|softmax>" })]
    public async Task HelpExitsZeroAndListsEveryOption(string sample, string[] options)
    {
        var (exit, output, error) = await SampleProcess.Run(sample, _work, "--help");
        Log(output);
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        foreach (string option in options)
            Assert.Matches($@"(?m)^\s+{System.Text.RegularExpressions.Regex.Escape(option)}(?=\s)", output);
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
    [InlineData("CharRnn", new[] { "--temperature", "0" }, "--temperature takes a number above zero, not 0.")]
    [InlineData("CharRnn", new[] { "--temperature", "-0.5" }, "--temperature takes a number above zero, not -0.5.")]
    [InlineData("CharRnn", new[] { "--minutes", "0" }, "--minutes takes a number above zero, not 0.")]
    [InlineData("CharRnn", new[] { "--minutes", "soon" }, "soon")]
    [InlineData("CharRnn", new[] { "--length", "0" }, "--length takes a whole number above zero, not 0.")]
    [InlineData("CharRnn", new[] { "--limit", "-5" }, "--limit takes a whole number above zero, not -5.")]
    [InlineData("Autoencoder", new[] { "--epochs", "0" }, "--epochs takes a whole number above zero, not 0.")]
    [InlineData("Autoencoder", new[] { "--batch-size", "many" }, "many")]
    [InlineData("Autoencoder", new[] { "--frobnicate" }, "--frobnicate")]
    [InlineData("Regression", new[] { "quadratic" }, "quadratic")]
    [InlineData("Regression", new[] { "linear", "--epochs", "-3" }, "--epochs takes a whole number above zero, not -3.")]
    [InlineData("Regression", new[] { "--seed", "0" }, "--seed takes a whole number above zero, not 0.")]
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
    [InlineData("Autoencoder")]
    [InlineData("Regression")]
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
    [InlineData("Autoencoder", "train-images-idx3-ubyte")]
    [InlineData("Regression", "breast_cancer.csv")] // after the linear part, which needs no file
    public async Task DataDirectoryWithoutTheFilesIsOneLineAndNonZero(string sample, string named)
    {
        string empty = Directory.CreateDirectory(Path.Combine(_work, "empty")).FullName;
        var (exit, _, error) = await SampleProcess.Run(sample, _work, "--data", empty, "--epochs", "1");
        Log($"{sample} --data {empty} → exit {exit}: {error}");
        Assert.Equal(1, exit);
        AssertOneLineError(error, named);
    }

    [Fact]
    public async Task CharRnnMissingCorpusIsOneLineAndUsageExit()
    {
        string missing = Path.Combine(_work, "no-such-corpus.txt");
        var (exit, output, error) = await SampleProcess.Run("CharRnn", _work, "--data", missing, "--minutes", "0.01");
        Log($"CharRnn --data {missing} → exit {exit}: {error}");
        Assert.Equal(2, exit);
        AssertOneLineError(error, $"--data: there is no file '{missing}'");
        Assert.Equal("", output);
    }

    /// <summary>A corpus whose characters are not the model's 65, and a prompt character outside the corpus, stop the run before training.</summary>
    [Fact]
    public async Task CharRnnInputThatDoesNotFitIsOneLineAndExitOne()
    {
        string small = Path.Combine(_work, "abc.txt");
        File.WriteAllText(small, string.Concat(Enumerable.Repeat("abc abc cab\n", 100)));
        var (exit, output, error) = await SampleProcess.Run("CharRnn", _work, "--data", small, "--minutes", "0.01");
        Log($"CharRnn --data abc.txt → exit {exit}: {error}");
        Assert.Equal(1, exit);
        AssertOneLineError(error, "has 5 distinct characters, but the model takes 65 ids");
        Assert.DoesNotContain("epoch", output, StringComparison.Ordinal);

        (exit, output, error) = await SampleProcess.Run("CharRnn", _work, "--prompt", "ROMEO€", "--minutes", "0.01");
        Log($"CharRnn --prompt ROMEO€ → exit {exit}: {error}");
        Assert.Equal(1, exit);
        AssertOneLineError(error, "'€' (U+20AC) at position 5");
        Assert.DoesNotContain("epoch", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Each sample run with tiny settings prints its model's summary first (Keras's layout, the total parameter count) and
    /// writes its history plot, a PNG, where <c>--plot</c> says (Regression: one per part, named after the part).
    /// </summary>
    [Theory]
    [InlineData("CharRnn", new[] { "--limit", "3000", "--epochs", "2", "--length", "20", "--plot", "curves.png" }, "curves.png", "Total params: 111,873")]
    [InlineData("Autoencoder", new[] { "--limit", "600", "--epochs", "2" }, "history.png", "Total params: 209,968")]
    [InlineData("Regression", new[] { "linear", "--epochs", "5" }, "history-linear.png", "Total params: 6 ")]
    [InlineData("Regression", new[] { "softmax", "--epochs", "3", "--plot", "iris.png" }, "iris-softmax.png", "Total params: 15 ")]
    public async Task TinyRunPrintsTheSummaryAndWritesThePlot(string sample, string[] args, string plot, string parameters)
    {
        var (exit, output, error) = await SampleProcess.Run(sample, _work, args);
        Log($"{sample} {string.Join(' ', args)} → exit {exit}{Environment.NewLine}{output}{error}");
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        int summary = output.IndexOf(" Layer (type)", StringComparison.Ordinal);
        Assert.True(summary >= 0, "no model summary");
        Assert.Contains(parameters, output, StringComparison.Ordinal);
        int firstEpoch = output.IndexOf("epoch", StringComparison.OrdinalIgnoreCase);
        Assert.True(firstEpoch < 0 || summary < firstEpoch, "the summary comes after training started");
        Assert.Contains($"Wrote {plot}: loss", output, StringComparison.Ordinal);
        byte[] png = File.ReadAllBytes(Path.Combine(_work, plot));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 5000, $"{plot} holds only {png.Length} bytes");
    }

    [Fact]
    public async Task NoPlotWritesNoPicture()
    {
        var (exit, output, _) = await SampleProcess.Run("Regression", _work, "linear", "--epochs", "3", "--no-plot");
        Assert.Equal(0, exit);
        Assert.Contains("linear:", output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_work, "*.png"));
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
