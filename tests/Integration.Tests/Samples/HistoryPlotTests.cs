using Compiled.Plotting;
using SkiaSharp;

namespace Compiled.Integration.Tests.Samples;

/// <summary>
/// history.png (Compiled.Plotting, ScottPlot): the file decodes as a PNG of the asked size, and it is a picture of
/// curves, not a blank or single-colour image: many colours, and both series' colours (ScottPlot's C0 blue for train,
/// C1 orange for validation) in each of its two panels (loss left, accuracy right).
/// </summary>
public sealed class HistoryPlotTests : IDisposable
{
    private static readonly SKColor Train = new(0x1f, 0x77, 0xb4), Validation = new(0xff, 0x7f, 0x0e);

    private readonly string _work = Directory.CreateTempSubdirectory("compiled-plot-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static EpochMetrics[] Epochs(int count, bool validation = true, bool accuracy = true) =>
        Enumerable.Range(1, count).Select(e => new EpochMetrics(e, Loss: 1.0 / e, Accuracy: accuracy ? 1 - 0.5 / e : double.NaN,
            ValidationLoss: validation ? 1.1 / e + 0.02 : null, ValidationAccuracy: validation && accuracy ? 1 - 0.55 / e : null,
            LearningRate: 1e-3, Duration: TimeSpan.FromSeconds(1), Samples: 100)).ToArray();

    [Fact]
    public void PlotOfTrainAndValidationDecodesAndShowsBothSeriesInBothPanels()
    {
        string path = Path.Combine(_work, "history.png");
        Epochs(8).SavePlot(path, width: 900, height: 360);

        using SKBitmap bitmap = Decode(path);
        Assert.Equal(900, bitmap.Width);
        Assert.Equal(360, bitmap.Height);
        int colours = DistinctColours(bitmap, 0, bitmap.Width);
        int leftTrain = Count(bitmap, Train, 0, 450), leftValidation = Count(bitmap, Validation, 0, 450);
        int rightTrain = Count(bitmap, Train, 450, 900), rightValidation = Count(bitmap, Validation, 450, 900);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{new FileInfo(path).Length:N0} bytes, {colours} colours; train/validation pixels: loss panel {leftTrain}/{leftValidation}, accuracy panel {rightTrain}/{rightValidation}");
        Assert.True(new FileInfo(path).Length > 5_000, "a PNG of two panels with text is more than 5 KB");
        Assert.True(colours > 50, $"{colours} distinct colours: text and antialiased lines give many");
        // A line of 2 px over 7 epochs plus markers covers hundreds of pixels of its colour (a legend swatch alone, tens).
        Assert.All(new[] { leftTrain, leftValidation, rightTrain, rightValidation }, n => Assert.True(n > 150, $"only {n} pixels of a series' colour"));
    }

    [Fact]
    public void PlotWithoutValidationOrAccuracyHasOnlyTheTrainingLoss()
    {
        string path = Path.Combine(_work, "loss.png");
        Epochs(5, validation: false, accuracy: false).SavePlot(path, width: 600, height: 300);
        using SKBitmap bitmap = Decode(path);
        Assert.True(Count(bitmap, Train, 0, 600) > 150, "the training loss line is drawn");
        Assert.Equal(0, Count(bitmap, Validation, 0, 600));
    }

    [Fact]
    public void BadArgumentsAreRefusedNamingThem()
    {
        Assert.Equal("history", Assert.Throws<ArgumentException>(() => Array.Empty<EpochMetrics>().SavePlot(Path.Combine(_work, "x.png"))).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Epochs(2).SavePlot(Path.Combine(_work, "x.png"), width: 10)).ParamName);
        string missing = Path.Combine(_work, "no-such-directory", "x.png");
        var e = Assert.Throws<DirectoryNotFoundException>(() => Epochs(2).SavePlot(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MnistSampleWritesHistoryPngAndNoPlotWritesNone()
    {
        string plot = Path.Combine(_work, "curves.png");
        var (exit, output, error) = await SampleProcess.Run("Mnist", _work,
            "--epochs", "2", "--limit", "2000", "--plot", plot, "--save", Path.Combine(_work, "mnist.safetensors"));
        TestContext.Current.TestOutputHelper?.WriteLine(output + error);
        Assert.Equal(0, exit);
        Assert.Contains($"Wrote {plot}", output, StringComparison.Ordinal);
        using (SKBitmap bitmap = Decode(plot))
        {
            Assert.Equal((1000, 400), (bitmap.Width, bitmap.Height));
            Assert.True(DistinctColours(bitmap, 0, bitmap.Width) > 50);
            Assert.True(Count(bitmap, Train, 0, 500) > 100 && Count(bitmap, Validation, 0, 500) > 100, "both loss lines");
        }

        (exit, output, error) = await SampleProcess.Run("Mnist", _work, "--epochs", "1", "--limit", "500", "--no-plot",
            "--save", Path.Combine(_work, "mnist.safetensors"));
        Assert.Equal(0, exit);
        Assert.False(File.Exists(Path.Combine(_work, "history.png")), "--no-plot wrote the default history.png");
    }

    private static SKBitmap Decode(string path)
    {
        Assert.True(File.Exists(path), $"no {path}");
        using var codec = SKCodec.Create(path);
        Assert.NotNull(codec);
        Assert.Equal(SKEncodedImageFormat.Png, codec.EncodedFormat);
        return SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path} does not decode.");
    }

    /// <summary>Pixels in columns [from, to) within a small distance of <paramref name="colour"/>.</summary>
    private static int Count(SKBitmap bitmap, SKColor colour, int from, int to)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = from; x < to; x++)
            {
                SKColor c = bitmap.GetPixel(x, y);
                if (Math.Abs(c.Red - colour.Red) + Math.Abs(c.Green - colour.Green) + Math.Abs(c.Blue - colour.Blue) <= 24) n++;
            }
        return n;
    }

    private static int DistinctColours(SKBitmap bitmap, int from, int to)
    {
        var seen = new HashSet<uint>();
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = from; x < to; x++) seen.Add((uint)bitmap.GetPixel(x, y));
        return seen.Count;
    }
}
