using System.Globalization;
using System.Text.RegularExpressions;
using SkiaSharp;

namespace Compiled.Integration.Tests.Samples;

/// <summary>
/// samples/AotInference (run here as its JIT build; CI runs its NativeAOT publish): it loads a checkpoint written by
/// <c>Save</c> and prints, for every image given (PNG files, IDX files), the class and probability that the same model
/// computes in this process.
/// </summary>
public sealed partial class AotInferenceTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("compiled-aot-inference-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [GeneratedRegex(@"^(?<name>.+?)(?<inverted> \(inverted\))?: (?<class>\d) \(p = (?<p>[0-9.]+)\)$")]
    private static partial Regex PredictionLine();

    [Fact]
    public async Task PrintsTheModelsClassAndProbabilityForIdxAndPngImages()
    {
        var (train, _) = MnistTests.s_mnist.Value;
        var model = new MnistMlp(seed: 1);
        model.Fit(train.Take(3000), epochs: 1, batchSize: 64, optimizer: new Adam(2e-3), seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        string checkpoint = Path.Combine(_work, "mnist.safetensors");
        model.Save(checkpoint);

        string idx = Path.Combine(RepoPaths.MnistDirectory, "t10k-images-idx3-ubyte.gz");
        MnistImages test = Mnist.ReadImages(idx);
        string digits = Path.Combine(RepoPaths.Root, "samples", "AotInference", "digits");
        // A third PNG: test image 2 as a black digit on a transparent background (RGBA), as drawing programs save one.
        string transparent = Path.Combine(_work, "transparent.png");
        using (var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Rgba8888, SKAlphaType.Unpremul)))
        {
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    bitmap.SetPixel(x, y, new SKColor(0, 0, 0, (byte)MathF.Round(test.Pixels[2 * 784 + y * 28 + x] * 255)));
            using var stream = File.Create(transparent);
            Assert.True(bitmap.Encode(stream, SKEncodedImageFormat.Png, 100));
        }

        var (exit, output, error) = await SampleProcess.Run("AotInference", _work, "--checkpoint", checkpoint, idx, "--take", "20",
            Path.Combine(digits, "seven.png"), Path.Combine(digits, "two-dark-on-light-112px.png"), transparent);
        TestContext.Current.TestOutputHelper?.WriteLine(output + error);
        Assert.Equal(0, exit);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(23, lines.Length);

        // Which test image each printed line shows: the IDX's first 20, then the PNGs of images 0, 1 and 2.
        int[] images = [.. Enumerable.Range(0, 20), 0, 1, 2];
        bool[] inverted = [.. Enumerable.Repeat(false, 20), false, true, true];
        var probabilities = new float[10];
        double maxError = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            Match m = PredictionLine().Match(lines[i]);
            Assert.True(m.Success, $"not a prediction line: {lines[i]}");
            Assert.Equal(inverted[i], m.Groups["inverted"].Success);
            if (i < 20) Assert.Equal($"{idx}[{i}]", m.Groups["name"].Value);
            model.Predict(test.Pixels.AsSpan(images[i] * 784, 784), probabilities);
            int expected = Array.IndexOf(probabilities, probabilities.Max());
            Assert.Equal(expected, int.Parse(m.Groups["class"].Value, CultureInfo.InvariantCulture));
            double printed = double.Parse(m.Groups["p"].Value, CultureInfo.InvariantCulture);
            maxError = Math.Max(maxError, Math.Abs(printed - probabilities[expected]));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"max |printed p - in-process p| = {maxError:E2} (printed with 4 decimals)");
        Assert.True(maxError <= 5e-5 + 1e-6, $"max error {maxError}");
    }

    [Fact]
    public async Task AFileThatIsNeitherPngNorIdxIsOneLineAndNonZero()
    {
        var model = new MnistMlp(seed: 1);
        string checkpoint = Path.Combine(_work, "mnist.safetensors");
        model.Save(checkpoint);
        string text = Path.Combine(_work, "notes.txt");
        File.WriteAllText(text, "not an image");

        var (exit, _, error) = await SampleProcess.Run("AotInference", _work, "--checkpoint", checkpoint, text);
        Assert.Equal(1, exit);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(text, line, StringComparison.Ordinal);

        (exit, _, error) = await SampleProcess.Run("AotInference", _work, "--checkpoint", Path.Combine(_work, "missing.safetensors"), text);
        Assert.Equal(1, exit);
        Assert.Contains("missing.safetensors", Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }
}
